//! The launch-geometry model: every op's real host path, at sizes no emulator could run, on a
//! GPU that plans and does not run (`planner.rs`), with each launch's blocks set against what
//! an SM holds of that kernel (registers and shared memory from crates/cuda/PTXAS.md). A
//! launch's waves are its blocks over (SMs × blocks an SM holds); a GPU is full from about 4
//! waves on. The table this prints is the geometry half of the GPU's performance model.
//!
//! Every kernel of every op fills the GPU but those `BELOW_FOUR_WAVES` lists (none now) and
//! the small passes (`SMALL_PASSES`). The test holds the model to that list both
//! ways: a kernel that falls below 4 waves fails it, and so does one that rises above without
//! leaving the list. The table it prints has each op's busiest kernel.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tripletkit_core::{
    Call, ContrastiveOptions, KnnOptions, LadderOptions, LossOptions, MarginLossOptions, MatRef,
    MetricOptions, MineOptions, Mining, Ops, RankingOptions, RetrievalOptions, Sample, Similarity,
    Strategy, SupConOptions, VerificationOptions,
};
use tripletkit_cuda::planner::{Launch, Planner};
use tripletkit_cuda::Cuda;

/// A GPU model: its SMs, architecture (which column of PTXAS.md) and free memory.
struct Model {
    name: &'static str,
    sms: u64,
    arch: &'static str,
    smem: u64,
    memory: usize,
}

const MODELS: [Model; 2] = [
    Model {
        name: "H200",
        sms: 132,
        arch: "sm_90",
        smem: 233_472,
        memory: 130 << 30,
    },
    Model {
        name: "A100",
        sms: 108,
        arch: "sm_80",
        smem: 167_936,
        memory: 75 << 30,
    },
];

/// Each kernel's (registers, shared bytes) per architecture, from PTXAS.md.
fn resources() -> BTreeMap<(String, String), (u64, u64)> {
    let table = include_str!("../PTXAS.md");
    table
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(".ptx"))
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                (f[2].to_owned(), f[3].to_owned()),
                (f[4].parse().unwrap(), f[7].parse().unwrap()),
            )
        })
        .collect()
}

/// Blocks of `threads` an SM of `m` holds of a kernel with these resources.
fn resident(m: &Model, (regs, smem): (u64, u64), threads: u64) -> u64 {
    let warps = threads.div_ceil(32);
    let per_warp = (regs * 32).div_ceil(256) * 256;
    let by_regs = 65_536 / (per_warp * warps).max(1);
    let by_smem = m.smem / (smem + 1024);
    let by_threads = 2048 / threads;
    by_regs.min(by_smem).min(by_threads).clamp(1, 32)
}

/// The waves of `l` on `m`.
fn waves(m: &Model, res: &BTreeMap<(String, String), (u64, u64)>, l: &Launch) -> f64 {
    let r = res[&(l.kernel.to_owned(), m.arch.to_owned())];
    l.blocks() as f64 / (m.sms * resident(m, r, u64::from(l.block[0]))) as f64
}

/// Rows of d = 128, classes of 8 rows.
fn batch(n: usize) -> (Vec<f32>, Vec<i32>) {
    let x = (0..n * 128)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let labels = (0..n).map(|i| (i / 8) as i32).collect();
    (x, labels)
}

/// Runs `op` on a planned GPU of model `m` whose downloads read `fill`: its launches.
fn plan(m: &Model, fill: u8, op: impl FnOnce(&Cuda)) -> Vec<Launch> {
    let (cuda, planner): (Cuda, Arc<Planner>) = Cuda::planned(m.memory, fill);
    op(&cuda);
    planner.take()
}

type Op = Box<dyn Fn(&Cuda, &[f32], &[i32], usize)>;

