//! Approximate dot products on the AMX tile unit, in bfloat16 with float32 sums.
//!
//! A tile multiply (`tdpbf16ps`) does 16 × 16 × 32 multiply-adds in one instruction, more
//! than ten times what the float32 vector units give a core. Its products are of rows rounded
//! to bfloat16, so they are only approximations, within a bound (`bounds.rs`); the exact
//! distances are computed after, for the few candidates the bound cannot rule out.
//!
//! Layout: the corpus side is the left operand, 16 rows a tile, row-major bf16 (`to_bf16`);
//! the query side is the right one, packed by `pack_queries` in the pairs the unit reads
//! (row p of a tile holds columns 2p and 2p+1 of 16 queries). A block is 32 corpus rows × 32
//! queries: four accumulator tiles. Columns are padded with zeros to a multiple of 32, which
//! adds nothing to the sums.

/// Columns a tile step covers (32 bf16, 64 bytes).
pub const STEP: usize = 32;
/// Rows of each side in a block.
pub const BLOCK: usize = 32;

/// `cols` padded to whole steps.
pub fn padded(cols: usize) -> usize {
    cols.div_ceil(STEP) * STEP
}

/// bfloat16 of `x`, rounded to nearest, ties to even. Inputs are finite; a value past
/// bfloat16's range becomes infinite, which callers rule out by bounding the norms.
#[inline(always)]
pub fn bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1));
    (rounded >> 16) as u16
}

