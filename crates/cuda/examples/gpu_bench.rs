//! Times the CUDA path on the GPU against the card's ceilings (the FP32 and the TF32 peak, and
//! HBM), in each arithmetic of the tiles ('fp32' and 'tf32x3'), after checking each op against
//! the cpu device on a smaller input: the distance
//! kernel alone (inputs already uploaded, result left in device memory), and batch-hard,
//! batch-semihard and knn through their ops (uploads, every launch, reads and merges
//! included). Run on a machine with an NVIDIA GPU:
//!
//! ```text
//! cargo build --release -p tripletkit-cuda --example gpu_bench
//! target/release/examples/gpu_bench [--quick] [--json PATH]
//! ```
//!
//! Prints a markdown table; exits 1 on a mismatch with the cpu device, 2 without a GPU.
//! `--emulated` runs the same code at 1/1024 of the sizes through the CPU emulator: a smoke
//! test of the bench itself (its launches and op calls), whose times mean nothing.
use std::time::Instant;
use tripletkit_core::distances::Rows;
use tripletkit_core::Ops;
use tripletkit_core::{
    Call, Cpu, Device, KnnOptions, MatRef, Metric, MetricOptions, MineOptions, Strategy,
};
use tripletkit_cuda::driver::Driver;
use tripletkit_cuda::emulator::Emulator;
use tripletkit_cuda::gpu::{blocks, Buffer, Gpu, Params};
use tripletkit_cuda::kernels::{DISTANCE_TILE, DISTANCE_TILE_TF32, THREADS, TILE};
use tripletkit_cuda::math::Math;
use tripletkit_cuda::ops::Side;
use tripletkit_cuda::Cuda;

/// The H200's ceilings (GPU.md): HBM copy bandwidth, plain FP32 and dense TF32 throughput.
const HBM_BYTES_PER_S: f64 = 4.3e12;
const FP32_FLOPS: f64 = 67e12;
const TF32_FLOPS: f64 = 495e12;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    fn matrix(&mut self, rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols).map(|_| self.next()).collect()
    }
    fn labels(&mut self, rows: usize, class: usize) -> Vec<i32> {
        (0..rows).map(|i| (i / class) as i32).collect()
    }
}

struct Row {
    work: String,
    ms: f64,
    /// Multiply-adds, and the bytes the work must move through HBM at least.
    macs: f64,
    hbm_bytes: f64,
}

impl Row {
    fn fp32_ms(&self) -> f64 {
        2.0 * self.macs / FP32_FLOPS * 1e3
    }
    fn tf32_ms(&self) -> f64 {
        2.0 * self.macs / TF32_FLOPS * 1e3
    }
    fn hbm_ms(&self) -> f64 {
        self.hbm_bytes / HBM_BYTES_PER_S * 1e3
    }
}

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The distance kernel in `math` over n × n rows of d, writing n² floats to device memory.
fn pairwise_kernel(gpu: &dyn Gpu, math: Math, n: usize, d: usize, reps: usize) -> Row {
    let kernel = match math {
        Math::Fp32 => DISTANCE_TILE,
        Math::Tf32x3 => DISTANCE_TILE_TF32,
    };
    let mut rng = Rng(1);
    let x = rng.matrix(n, d);
    let rows = Rows::prepare(MatRef::new(&x, n, d).unwrap(), MetricOptions::default());
    let side = Side::upload(gpu, &rows, 0, n).unwrap();
    let out = Buffer::<f32>::uninit(gpu, n * n).unwrap();
    let ms = median_ms(reps, || unsafe {
        Params::new()
            .buf(&side.data)
            .buf(&side.norms)
            .int(n as i32)
            .buf(&side.data)
            .buf(&side.norms)
            .int(n as i32)
            .int(d as i32)
            .int(0)
            .int(0)
            .buf(&out)
            .int(n as i32)
            .int(0)
            .int(1)
            .launch(
                gpu,
                kernel,
                [blocks(n, TILE), blocks(n, TILE), 1],
                [THREADS, 1, 1],
            )
            .unwrap();
        // Launches are queued: the time is the kernel's only once the host waits for it.
        gpu.sync().unwrap();
    });
    Row {
        work: format!("pairwise kernel {n}² × {d} (euclidean, result on the device)"),
        ms,
        macs: (n * n * d) as f64,
        hbm_bytes: (n * n * 4) as f64,
    }
}