fn ops() -> Vec<(&'static str, bool, Op)> {
    let mine = |s: Strategy| -> Op {
        Box::new(move |c, x, l, n| {
            let o = MineOptions {
                strategy: s,
                ..MineOptions::default()
            };
            c.mine_triplets(MatRef::new(x, n, 128).unwrap(), l, None, &o, &Call::PLAIN)
                .map_err(|e| format!("{s:?} at {n}: {e}"))
                .unwrap();
        })
    };
    vec![
        (
            "knn, k = 10",
            true,
            Box::new(|c: &Cuda, x: &[f32], _: &[i32], n: usize| {
                let xm = MatRef::new(x, n, 128).unwrap();
                let o = KnnOptions {
                    k: 10,
                    ..KnnOptions::default()
                };
                c.knn_once(xm, xm, &MetricOptions::default(), &o, &Call::PLAIN)
                    .unwrap();
            }),
        ),
        (
            "knn, k = 1024",
            false,
            Box::new(|c: &Cuda, x: &[f32], _: &[i32], n: usize| {
                let xm = MatRef::new(x, n, 128).unwrap();
                let o = KnnOptions {
                    k: 1024,
                    ..KnnOptions::default()
                };
                c.knn_once(xm, xm, &MetricOptions::default(), &o, &Call::PLAIN)
                    .unwrap();
            }),
        ),
        ("mineTriplets batch-hard", true, mine(Strategy::BatchHard)),
        (
            "mineTriplets batch-semihard",
            true,
            mine(Strategy::BatchSemihard),
        ),
        (
            "mineTriplets all, sampled to 10⁶",
            false,
            Box::new(|c: &Cuda, x: &[f32], l: &[i32], n: usize| {
                let s = Sample {
                    count: 1_000_000,
                    seed: 1,
                    ..Sample::default()
                };
                let o = MineOptions {
                    strategy: Strategy::All,
                    sample: Some(s),
                    ..MineOptions::default()
                };
                c.mine_triplets(MatRef::new(x, n, 128).unwrap(), l, None, &o, &Call::PLAIN)
                    .unwrap();
            }),
        ),
        (
            "tripletLoss batch-hard",
            true,
            Box::new(|c: &Cuda, x: &[f32], l: &[i32], n: usize| {
                let o = LossOptions::default();
                c.triplet_loss(
                    MatRef::new(x, n, 128).unwrap(),
                    l,
                    None,
                    Mining::Strategy(Strategy::BatchHard),
                    &o,
                    &Call::PLAIN,
                )
                .unwrap();
            }),
        ),
        (
            "retrievalMetrics",
            true,
            Box::new(|c: &Cuda, x: &[f32], l: &[i32], n: usize| {
                let o = RetrievalOptions::default();
                let _ =
                    c.retrieval_metrics(MatRef::new(x, n, 128).unwrap(), l, None, &o, &Call::PLAIN);
            }),
        ),
        (
            "tripletMarginLoss",
            true,
            Box::new(|c: &Cuda, x: &[f32], _: &[i32], n: usize| {
                let xm = MatRef::new(x, n, 128).unwrap();
                c.triplet_margin_loss(xm, xm, xm, &MarginLossOptions::default(), &Call::PLAIN)
                    .unwrap();
            }),
        ),
        (
            "verificationMetrics",
            true,
            Box::new(|c: &Cuda, x: &[f32], _: &[i32], n: usize| {
                let xm = MatRef::new(x, n, 128).unwrap();
                let same: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
                c.verification_metrics(
                    xm,
                    xm,
                    &same,
                    &VerificationOptions::default(),
                    &Call::PLAIN,
                )
                .unwrap();
            }),
        ),
        (
            "mineTriplets violating (counted)",
            false,
            mine(Strategy::Violating),
        ),
        (
            "multipleNegativesRankingLoss",
            false,
            Box::new(|c: &Cuda, x: &[f32], _: &[i32], n: usize| {
                let xm = MatRef::new(x, n, 128).unwrap();
                let o = RankingOptions::default();
                let _ = c.multiple_negatives_ranking_loss(xm, xm, None, &o, &Call::PLAIN);
            }),
        ),
        (
            "contrastiveLoss",
            false,
            Box::new(|c: &Cuda, x: &[f32], l: &[i32], n: usize| {
                let _ = c.contrastive_loss(
                    MatRef::new(x, n, 128).unwrap(),
                    l,
                    &ContrastiveOptions::default(),
                    &Call::PLAIN,
                );
            }),
        ),
        (
            "ladderLoss, 512 candidates",
            false,
            Box::new(|c: &Cuda, x: &[f32], _: &[i32], n: usize| {
                let nc = 512;
                let rel: Vec<f32> = (0..n * nc).map(|i| (i % 3) as f32 / 2.0).collect();
                let o = LadderOptions {
                    thresholds: vec![0.9, 0.4],
                    margins: vec![0.2, 0.1],
                    weights: vec![],
                    hardest: true,
                    similarity: Similarity::Cosine,
                };
                let _ = c.ladder_loss(
                    MatRef::new(x, n, 128).unwrap(),
                    MatRef::new(&x[..nc * 128], nc, 128).unwrap(),
                    MatRef::new(&rel, n, nc).unwrap(),
                    &o,
                    &Call::PLAIN,
                );
            }),
        ),
        (
            "supConLoss",
            false,
            Box::new(|c: &Cuda, x: &[f32], l: &[i32], n: usize| {
                let _ = c.sup_con_loss(
                    MatRef::new(x, n, 128).unwrap(),
                    l,
                    &SupConOptions::default(),
                    &Call::PLAIN,
                );
            }),
        ),
    ]
}

