//! Batch-semihard and batch-hard mining at N = 16,384 (or `MINING_N`), d = 128 with 16, 32
//! and 128 rows a class (or the list `MINING_PER`), Gaussian rows, timed in the core alone
//! (best of `MINING_RUNS`, default 3).
//! `cargo run -p tripletkit-core --release --example mining_16k [semihard|hard]`
use std::time::Instant;
use tripletkit_core::*;

fn main() {
    let n: usize = std::env::var("MINING_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16_384);
    let d = 128usize;
    let which = std::env::args().nth(1).unwrap_or_else(|| "semihard".into());
    let runs: usize = std::env::var("MINING_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let per: Vec<usize> = std::env::var("MINING_PER")
        .ok()
        .map(|p| p.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![16, 32, 128]);
    let mut seed = 1u64;
    let mut rand = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = ((seed >> 40) as f64 + 0.5) / (1u64 << 24) as f64;
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = ((seed >> 40) as f64 + 0.5) / (1u64 << 24) as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let x: Vec<f32> = (0..n * d).map(|_| rand()).collect();
    let xm = MatRef::new(&x, n, d).unwrap();
    let strategy = if which == "hard" {
        Strategy::BatchHard
    } else {
        Strategy::BatchSemihard
    };
    for p in per {
        let classes = (n / p).max(2) as i32;
        let labels: Vec<i32> = (0..n as i32).map(|i| i % classes).collect();
        let o = MineOptions {
            strategy,
            ..MineOptions::default()
        };
        let mut best = f64::INFINITY;
        let mut count = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let r = mine_triplets(&Cpu, xm, &labels, None, &o, &Call::PLAIN).unwrap();
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
            count = r.len();
        }
        println!("{which} {p} a class: {best:.1} ms ({count} triplets)");
    }
}
