//! The core's share of the three small calls of bench/small-calls.ts: each op called on the
//! same inputs in a 20,000-call loop on this thread, with its heap allocations counted (a
//! counting allocator around the system's). Prints one JSON object: per op, µs a call,
//! allocations a call and bytes a call.
//! `cargo run -p tripletkit-core --release --example small_calls`
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tripletkit_core::*;

struct Counting;
static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size, Ordering::Relaxed);
        unsafe { System.realloc(p, l, size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CALLS_A_LOOP: usize = 20_000;

/// (µs a call, allocations a call, bytes a call) of `f`, after a warm-up; `SMALL_CALLS_ONLY`
/// (an op's name) skips the others, for a profile of one.
fn measure(name: &str, mut f: impl FnMut()) -> (f64, f64, f64) {
    if std::env::var("SMALL_CALLS_ONLY").is_ok_and(|only| only != name) {
        return (0.0, 0.0, 0.0);
    }
    for _ in 0..2_000 {
        f();
    }
    let (c0, b0) = (CALLS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    let t = Instant::now();
    for _ in 0..CALLS_A_LOOP {
        f();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / CALLS_A_LOOP as f64;
    let n = CALLS_A_LOOP as f64;
    let calls = (CALLS.load(Ordering::Relaxed) - c0) as f64 / n;
    let bytes = (BYTES.load(Ordering::Relaxed) - b0) as f64 / n;
    (us, calls, bytes)
}

fn main() {
    let (n, d) = (64usize, 128usize);
    let mut seed = 1u64;
    let mut rand = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let x: Vec<f32> = (0..n * d).map(|_| rand()).collect();
    let y: Vec<f32> = (0..n * d).map(|_| rand()).collect();
    let labels: Vec<i32> = (0..n as i32).map(|i| i % 2).collect();
    let xm = MatRef::new(&x, n, d).unwrap();
    let ym = MatRef::new(&y, n, d).unwrap();
    let loss = measure("tripletLoss", || {
        let o = LossOptions::default();
        let m = Mining::Strategy(Strategy::BatchHard);
        triplet_loss(&Cpu, xm, &labels, None, m, &o, &Call::PLAIN).unwrap();
    });
    let semihard = measure("semihard", || {
        let o = MineOptions {
            strategy: Strategy::BatchSemihard,
            ..MineOptions::default()
        };
        mine_triplets(&Cpu, xm, &labels, None, &o, &Call::PLAIN).unwrap();
    });
    let knn = measure("knn", || {
        let o = KnnOptions {
            k: 10,
            exclude_self: false,
            query_offset: 0,
        };
        knn_once(&Cpu, xm, ym, &MetricOptions::default(), &o, &Call::PLAIN).unwrap();
    });
    let json = |(us, calls, bytes): (f64, f64, f64)| {
        format!("{{\"us\":{us:.2},\"allocations\":{calls:.1},\"bytes\":{bytes:.0}}}")
    };
    println!(
        "{{\"tripletLoss\":{},\"semihard\":{},\"knn\":{}}}",
        json(loss),
        json(semihard),
        json(knn)
    );
}
