//! The dot products of a tile of row pairs, each one summed in a fixed order.
//!
//! Every product a·b is one chain of fused multiply-adds over the columns in order, from 0:
//! `s = fma(a[0], b[0], 0); s = fma(a[1], b[1], s); …`. That order depends on nothing but the
//! two rows, so a product, and every distance built on it, has the same bits whatever else is
//! in the call: other rows, tile shapes, batch sizes, threads, the vector unit (SEMANTICS.md,
//! "Shape invariance"). It is also the order of the CUDA kernels' tiles (`tk_dot_tile`).
//!
//! The loops are BLIS's: the right operand packed in panels of NR rows and the left one in
//! slivers of MR rows, both laid out column by column, and a micro-kernel holding MR × NR sums
//! in registers while it walks the columns. The
//! columns go KC at a time so a panel stays in L1; a partial sum is stored in `out` and
//! loaded again, which continues the same chain exactly (f32 storage is exact).

use std::cell::RefCell;

/// `out[i·stride + j] = Σ_c a[i·k + c] · b[j·k + c]` for i < m, j < n, each sum a chain of
/// fused multiply-adds in column order from 0. `a` holds m rows of k floats, `b` n rows.
pub fn dot_tile(
    a: &[f32],
    m: usize,
    b: &[f32],
    n: usize,
    k: usize,
    out: &mut [f32],
    stride: usize,
) {
    assert!(
        a.len() >= m * k
            && b.len() >= n * k
            && stride >= n
            && (m == 0 || out.len() >= (m - 1) * stride + n),
        "dot tile out of range"
    );
    if m == 0 || n == 0 {
        return;
    }
    let t = Tile {
        a,
        m,
        b,
        n,
        k,
        stride,
    };
    if k == 0 {
        return t.zero(out);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx512() {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { x86::tile_avx512(&t, out) };
        }
        if x86::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { x86::tile_avx2(&t, out) };
        }
    }
    tile_portable(&t, out);
}

/// One call's operands.
struct Tile<'a> {
    a: &'a [f32],
    m: usize,
    b: &'a [f32],
    n: usize,
    k: usize,
    stride: usize,
}

impl Tile<'_> {
    fn zero(&self, out: &mut [f32]) {
        for row in out.chunks_mut(self.stride).take(self.m) {
            row[..self.n].fill(0.0);
        }
    }
}

/// A micro-kernel's block of sums: `ld` floats a row, loaded first unless `fresh` (then the
/// chains start from 0).
struct Block {
    c: *mut f32,
    ld: usize,
    fresh: bool,
}