/// A miner through its op (uploads, launches, reads and merges): n rows of d in classes of
/// `class`.
fn mine_op(cuda: &Cuda, strategy: Strategy, n: usize, d: usize, class: usize, reps: usize) -> Row {
    let mut rng = Rng(2);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, class);
    let xm = MatRef::new(&x, n, d).unwrap();
    let o = MineOptions {
        strategy,
        ..MineOptions::default()
    };
    let ms = median_ms(reps, || {
        cuda.mine_triplets(xm, &labels, None, &o, &Call::PLAIN)
            .unwrap();
    });
    Row {
        work: format!("{strategy:?} mining N = {n}, d = {d}, {class} a class (the op)"),
        ms,
        macs: (n * n * d) as f64,
        hbm_bytes: (n * d * 4) as f64,
    }
}

/// knn through the op (uploads included), queries × corpus rows of d, k = 10.
fn knn_op(cuda: &Cuda, q: usize, c: usize, d: usize) -> Row {
    let mut rng = Rng(3);
    let qs = rng.matrix(q, d);
    let cs = rng.matrix(c, d);
    let corpus = cuda
        .prepare_corpus(cs, c, d, &MetricOptions::default())
        .unwrap();
    let qm = MatRef::new(&qs, q, d).unwrap();
    let o = KnnOptions {
        k: 10,
        ..KnnOptions::default()
    };
    let ms = median_ms(1, || {
        cuda.knn(qm, &*corpus, &o, &Call::PLAIN).unwrap();
    });
    Row {
        work: format!("knn {q} × {c} × {d}, k = 10 (the op: uploads and top-k included)"),
        ms,
        macs: q as f64 * c as f64 * d as f64,
        // The selection is in the tile's epilogue: only the rows pass through HBM.
        hbm_bytes: (q + c) as f64 * d as f64 * 4.0,
    }
}

