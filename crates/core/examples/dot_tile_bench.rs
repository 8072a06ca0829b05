//! The fixed-order dot-product tile against the `gemm` crate (whose summation order depends
//! on the shape), one thread, at the tile shapes the distance passes use.
//! `cargo run -p tripletkit-core --release --example dot_tile_bench`
use std::time::Instant;
use tripletkit_core::distances::dot_tile::dot_tile;

fn gemm_crate(a: &[f32], m: usize, b: &[f32], n: usize, k: usize, out: &mut [f32]) {
    // SAFETY: out is m × n (row stride n), a is m × k, b is n × k read as bᵀ.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    println!("shape (m × n × k)   fixed order GFLOP/s   gemm crate GFLOP/s   ratio");
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let shapes = if args.len() == 3 {
        vec![(args[0], args[1], args[2])]
    } else {
        vec![
            (64, 64, 128),
            (512, 512, 128),
            (512, 512, 384),
            (512, 512, 768),
            (1, 512, 128),
            (512, 512, 1000),
        ]
    };
    for &(m, n, k) in &shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let b: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104729) % 1000) as f32 / 1000.0)
            .collect();
        let mut out = vec![0.0f32; m * n];
        let reps = (2e9 / (m * n * k) as f64).clamp(3.0, 2000.0) as usize;
        let ours = best_of(reps, || dot_tile(&a, m, &b, n, k, &mut out, n));
        let theirs = best_of(reps, || gemm_crate(&a, m, &b, n, k, &mut out));
        let gf = |t: f64| 2.0 * (m * n * k) as f64 / t / 1e9;
        println!(
            "{m:>4} × {n:>4} × {k:>4}   {:>18.1}   {:>18.1}   {:>5.2}",
            gf(ours),
            gf(theirs),
            theirs / ours
        );
    }
}