thread_local! {
    /// The packed panels, kept between calls so a tile does not allocate.
    static PANELS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The packed slivers of the left operand, likewise.
    static SLIVERS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The loops around a micro-kernel of MR × NR sums, KC columns a pass.
/// - `pack_full(rows, k, kc, panel)` packs kc columns of NR whole rows, as `pack` does
///   (`rows` starts at the first row's first column; rows are k floats apart).
/// - `micro(kc, sliver, panel, block)` continues the chains of an MR × NR block over kc
///   columns: the sliver kc steps of MR floats, the panel kc steps of NR floats.
#[inline(always)]
fn run<const MR: usize, const NR: usize, const KC: usize>(
    t: &Tile,
    out: &mut [f32],
    pack_full: impl Fn(&[f32], usize, usize, &mut [f32]),
    micro: impl Fn(usize, *const f32, *const f32, Block),
) {
    let (m, n, k, stride) = (t.m, t.n, t.k, t.stride);
    let panels = n.div_ceil(NR);
    PANELS.with(|cell| {
        SLIVERS.with(|sl| {
            let mut packed = cell.borrow_mut();
            let packed = aligned(&mut packed, panels * NR * KC.min(k));
            let mut slivers = sl.borrow_mut();
            let slivers = aligned(&mut slivers, m.div_ceil(MR) * MR * KC.min(k));
            let out = out.as_mut_ptr();
            for c0 in (0..k).step_by(KC) {
                let kc = KC.min(k - c0);
                let packed = &mut packed[..panels * NR * kc];
                pack(t.b, n, k, c0, kc, NR, packed, &pack_full);
                pack_slivers::<MR>(t.a, m, k, c0, kc, &mut slivers[..m.div_ceil(MR) * MR * kc]);
                for (p, panel) in packed.chunks(NR * kc).enumerate() {
                    let j0 = p * NR;
                    let cols = NR.min(n - j0);
                    for i0 in (0..m).step_by(MR) {
                        let rows = MR.min(m - i0);
                        let sliver = slivers[i0 * kc..].as_ptr();
                        // SAFETY: `dot_tile` checked that `out` holds m rows of n at `stride`.
                        let at = unsafe { out.add(i0 * stride + j0) };
                        let fresh = c0 == 0;
                        if rows == MR && cols == NR {
                            let block = Block {
                                c: at,
                                ld: stride,
                                fresh,
                            };
                            micro(kc, sliver, panel.as_ptr(), block);
                            continue;
                        }
                        // An edge block: through a full-size copy.
                        let mut c = [[0.0f32; NR]; MR];
                        for (r, cr) in c.iter_mut().enumerate().take(if fresh { 0 } else { rows }) {
                            // SAFETY: row i0 + r < m, columns j0..j0 + cols < n.
                            let src =
                                unsafe { std::slice::from_raw_parts(at.add(r * stride), cols) };
                            cr[..cols].copy_from_slice(src);
                        }
                        let block = Block {
                            c: c.as_mut_ptr().cast(),
                            ld: NR,
                            fresh,
                        };
                        micro(kc, sliver, panel.as_ptr(), block);
                        for (r, cr) in c.iter().enumerate().take(rows) {
                            // SAFETY: as above.
                            let dst =
                                unsafe { std::slice::from_raw_parts_mut(at.add(r * stride), cols) };
                            dst.copy_from_slice(&cr[..cols]);
                        }
                    }
                }
            }
        })
    });
}

/// `len` floats of `buf` starting on a 64-byte boundary, so that vector loads of a panel
/// never straddle two cache lines.
fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len + 16 {
        buf.resize(len + 16, 0.0);
    }
    let skip = buf.as_ptr().align_offset(64).min(16);
    &mut buf[skip..skip + len]
}

/// Packs columns c0..c0 + kc of the m rows of `a` (row length k) into slivers of MR rows, each
/// laid out column by column (MR floats a column); rows past m repeat the last row (their sums
/// are computed and not stored).
fn pack_slivers<const MR: usize>(
    a: &[f32],
    m: usize,
    k: usize,
    c0: usize,
    kc: usize,
    out: &mut [f32],
) {
    for (s, sliver) in out.chunks_exact_mut(MR * kc).enumerate() {
        let rows: [&[f32]; MR] = std::array::from_fn(|r| {
            let i = (s * MR + r).min(m - 1);
            &a[i * k + c0..i * k + c0 + kc]
        });
        for (cc, col) in sliver.chunks_exact_mut(MR).enumerate() {
            for (v, row) in col.iter_mut().zip(&rows) {
                *v = row[cc];
            }
        }
    }
}

/// Packs columns c0..c0 + kc of the n rows of `b` (row length k) into panels of `nr` rows,
/// each laid out column by column (`nr` floats a column); rows past n are zeros.
#[allow(clippy::too_many_arguments)]
fn pack(
    b: &[f32],
    n: usize,
    k: usize,
    c0: usize,
    kc: usize,
    nr: usize,
    out: &mut [f32],
    pack_full: &impl Fn(&[f32], usize, usize, &mut [f32]),
) {
    for (p, panel) in out.chunks_mut(nr * kc).enumerate() {
        let first = p * nr * k + c0;
        let rows = nr.min(n - p * nr);
        if rows == nr {
            pack_full(&b[first..first + (nr - 1) * k + kc], k, kc, panel);
        } else {
            panel.fill(0.0);
            pack_rows(&b[first..], rows, k, kc, nr, panel);
        }
    }
}

/// Packs kc columns of `count` rows (the first at `rows[0]`, k floats apart) into `panel`,
/// `nr` floats a column, one element at a time.
fn pack_rows(rows: &[f32], count: usize, k: usize, kc: usize, nr: usize, panel: &mut [f32]) {
    for r in 0..count {
        for (cc, &v) in rows[r * k..r * k + kc].iter().enumerate() {
            panel[cc * nr + r] = v;
        }
    }
}