/// Every op with kernels against the cpu device on one input; the mismatches found.
fn check(cuda: &Cuda, n: usize, d: usize) -> Vec<String> {
    let mut rng = Rng(4);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 8);
    let xm = MatRef::new(&x, n, d).unwrap();
    let mut bad = Vec::new();
    for metric in [
        Metric::Euclidean,
        Metric::SqEuclidean,
        Metric::Cosine,
        Metric::Dot,
    ] {
        let mo = MetricOptions {
            metric,
            normalize: false,
        };
        let g = cuda
            .pairwise_distances(xm, None, &mo, &Call::PLAIN)
            .unwrap();
        let c = Cpu.pairwise_distances(xm, None, &mo, &Call::PLAIN).unwrap();
        let worst = g
            .iter()
            .zip(&c)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        if worst > 1e-4 {
            bad.push(format!("pairwise {metric:?}: relative difference {worst}"));
        }
        let o = MineOptions {
            strategy: Strategy::BatchHard,
            distance: mo,
            ..MineOptions::default()
        };
        let gt = cuda
            .mine_triplets(xm, &labels, None, &o, &Call::PLAIN)
            .unwrap();
        let ct = Cpu
            .mine_triplets(xm, &labels, None, &o, &Call::PLAIN)
            .unwrap();
        // Near-ties may go either way in the last bit: compare the chosen distances.
        let dist = |i: i32, j: i32| c[i as usize * n + j as usize];
        for t in 0..ct.len() {
            let (a, p, q) = (ct.anchor[t], gt.positive[t], gt.negative[t]);
            if gt.anchor[t] != a
                || (dist(a, p) - dist(a, ct.positive[t])).abs() > 1e-4
                || (dist(a, q) - dist(a, ct.negative[t])).abs() > 1e-4
            {
                bad.push(format!("batch-hard {metric:?}: anchor {a} differs"));
                break;
            }
        }
        let ko = KnnOptions {
            k: 10,
            exclude_self: true,
            query_offset: 0,
        };
        let gk = cuda.knn_once(xm, xm, &mo, &ko, &Call::PLAIN).unwrap();
        let ck = Cpu.knn_once(xm, xm, &mo, &ko, &Call::PLAIN).unwrap();
        let off = gk
            .distances
            .iter()
            .zip(&ck.distances)
            .filter(|(a, b)| (*a - *b).abs() > 1e-4 * b.abs().max(1.0))
            .count();
        if off > 0 {
            bad.push(format!("knn {metric:?}: {off} distances differ"));
        }
    }
    bad
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).cloned());
    let emulated = args.iter().any(|a| a == "--emulated");
    let (gpu, cuda): (Box<dyn Gpu>, Cuda) = if emulated {
        (Box::new(Emulator::new()), Cuda::emulated())
    } else {
        match (Driver::open(), Cuda::open()) {
            (Ok(d), Ok(c)) => (Box::new(d), c),
            (Err(reason), _) | (_, Err(reason)) => {
                println!("no GPU: {reason}");
                std::process::exit(2);
            }
        }
    };
    println!("# tripletkit CUDA kernels\n\n{}\n", gpu.describe());
    let s = match (emulated, quick) {
        (true, _) => 1024,
        (false, true) => 8,
        (false, false) => 1,
    };
    let gpu: &dyn Gpu = &*gpu;
    // Each arithmetic of the tiles in turn: checked against the cpu, then timed.
    let mut bad = Vec::new();
    let mut rows = Vec::new();
    for math in [Math::Fp32, Math::Tf32x3] {
        cuda.set_math(math);
        let checked = check(&cuda, if emulated { 301 } else { 3001 / s.min(4) }, 128);
        bad.extend(checked.into_iter().map(|b| format!("{}: {b}", math.name())));
        let mut timed = vec![
            pairwise_kernel(gpu, math, 65536 / s, 128, 5),
            mine_op(&cuda, Strategy::BatchHard, 65536 / s, 128, 8, 5),
            mine_op(&cuda, Strategy::BatchSemihard, 65536 / s, 128, 32, 3),
            knn_op(&cuda, 100_000 / s, 1_000_000 / s, 128),
            mine_op(&cuda, Strategy::BatchHard, 1_000_000 / s, 128, 8, 1),
        ];
        for r in &mut timed {
            r.work = format!("{} [{}]", r.work, math.name());
        }
        rows.extend(timed);
    }
    for b in &bad {
        println!("MISMATCH {b}");
    }
    println!("| work | tripletkit (ms) | FP32 bound (ms) | × FP32 | TF32 bound (ms) | × TF32 | HBM bound (ms) |\n|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.work,
            r.ms,
            r.fp32_ms(),
            r.ms / r.fp32_ms(),
            r.tf32_ms(),
            r.ms / r.tf32_ms(),
            r.hbm_ms()
        );
    }
    if let Some(path) = json {
        let body: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"work\":{:?},\"ms\":{},\"fp32_ms\":{},\"tf32_ms\":{},\"hbm_ms\":{}}}",
                    r.work,
                    r.ms,
                    r.fp32_ms(),
                    r.tf32_ms(),
                    r.hbm_ms()
                )
            })
            .collect();
        let text = format!(
            "{{\"device\":{:?},\"mismatches\":{:?},\"rows\":[{}]}}\n",
            gpu.describe(),
            bad,
            body.join(",")
        );
        std::fs::write(path, text).expect("write the JSON");
    }
    std::process::exit(i32::from(!bad.is_empty()));
}