/// The float32 a bfloat16 stands for.
#[inline(always)]
pub fn f32_of(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

crate::runtime::simd::widest! {
    /// Rows of `cols` floats into bf16 rows `width` wide (the tail zeros), less `centre`
    /// where there is one (one float32 subtraction an entry, as `bounds::centred`).
    pub fn to_bf16(src: &[f32], cols: usize, width: usize, centre: Option<&[f32]>, out: &mut [u16]) -> () {
        for (s, o) in src.chunks_exact(cols).zip(out.chunks_exact_mut(width)) {
            match centre {
                Some(m) => {
                    for ((h, &x), &c) in o.iter_mut().zip(s).zip(m) {
                        *h = bf16(x - c);
                    }
                }
                None => {
                    for (h, &x) in o.iter_mut().zip(s) {
                        *h = bf16(x);
                    }
                }
            }
            o[cols..].iter_mut().for_each(|h| *h = 0);
        }
    }
}

/// Queries (`n` rows of `cols`) in the right operand's layout: for each group of 16 queries
/// (the last padded with zero rows) and each step of 32 columns, a 16 × 16 tile of column
/// pairs, `[group][step][pair][query][2]`.
pub fn pack_queries(src: &[f32], n: usize, cols: usize) -> Vec<u16> {
    let width = padded(cols);
    let groups = n.div_ceil(BLOCK) * 2;
    let steps = width / STEP;
    let mut out = vec![0u16; groups * 16 * width];
    for q in 0..n {
        let (g, lane) = (q / 16, q % 16);
        let row = &src[q * cols..(q + 1) * cols];
        for (c, &x) in row.iter().enumerate() {
            let (step, within) = (c / STEP, c % STEP);
            let at = ((g * steps + step) * 16 + within / 2) * 32 + lane * 2 + within % 2;
            out[at] = bf16(x);
        }
    }
    out
}

/// A software model of one block, used where the CPU has no tile unit (tests): each sum in
/// column order, float32, of the bf16 values' exact products.
pub fn block_portable(corpus: &[u16], width: usize, queries: &[u16], out: &mut [f32]) {
    let steps = width / STEP;
    for r in 0..BLOCK {
        for q in 0..BLOCK {
            let (g, lane) = (q / 16, q % 16);
            let mut s = 0.0f32;
            for c in 0..width {
                let (step, within) = (c / STEP, c % STEP);
                let at = ((g * steps + step) * 16 + within / 2) * 32 + lane * 2 + within % 2;
                s += f32_of(corpus[r * width + c]) * f32_of(queries[at]);
            }
            out[r * BLOCK + q] = s;
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod unit {
    use super::{BLOCK, STEP};
    use std::arch::asm;
    use std::sync::OnceLock;

    /// The tile configuration: palette 1, tiles 0–7 of 16 rows × 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        colsb: [u16; 16],
        rows: [u8; 16],
        tail: [u8; 16],
    }

    const CONFIG: Config = Config {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
        tail: [0; 16],
    };

    /// Whether the tile unit can be used: the CPU has AMX-BF16 (CPUID leaf 7), AVX-512 for
    /// the passes around it, and Linux grants the process the tile state (without that grant
    /// the first tile instruction would fault). `TRIPLETKIT_AMX=off` turns it off.
    pub fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            if std::env::var("TRIPLETKIT_AMX").is_ok_and(|v| v == "off" || v == "0") {
                return false;
            }
            // CPUID leaf 7 exists on every x86-64 CPU with AVX-512, checked first.
            let has = std::arch::is_x86_feature_detected!("avx512f") && {
                let leaf = std::arch::x86_64::__cpuid_count(7, 0);
                let (bf16, tile) = (leaf.edx >> 22 & 1, leaf.edx >> 24 & 1);
                bf16 == 1 && tile == 1
            };
            // ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA (Linux 5.16 and later).
            // SAFETY: a plain system call; it fails cleanly on kernels without it.
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            has && unsafe {
                libc::syscall(
                    libc::SYS_arch_prctl,
                    ARCH_REQ_XCOMP_PERM,
                    XFEATURE_XTILEDATA,
                )
            } == 0
        })
    }

    /// The tile registers configured on this thread; released when dropped, so the thread
    /// carries no tile state once the pass is over. Tile state belongs to a thread: a session
    /// is neither `Send` nor `Sync`, and a pass holds one at a time.
    pub struct Session(std::marker::PhantomData<*const ()>);

    impl Session {
        pub fn new() -> Option<Session> {
            if !available() {
                return None;
            }
            // SAFETY: the unit is available and the process holds the tile state.
            unsafe { asm!("ldtilecfg [{0}]", in(reg) &CONFIG as *const Config, options(nostack)) };
            Some(Session(std::marker::PhantomData))
        }

        /// One block: `out[r · 32 + q]` ≈ corpus row r · query q. `corpus` holds 32 bf16 rows
        /// `width` wide; `queries` two groups of packed queries (`pack_queries`).
        pub fn block(&self, corpus: &[u16], width: usize, queries: &[u16], out: &mut [f32]) {
            let steps = width / STEP;
            assert!(
                corpus.len() >= BLOCK * width
                    && queries.len() >= 2 * steps * 512
                    && out.len() >= BLOCK * BLOCK
                    && width.is_multiple_of(STEP),
                "amx block out of range"
            );
            let (a, b, o) = (corpus.as_ptr(), queries.as_ptr(), out.as_mut_ptr());
            let row_bytes = width * 2;
            // SAFETY: every load reads 16 rows of 64 bytes inside `corpus` (rows 0–31, at the
            // step's 64 bytes) or inside `queries` (1 KiB a tile); the stores write 16 rows of
            // 64 bytes inside `out` (128 bytes a row). The tiles were configured by `new`.
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack)
                );
                for s in 0..steps {
                    let a0 = a.add(s * STEP);
                    let a1 = a0.add(16 * width);
                    let b0 = b.add(s * 512);
                    let b1 = b.add((steps + s) * 512);
                    asm!(
                        "tileloadd tmm4, [{a0} + {rs}*1]",
                        "tileloadd tmm5, [{a1} + {rs}*1]",
                        "tileloadd tmm6, [{b0} + {bs}*1]",
                        "tileloadd tmm7, [{b1} + {bs}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        a0 = in(reg) a0,
                        a1 = in(reg) a1,
                        b0 = in(reg) b0,
                        b1 = in(reg) b1,
                        rs = in(reg) row_bytes,
                        bs = in(reg) 64usize,
                        options(nostack, readonly)
                    );
                }
                asm!(
                    "tilestored [{o0} + {os}*1], tmm0",
                    "tilestored [{o1} + {os}*1], tmm1",
                    "tilestored [{o2} + {os}*1], tmm2",
                    "tilestored [{o3} + {os}*1], tmm3",
                    o0 = in(reg) o,
                    o1 = in(reg) o.add(16),
                    o2 = in(reg) o.add(16 * BLOCK),
                    o3 = in(reg) o.add(16 * BLOCK + 16),
                    os = in(reg) BLOCK * 4,
                    options(nostack)
                );
            }
        }
    }

    impl Drop for Session {
        fn drop(&mut self) {
            // SAFETY: releases this thread's tile state, configured by `new`.
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod unit {
    /// No tile unit off x86-64 Linux.
    pub fn available() -> bool {
        false
    }

    pub struct Session(std::marker::PhantomData<*const ()>);

    impl Session {
        pub fn new() -> Option<Session> {
            None
        }
        pub fn block(&self, _: &[u16], _: usize, _: &[u16], _: &mut [f32]) {
            unreachable!("no tile unit")
        }
    }
}

pub use unit::{available, Session};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to even (1).
        assert_eq!(bf16(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to even (1 + 2^-6).
        assert_eq!(f32_of(bf16(1.0 + 3.0 / 256.0)), 1.0 + 1.0 / 64.0);
        assert_eq!(f32_of(bf16(-2.5)), -2.5);
        for x in [0.1f32, -3.7e10, 1e-20, 123.456] {
            assert!((f32_of(bf16(x)) - x).abs() <= x.abs() / 256.0, "{x}");
        }
    }

    /// The tile unit's block against the software model, on rows that bf16 holds exactly
    /// (small integers), where any order of the sums is exact: the same values.
    #[test]
    fn tile_block_is_the_products_of_the_packed_rows() {
        let Some(session) = Session::new() else {
            eprintln!("no AMX tile unit here: the portable model alone is checked");
            return;
        };
        let (n, cols) = (29, 45);
        let width = padded(cols);
        let mut seed = 3u64;
        let mut ints = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| (crate::testing::lcg(&mut seed) * 8.0).round())
                .collect()
        };
        let corpus_rows = ints(BLOCK * cols);
        let queries = ints(n * cols);
        let mut corpus = vec![0u16; BLOCK * width];
        to_bf16(&corpus_rows, cols, width, None, &mut corpus);
        let packed = pack_queries(&queries, n, cols);
        let (mut got, mut want) = (vec![0.0f32; BLOCK * BLOCK], vec![0.0f32; BLOCK * BLOCK]);
        session.block(&corpus, width, &packed, &mut got);
        block_portable(&corpus, width, &packed, &mut want);
        assert_eq!(got, want);
        // And by hand: corpus row 3 · query 5.
        let dot: f32 = (0..cols)
            .map(|c| corpus_rows[3 * cols + c] * queries[5 * cols + c])
            .sum();
        assert_eq!(got[3 * BLOCK + 5], dot);
        // Padded queries (29..32) are zero.
        assert!(got[BLOCK - 1..].iter().step_by(BLOCK).all(|&v| v == 0.0));
    }
}
