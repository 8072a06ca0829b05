//! The transpose of a tile of distances, for the passes that read a symmetric matrix's tile
//! by its columns too (`miners::semihard_upper`).

/// `dst[j·h + i] = src[i·w + j]` for i < h, j < w: `src` holds h rows of w, `dst` w rows of h.
pub fn transpose(src: &[f32], h: usize, w: usize, dst: &mut [f32]) {
    assert!(
        src.len() >= h * w && dst.len() >= h * w,
        "transpose out of range"
    );
    #[cfg(target_arch = "x86_64")]
    {
        let (h16, w16) = (h / 16 * 16, w / 16 * 16);
        if std::arch::is_x86_feature_detected!("avx512f") {
            for i0 in (0..h16).step_by(16) {
                for j0 in (0..w16).step_by(16) {
                    // SAFETY: the CPU has AVX-512F; the block lies inside both (asserted).
                    unsafe { block16_avx512(src, w, dst, h, i0, j0) };
                }
            }
            return edges(src, h, w, dst, h16, w16);
        }
    }
    edges(src, h, w, dst, 0, 0);
}

/// Every entry outside the first h16 rows × w16 columns (all of them for 0, 0).
fn edges(src: &[f32], h: usize, w: usize, dst: &mut [f32], h16: usize, w16: usize) {
    for i in 0..h {
        let from = if i < h16 { w16 } else { 0 };
        for j in from..w {
            dst[j * h + i] = src[i * w + j];
        }
    }
}

/// One 16 × 16 block at rows i0.., columns j0.. of `src` (row stride w), into `dst` (row
/// stride h): pairs of rows interleaved by 1, 2, 4 and 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block16_avx512(src: &[f32], w: usize, dst: &mut [f32], h: usize, i0: usize, j0: usize) {
    use std::arch::x86_64::*;
    let mut r = [_mm512_setzero_ps(); 16];
    for (k, rk) in r.iter_mut().enumerate() {
        // SAFETY: row i0 + k < h and columns j0..j0 + 16 <= w lie inside `src`.
        *rk = unsafe { _mm512_loadu_ps(src.as_ptr().add((i0 + k) * w + j0)) };
    }
    let mut t = [_mm512_setzero_ps(); 16];
    for k in 0..8 {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for q in 0..4 {
        let (a, b) = (4 * q, 4 * q + 2);
        r[4 * q] = _mm512_shuffle_ps::<0x44>(t[a], t[b]);
        r[4 * q + 1] = _mm512_shuffle_ps::<0xEE>(t[a], t[b]);
        r[4 * q + 2] = _mm512_shuffle_ps::<0x44>(t[a + 1], t[b + 1]);
        r[4 * q + 3] = _mm512_shuffle_ps::<0xEE>(t[a + 1], t[b + 1]);
    }
    for half in 0..2 {
        let o = 8 * half;
        for k in 0..4 {
            t[o + k] = _mm512_shuffle_f32x4::<0x88>(r[o + k], r[o + 4 + k]);
            t[o + 4 + k] = _mm512_shuffle_f32x4::<0xDD>(r[o + k], r[o + 4 + k]);
        }
    }
    for k in 0..8 {
        r[k] = _mm512_shuffle_f32x4::<0x88>(t[k], t[8 + k]);
        r[8 + k] = _mm512_shuffle_f32x4::<0xDD>(t[k], t[8 + k]);
    }
    for (k, rk) in r.iter().enumerate() {
        // SAFETY: row j0 + k < w and columns i0..i0 + 16 <= h lie inside `dst`.
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr().add((j0 + k) * h + i0), *rk) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_lands_at_its_mirror() {
        for &(h, w) in &[
            (0usize, 5usize),
            (1, 1),
            (16, 16),
            (17, 33),
            (48, 16),
            (5, 40),
            (256, 129),
        ] {
            let src: Vec<f32> = (0..h * w).map(|v| v as f32).collect();
            let mut dst = vec![-1.0; h * w];
            transpose(&src, h, w, &mut dst);
            for i in 0..h {
                for j in 0..w {
                    assert_eq!(dst[j * h + i], src[i * w + j], "{h} × {w} at {i}, {j}");
                }
            }
        }
    }
}