/// Any CPU: `mul_add` is one fused multiply-add (an instruction where the CPU has one).
fn tile_portable(t: &Tile, out: &mut [f32]) {
    const MR: usize = 4;
    const NR: usize = 8;
    let pack_full = |rows: &[f32], k, kc, panel: &mut [f32]| pack_rows(rows, NR, k, kc, NR, panel);
    run::<MR, NR, 256>(t, out, pack_full, |kc, sliver, panel, blk| {
        // SAFETY: `run` hands kc steps of MR floats in the sliver and of NR floats in the
        // panel, and a block of MR rows of NR floats at row stride `blk.ld`.
        unsafe {
            let mut acc = [[0.0f32; NR]; MR];
            if !blk.fresh {
                for (r, ar) in acc.iter_mut().enumerate() {
                    ar.copy_from_slice(std::slice::from_raw_parts(blk.c.add(r * blk.ld), NR));
                }
            }
            for cc in 0..kc {
                let bv = std::slice::from_raw_parts(panel.add(cc * NR), NR);
                for (r, ar) in acc.iter_mut().enumerate() {
                    let av = *sliver.add(cc * MR + r);
                    for (s, &bj) in ar.iter_mut().zip(bv) {
                        *s = av.mul_add(bj, *s);
                    }
                }
            }
            for (r, ar) in acc.iter().enumerate() {
                std::slice::from_raw_parts_mut(blk.c.add(r * blk.ld), NR).copy_from_slice(ar);
            }
        }
    });
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{pack_rows, run, Tile};
    use std::arch::x86_64::*;

    pub(super) fn has_avx512() -> bool {
        is_x86_feature_detected!("avx512f")
    }
    pub(super) fn has_avx2() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// 6 × 64 sums in 24 zmm registers; a 64-row panel of 128 columns is 32 KiB (L1).
    #[target_feature(enable = "avx512f")]
    pub(super) fn tile_avx512(t: &Tile, out: &mut [f32]) {
        const MR: usize = 6;
        const NR: usize = 64;
        const V: usize = NR / 16;
        let pack_full = |rows: &[f32], k: usize, kc: usize, panel: &mut [f32]| {
            pack_transposed::<NR>(rows, k, kc, panel)
        };
        run::<MR, NR, 128>(t, out, pack_full, |kc, sliver, panel, blk| {
            // SAFETY: AVX-512F is enabled; `run` hands kc steps of MR floats in the
            // sliver and of NR floats in the panel, and a block of MR rows of NR floats at
            // row stride `blk.ld`.
            unsafe {
                let mut acc = [[_mm512_setzero_ps(); V]; MR];
                if !blk.fresh {
                    for (r, ar) in acc.iter_mut().enumerate() {
                        for (v, s) in ar.iter_mut().enumerate() {
                            *s = _mm512_loadu_ps(blk.c.add(r * blk.ld + 16 * v));
                        }
                    }
                }
                for cc in 0..kc {
                    let b: [__m512; V] =
                        std::array::from_fn(|v| _mm512_loadu_ps(panel.add(cc * NR + 16 * v)));
                    for (r, ar) in acc.iter_mut().enumerate() {
                        let av = _mm512_set1_ps(*sliver.add(cc * MR + r));
                        for (s, &bv) in ar.iter_mut().zip(&b) {
                            *s = _mm512_fmadd_ps(av, bv, *s);
                        }
                    }
                }
                for (r, ar) in acc.iter().enumerate() {
                    for (v, &s) in ar.iter().enumerate() {
                        _mm512_storeu_ps(blk.c.add(r * blk.ld + 16 * v), s);
                    }
                }
            }
        });
    }

    /// `pack`'s whole panel of NR rows, 16 rows × 16 columns at a time: whole cache lines
    /// loaded from each row (a gather per column left the loads of a corpus from memory
    /// exposed: a fifth of knn's GEMM time at d = 768), transposed in registers.
    #[target_feature(enable = "avx512f")]
    fn pack_transposed<const NR: usize>(rows: &[f32], k: usize, kc: usize, panel: &mut [f32]) {
        assert!(rows.len() >= (NR - 1) * k + kc && panel.len() >= NR * kc);
        for g in (0..NR).step_by(16) {
            for c0 in (0..kc).step_by(16) {
                let width = 16.min(kc - c0);
                let mask: __mmask16 = ((1u32 << width) - 1) as __mmask16;
                // SAFETY: row g + r holds columns c0..c0 + width (asserted above); the mask
                // reads no further.
                let mut r: [__m512; 16] = std::array::from_fn(|i| unsafe {
                    _mm512_maskz_loadu_ps(mask, rows.as_ptr().add((g + i) * k + c0))
                });
                transpose16(&mut r);
                for (j, v) in r.iter().enumerate().take(width) {
                    // SAFETY: column c0 + j < kc; 16 floats from row g of the column's NR.
                    unsafe { _mm512_storeu_ps(panel.as_mut_ptr().add((c0 + j) * NR + g), *v) };
                }
            }
        }
    }

    /// Transposes 16 × 16 floats held as 16 rows: afterwards `r[j]` holds column j.
    #[target_feature(enable = "avx512f")]
    fn transpose16(r: &mut [__m512; 16]) {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in (0..16).step_by(2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        for i in (0..16).step_by(4) {
            r[i] = _mm512_shuffle_ps::<0x44>(t[i], t[i + 2]);
            r[i + 1] = _mm512_shuffle_ps::<0xee>(t[i], t[i + 2]);
            r[i + 2] = _mm512_shuffle_ps::<0x44>(t[i + 1], t[i + 3]);
            r[i + 3] = _mm512_shuffle_ps::<0xee>(t[i + 1], t[i + 3]);
        }
        for h in [0, 8] {
            for i in 0..4 {
                t[h + i] = _mm512_shuffle_f32x4::<0x88>(r[h + i], r[h + 4 + i]);
                t[h + 4 + i] = _mm512_shuffle_f32x4::<0xdd>(r[h + i], r[h + 4 + i]);
            }
        }
        for i in 0..8 {
            r[i] = _mm512_shuffle_f32x4::<0x88>(t[i], t[8 + i]);
            r[8 + i] = _mm512_shuffle_f32x4::<0xdd>(t[i], t[8 + i]);
        }
    }

    #[cfg(test)]
    #[test]
    fn transpose16_gives_columns() {
        if !has_avx512() {
            return;
        }
        let m: Vec<f32> = (0..256).map(|v| v as f32).collect();
        // SAFETY: the CPU has AVX-512F (checked above); each load reads 16 of the 256 floats.
        let cols = unsafe {
            let mut r: [__m512; 16] =
                std::array::from_fn(|i| _mm512_loadu_ps(m.as_ptr().add(16 * i)));
            transpose16(&mut r);
            r.map(|v| std::mem::transmute::<__m512, [f32; 16]>(v))
        };
        for (j, col) in cols.iter().enumerate() {
            let want: Vec<f32> = (0..16).map(|i| (16 * i + j) as f32).collect();
            assert_eq!(col.to_vec(), want, "column {j}");
        }
    }

    /// 6 × 16 sums in 12 ymm registers; a 16-row panel of 256 columns is 16 KiB.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn tile_avx2(t: &Tile, out: &mut [f32]) {
        const MR: usize = 6;
        const NR: usize = 16;
        const V: usize = NR / 8;
        let pack_full = |rows: &[f32], k: usize, kc: usize, panel: &mut [f32]| {
            if (NR - 1) * k > i32::MAX as usize {
                return pack_rows(rows, NR, k, kc, NR, panel);
            }
            // SAFETY: AVX2 is enabled; as in `tile_avx512`.
            unsafe {
                let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                let first = _mm256_mullo_epi32(lanes, _mm256_set1_epi32(k as i32));
                let idx = [
                    first,
                    _mm256_add_epi32(first, _mm256_set1_epi32(8 * k as i32)),
                ];
                for cc in 0..kc {
                    let base = rows.as_ptr().add(cc);
                    let dst = panel.as_mut_ptr().add(cc * NR);
                    for (v, &iv) in idx.iter().enumerate() {
                        _mm256_storeu_ps(dst.add(8 * v), _mm256_i32gather_ps::<4>(base, iv));
                    }
                }
            }
        };
        run::<MR, NR, 256>(t, out, pack_full, |kc, sliver, panel, blk| {
            // SAFETY: AVX2 and FMA are enabled; as in `tile_avx512`.
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); V]; MR];
                if !blk.fresh {
                    for (r, ar) in acc.iter_mut().enumerate() {
                        for (v, s) in ar.iter_mut().enumerate() {
                            *s = _mm256_loadu_ps(blk.c.add(r * blk.ld + 8 * v));
                        }
                    }
                }
                for cc in 0..kc {
                    let b: [__m256; V] =
                        std::array::from_fn(|v| _mm256_loadu_ps(panel.add(cc * NR + 8 * v)));
                    for (r, ar) in acc.iter_mut().enumerate() {
                        let av = _mm256_set1_ps(*sliver.add(cc * MR + r));
                        for (s, &bv) in ar.iter_mut().zip(&b) {
                            *s = _mm256_fmadd_ps(av, bv, *s);
                        }
                    }
                }
                for (r, ar) in acc.iter().enumerate() {
                    for (v, &s) in ar.iter().enumerate() {
                        _mm256_storeu_ps(blk.c.add(r * blk.ld + 8 * v), s);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::lcg;

    /// The definition: one fused chain per product, in column order from 0.
    fn chain(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).fold(0.0f32, |s, (&x, &y)| x.mul_add(y, s))
    }

    fn check(kernel: fn(&Tile, &mut [f32]), name: &str) {
        let mut seed = 3u64;
        for &(m, n, k) in &[
            (1, 1, 1),
            (1, 37, 5),
            (13, 1, 300),
            (7, 9, 256),
            (25, 33, 257),
            (31, 65, 513),
            (64, 64, 128),
            (6, 128, 129),
        ] {
            // Magnitudes spread over several decades, so a different order would show.
            let mut val = || lcg(&mut seed) * 10f32.powi((lcg(&mut seed) * 6.0) as i32);
            let a: Vec<f32> = (0..m * k).map(|_| val()).collect();
            let b: Vec<f32> = (0..n * k).map(|_| val()).collect();
            let stride = n + 3;
            let mut out = vec![f32::NAN; m * stride];
            let t = Tile {
                a: &a,
                m,
                b: &b,
                n,
                k,
                stride,
            };
            kernel(&t, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let want = chain(&a[i * k..(i + 1) * k], &b[j * k..(j + 1) * k]);
                    let got = out[i * stride + j];
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{name} {m}x{n}x{k} at ({i}, {j})"
                    );
                }
                assert!(out[i * stride + n].is_nan(), "{name}: wrote past the tile");
            }
        }
    }

    #[test]
    fn every_kernel_sums_each_product_in_column_order() {
        check(tile_portable, "portable");
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY (both): run only where the CPU has the features.
            if x86::has_avx512() {
                check(|t, o| unsafe { x86::tile_avx512(t, o) }, "avx512");
            }
            if x86::has_avx2() {
                check(|t, o| unsafe { x86::tile_avx2(t, o) }, "avx2");
            }
        }
    }

    #[test]
    fn a_product_does_not_depend_on_the_tile_around_it() {
        let mut seed = 5u64;
        let (m, n, k) = (29, 71, 300);
        let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        let mut full = vec![0.0; m * n];
        dot_tile(&a, m, &b, n, k, &mut full, n);
        for i in [0, 13, 28] {
            for j in [0, 17, 70] {
                let mut one = [0.0f32];
                dot_tile(&a[i * k..], 1, &b[j * k..], 1, k, &mut one, 1);
                assert_eq!(one[0].to_bits(), full[i * n + j].to_bits());
            }
        }
    }

    #[test]
    fn empty_columns_give_zeros() {
        let mut out = [7.0f32; 6];
        dot_tile(&[], 2, &[], 3, 0, &mut out, 3);
        assert_eq!(out, [0.0; 6]);
    }
}