/// Kernels below 4 waves on some model or size, as "op: kernel": none now. The list stays as
/// the place to name one that a change leaves short, for the model to hold both ways.
///
/// The test holds the model to this list both ways: a kernel that falls below 4 waves fails
/// it, and so does one that rises above while still listed.
const BELOW_FOUR_WAVES: &[&str] = &[];

/// Passes whose work grows as the rows do, not as rows × columns, so that their waves do not
/// set an op's time: batch-semihard's distances of a chunk's (anchor, positive) pairs.
const SMALL_PASSES: &[&str] = &["tk_semihard_positives"];

#[test]
fn launch_geometry_model() {
    let res = resources();
    let mut table = String::from("| op | N | model | busiest kernel | launches | blocks (largest launch) | waves (median launch) |\n|---|---:|---|---|---:|---:|---:|\n");
    let mut short = BTreeSet::new();
    for n in [65_536usize, 1_000_000] {
        let (x, labels) = batch(n);
        for (name, at_million, op) in ops() {
            if n > 65_536 && !at_million {
                continue;
            }
            for m in &MODELS {
                // Batch-semihard checks that each anchor saw a negative: it reads back all ones.
                let fill = if name.contains("semihard") { 0xff } else { 0 };
                let launches = plan(m, fill, |c| op(c, &x, &labels, n));
                assert!(!launches.is_empty(), "{name} at {n} launches nothing");
                // The busiest kernel: the most blocks over all its launches.
                let mut by_kernel: BTreeMap<&str, Vec<&Launch>> = BTreeMap::new();
                for l in &launches {
                    by_kernel.entry(l.kernel).or_default().push(l);
                }
                let (kernel, ls) = by_kernel
                    .iter()
                    .max_by_key(|(_, ls)| ls.iter().map(|l| l.blocks()).sum::<u64>())
                    .unwrap();
                // The median launch: a chunk plan's last, smaller chunk does not set the figure.
                let mut w: Vec<f64> = ls.iter().map(|l| waves(m, &res, l)).collect();
                w.sort_by(f64::total_cmp);
                let median = w[w.len() / 2];
                let largest = ls.iter().map(|l| l.blocks()).max().unwrap();
                table += &format!(
                    "| {name} | {n} | {} | {kernel} | {} | {largest} | {median:.2} |\n",
                    m.name,
                    ls.len()
                );
                // Every kernel but the small passes fills the GPU, not only the busiest.
                for (k, kl) in &by_kernel {
                    let mut w: Vec<f64> = kl.iter().map(|l| waves(m, &res, l)).collect();
                    w.sort_by(f64::total_cmp);
                    if w[w.len() / 2] < 4.0 && !SMALL_PASSES.contains(k) {
                        short.insert(format!("{name}: {k}"));
                    }
                }
            }
        }
    }
    println!("{table}");
    let known: BTreeSet<String> = BELOW_FOUR_WAVES.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        short, known,
        "kernels below 4 waves on some model and size:\n{table}"
    );
}
