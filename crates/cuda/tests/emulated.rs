//! The stress tests of this crate's chunking and tile edges: every kernel through the emulator
//! against the cpu device on random inputs of odd sizes (rows not multiples of the tile, k
//! past the tile, duplicate rows, ties) and under small memory budgets that force chunking and
//! merging. Indices must match exactly where distances are well separated; distances within
//! the stated tolerance. The hand-worked cases and the rules run from the conformance harness
//! (crates/conformance).
use tripletkit_core::Ops;
use tripletkit_core::{
    Call, Cpu, Device, Error, KnnOptions, LossOptions, MatRef, Metric, MetricOptions, MineOptions,
    Mining, Strategy,
};
use tripletkit_cuda::Cuda;

mod common;
use common::Rng;

/// Relative tolerance for distances: the GPU sums the dot products in another order.
const TOL: f32 = 2e-5;

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1.0);
        assert!(
            (x - y).abs() <= TOL * scale,
            "{what}[{i}]: cuda {x} cpu {y}"
        );
    }
}

const METRICS: [Metric; 4] = [
    Metric::Euclidean,
    Metric::SqEuclidean,
    Metric::Cosine,
    Metric::Dot,
];

fn opts(metric: Metric, normalize: bool) -> MetricOptions {
    MetricOptions { metric, normalize }
}

#[test]
fn pairwise_matches_cpu_on_odd_sizes_every_metric() {
    let cuda = Cuda::emulated();
    let mut rng = Rng(7);
    for &(n, m, d) in &[
        (1, 1, 1),
        (5, 3, 7),
        (67, 130, 33),
        (129, 65, 17),
        (70, 70, 0),
    ] {
        let mut a = rng.matrix(n, d);
        if n > 3 && d > 0 {
            // A duplicate row: its distance to the original must be exactly 0.
            let (head, tail) = a.split_at_mut(3 * d);
            tail[..d].copy_from_slice(&head[..d]);
        }
        let b = rng.matrix(m, d);
        let am = MatRef::new(&a, n, d).unwrap();
        let bm = MatRef::new(&b, m, d).unwrap();
        for metric in METRICS {
            for normalize in [false, true] {
                let o = opts(metric, normalize);
                for other in [None, Some(bm)] {
                    let got = cuda
                        .pairwise_distances(am, other, &o, &Call::PLAIN)
                        .unwrap();
                    let want = Cpu.pairwise_distances(am, other, &o, &Call::PLAIN).unwrap();
                    close(&got, &want, &format!("{n}×{m}×{d} {metric:?} {normalize}"));
                    if other.is_none() {
                        // (A zero row is 1 from itself under cosine: d = 0 makes every row zero.)
                        for i in 0..n {
                            if metric != Metric::Dot && !(metric == Metric::Cosine && d == 0) {
                                assert_eq!(got[i * n + i], 0.0, "diagonal {i}");
                            }
                        }
                        if n > 3 && d > 0 && metric != Metric::Dot {
                            assert_eq!(got[3 * n], 0.0, "duplicate row");
                        }
                    }
                    assert!(got.iter().all(|v| metric == Metric::Dot || *v >= 0.0));
                }
            }
        }
    }
}

#[test]
fn pairwise_in_small_chunks_is_the_same_matrix() {
    let mut rng = Rng(11);
    let (n, m, d) = (200, 300, 9);
    let a = rng.matrix(n, d);
    let b = rng.matrix(m, d);
    let (am, bm) = (
        MatRef::new(&a, n, d).unwrap(),
        MatRef::new(&b, m, d).unwrap(),
    );
    let o = opts(Metric::Euclidean, false);
    let whole = Cuda::emulated()
        .pairwise_distances(am, Some(bm), &o, &Call::PLAIN)
        .unwrap();
    // 64 rows × 256 columns a chunk: four row chunks, two column chunks.
    let small = Cuda::emulated().with_memory(120_000);
    let chunked = small
        .pairwise_distances(am, Some(bm), &o, &Call::PLAIN)
        .unwrap();
    assert_eq!(whole, chunked);
    let selfd = small
        .pairwise_distances(am, None, &o, &Call::PLAIN)
        .unwrap();
    for i in 0..n {
        assert_eq!(selfd[i * n + i], 0.0);
    }
    close(
        &selfd,
        &Cpu.pairwise_distances(am, None, &o, &Call::PLAIN).unwrap(),
        "self chunked",
    );
}

/// Batch-hard through `mine_triplets`, on both devices.
fn batch_hard(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    metric: Metric,
) -> Result<tripletkit_core::Triplets, Error> {
    let o = MineOptions {
        strategy: Strategy::BatchHard,
        distance: opts(metric, false),
        ..MineOptions::default()
    };
    dev.mine_triplets(x, labels, reference, &o, &Call::PLAIN)
}

#[test]
fn batch_hard_matches_cpu_on_random_batches() {
    let mut rng = Rng(3);
    for &(n, d, classes) in &[
        (2, 3, 2),
        (67, 5, 4),
        (131, 33, 9),
        (200, 17, 50),
        (90, 1, 3),
    ] {
        let x = rng.matrix(n, d);
        let labels = rng.labels(n, classes);
        let xm = MatRef::new(&x, n, d).unwrap();
        for metric in METRICS {
            let want = batch_hard(&Cpu, xm, &labels, None, metric).unwrap();
            for cuda in [Cuda::emulated(), Cuda::emulated().with_memory(30_000)] {
                let got = batch_hard(&cuda, xm, &labels, None, metric).unwrap();
                assert_eq!(got, want, "{n}×{d}, {classes} classes, {metric:?}");
            }
        }
    }
}

#[test]
fn batch_hard_ties_go_to_the_lower_index_and_duplicates_count() {
    // Rows on a line with repeats: many equal distances.
    let x: Vec<f32> = [0.0, 1.0, 1.0, 2.0, 0.0, 3.0, 1.0, 2.0, 2.0].to_vec();
    let labels = [0, 0, 1, 1, 0, 1, 0, 1, 1];
    let xm = MatRef::new(&x, 9, 1).unwrap();
    for metric in [Metric::Euclidean, Metric::SqEuclidean] {
        let want = batch_hard(&Cpu, xm, &labels, None, metric).unwrap();
        let got = batch_hard(&Cuda::emulated(), xm, &labels, None, metric).unwrap();
        assert_eq!(got, want);
    }
    // Anchor 0 (at 0): positives 1 (d 1), 4 (d 0), 6 (d 1) → farthest 1 (lower of the tie);
    // negatives 2 (d 1), 3, 5, 7, 8 → nearest 2.
    let got = batch_hard(&Cuda::emulated(), xm, &labels, None, Metric::Euclidean).unwrap();
    assert_eq!((got.anchor[0], got.positive[0], got.negative[0]), (0, 1, 2));
}

#[test]
fn batch_hard_against_a_reference_set() {
    let mut rng = Rng(5);
    let (n, r, d) = (70, 150, 12);
    let x = rng.matrix(n, d);
    let refs = rng.matrix(r, d);
    let labels = rng.labels(n, 6);
    let ref_labels = rng.labels(r, 6);
    let xm = MatRef::new(&x, n, d).unwrap();
    let rm = MatRef::new(&refs, r, d).unwrap();
    let want = batch_hard(&Cpu, xm, &labels, Some((rm, &ref_labels)), Metric::Cosine).unwrap();
    let got = batch_hard(
        &Cuda::emulated().with_memory(40_000),
        xm,
        &labels,
        Some((rm, &ref_labels)),
        Metric::Cosine,
    )
    .unwrap();
    assert_eq!(got, want);
}

#[test]
fn batch_hard_loss_matches_cpu() {
    let mut rng = Rng(9);
    let (n, d) = (75, 16);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 5);
    let xm = MatRef::new(&x, n, d).unwrap();
    let o = LossOptions::default();
    let mining = Mining::Strategy(Strategy::BatchHard);
    let want = Cpu
        .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
        .unwrap();
    let got = Cuda::emulated()
        .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
        .unwrap();
    assert_eq!((got.triplets, got.active), (want.triplets, want.active));
    assert!((got.loss - want.loss).abs() <= 1e-9 * want.loss.abs().max(1.0));
    assert_eq!(got.grad, want.grad);
}

fn knn(
    dev: &dyn Device,
    q: MatRef,
    c: MatRef,
    metric: Metric,
    o: &KnnOptions,
) -> tripletkit_core::Knn {
    dev.knn_once(q, c, &opts(metric, false), o, &Call::PLAIN)
        .unwrap()
}

#[test]
fn knn_matches_cpu_with_k_past_the_tile_and_chunks() {
    let mut rng = Rng(13);
    let (nq, nc, d) = (37, 1500, 7);
    let q = rng.matrix(nq, d);
    let c = rng.matrix(nc, d);
    let (qm, cm) = (
        MatRef::new(&q, nq, d).unwrap(),
        MatRef::new(&c, nc, d).unwrap(),
    );
    for metric in METRICS {
        for k in [1, 10, 100, 1024] {
            let o = KnnOptions {
                k,
                ..KnnOptions::default()
            };
            let want = knn(&Cpu, qm, cm, metric, &o);
            // The small budget cuts the corpus into chunks of a few hundred rows, read from
            // the resident corpus; the smallest one cannot keep the corpus resident, so each
            // chunk is uploaded.
            let mut devices = vec![
                Cuda::emulated(),
                Cuda::emulated().with_memory(300_000 + 1_700 * k),
            ];
            if k <= 10 {
                devices.push(Cuda::emulated().with_memory(80_000));
            }
            for cuda in devices {
                let got = knn(&cuda, qm, cm, metric, &o);
                assert_eq!(got.indices, want.indices, "{metric:?} k={k}");
                close(&got.distances, &want.distances, "knn distances");
            }
        }
    }
}

/// A prepared corpus stays on the device after the first search with room for twice its size:
/// later searches upload only their queries (values and norms) and bring back only their
/// lists. A corpus too large for that is uploaded in chunks by every search and keeps nothing.
/// What is kept counts in the device's budget until the corpus is dropped.
#[test]
fn a_prepared_corpus_stays_on_the_device_between_searches() {
    let mut rng = Rng(71);
    let (nq, nc, d, k) = (29, 1300, 9, 7);
    let (q, c) = (rng.matrix(nq, d), rng.matrix(nc, d));
    let (qm, cm) = (
        MatRef::new(&q, nq, d).unwrap(),
        MatRef::new(&c, nc, d).unwrap(),
    );
    let metric = opts(Metric::Euclidean, true);
    let o = KnnOptions {
        k,
        ..KnnOptions::default()
    };
    let want = Cpu.knn_once(qm, cm, &metric, &o, &Call::PLAIN).unwrap();
    let (corpus_bytes, query_bytes, list_bytes) = (nc * (4 * d + 4), nq * (4 * d + 4), nq * k * 12);
    for (cuda, kept) in [
        (Cuda::emulated(), true),
        (Cuda::emulated().with_memory(corpus_bytes * 3 / 2), false),
    ] {
        let corpus = cuda.prepare_corpus(c.clone(), nc, d, &metric).unwrap();
        assert_eq!(cuda.kept_bytes(), 0, "nothing is uploaded before a search");
        let mut moved = Vec::new();
        for _ in 0..3 {
            let [up0, down0] = cuda.traffic().unwrap();
            let got = cuda.knn(qm, &*corpus, &o, &Call::PLAIN).unwrap();
            assert_eq!(got.indices, want.indices, "kept: {kept}");
            close(&got.distances, &want.distances, "knn distances");
            let [up1, down1] = cuda.traffic().unwrap();
            moved.push(((up1 - up0) as usize, (down1 - down0) as usize));
        }
        assert!(
            moved.iter().all(|&(_, down)| down == list_bytes),
            "{moved:?}"
        );
        if kept {
            assert_eq!(moved[0].0, corpus_bytes + query_bytes, "{moved:?}");
            assert_eq!((moved[1].0, moved[2].0), (query_bytes, query_bytes));
            assert_eq!(
                (cuda.kept_bytes(), corpus.device_bytes()),
                (corpus_bytes, corpus_bytes)
            );
        } else {
            assert!(
                moved
                    .iter()
                    .all(|&(up, _)| up == corpus_bytes + query_bytes),
                "{moved:?}"
            );
            assert_eq!((cuda.kept_bytes(), corpus.device_bytes()), (0, 0));
        }
        drop(corpus);
        assert_eq!(cuda.kept_bytes(), 0, "a dropped corpus frees its copy");
    }
    // Under a limit of 4 corpora, one kept corpus leaves 3: a second corpus of 1.8 fits half of
    // the limit but not half of what is left, so it is searched in chunks.
    let cuda = Cuda::emulated().with_memory(4 * corpus_bytes);
    let first = cuda.prepare_corpus(c.clone(), nc, d, &metric).unwrap();
    cuda.knn(qm, &*first, &o, &Call::PLAIN).unwrap();
    let big = rng.matrix(nc * 9 / 5, d);
    let second = cuda.prepare_corpus(big, nc * 9 / 5, d, &metric).unwrap();
    cuda.knn(qm, &*second, &o, &Call::PLAIN).unwrap();
    assert_eq!(
        (first.device_bytes(), second.device_bytes()),
        (corpus_bytes, 0)
    );
    drop(first);
    cuda.knn(qm, &*second, &o, &Call::PLAIN).unwrap();
    assert_eq!(
        second.device_bytes(),
        (nc * 9 / 5) * (4 * d + 4),
        "room again once the first is dropped"
    );
}

/// Sampled set mining on the GPU equals the cpu's sample bit for bit: every set strategy, with
/// and without a reference set and offsets, counts below, at and above the set's size, and
/// sets much larger than the candidate buffer (its launches overflow and run again under a
/// tighter bound); a small budget cuts the anchors into several chunks.
#[test]
fn sampled_mining_matches_cpu() {
    use tripletkit_core::Sample;
    let mut rng = Rng(83);
    let (n, d, classes) = (300, 6, 5);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, classes);
    let xm = MatRef::new(&x, n, d).unwrap();
    let (rn, rl) = (170, rng.labels(170, classes + 2));
    let r = rng.matrix(rn, d);
    let rm = MatRef::new(&r, rn, d).unwrap();
    for strategy in [
        Strategy::All,
        Strategy::Violating,
        Strategy::Hard,
        Strategy::Semihard,
        Strategy::Easy,
    ] {
        for (count, seed, reference) in [
            (1, 0, false),
            (37, 5, false),
            (5000, 9, true),
            (100_000_000, 2, true),
        ] {
            let sample = Sample {
                count,
                seed,
                anchor_offset: 1000,
                reference_offset: if reference { 77 } else { 0 },
            };
            let o = MineOptions {
                strategy,
                margin: 0.3,
                distance: opts(Metric::Euclidean, false),
                max_triplets: 10,
                sample: Some(sample),
            };
            let refs = reference.then_some((rm, &rl[..]));
            let want = Cpu
                .mine_triplets(xm, &labels, refs, &o, &Call::PLAIN)
                .unwrap();
            assert!(
                want.len() <= count && !want.is_empty(),
                "{strategy:?} {count}"
            );
            for cuda in [Cuda::emulated(), Cuda::emulated().with_memory(2_000_000)] {
                let got = cuda
                    .mine_triplets(xm, &labels, refs, &o, &Call::PLAIN)
                    .unwrap();
                assert_eq!(
                    got, want,
                    "{strategy:?} count {count} reference {reference}"
                );
            }
        }
    }
}

/// A sticky error (here an illegal address the emulator is asked to make) ends the device's use:
/// the call fails with DeviceFailed, and so does every later call, even of other kernels, with
/// the first failure in its message; the device reports it.
#[test]
fn a_sticky_error_refuses_every_later_call() {
    let x: Vec<f32> = (0..40).map(|i| (i % 7) as f32).collect();
    let xm = MatRef::new(&x, 8, 5).unwrap();
    let cuda = Cuda::emulated_with_fault("tk_knn_tile");
    assert!(cuda.failure().is_none());
    let o = KnnOptions {
        k: 2,
        ..KnnOptions::default()
    };
    let first = knn_err(&cuda, xm, &o);
    assert_eq!(first.code(), "ERR_TRIPLETKIT_DEVICE_FAILED");
    assert!(
        first
            .to_string()
            .contains("tk_knn_tile: CUDA_ERROR_ILLEGAL_ADDRESS"),
        "{first}"
    );
    let failure = cuda.failure().expect("the device records its failure");
    // Another op, other kernels: refused before any work, with the first failure.
    let labels = [0, 1, 0, 1, 2, 2, 0, 1];
    let later = cuda
        .mine_triplets(xm, &labels, None, &MineOptions::default(), &Call::PLAIN)
        .unwrap_err();
    assert_eq!(later.code(), "ERR_TRIPLETKIT_DEVICE_FAILED");
    assert!(
        later.to_string().contains("failed earlier") && later.to_string().contains(&failure),
        "{later}"
    );
    // A sound device beside it is untouched.
    assert!(Cuda::emulated()
        .knn_once(xm, xm, &MetricOptions::default(), &o, &Call::PLAIN)
        .is_ok());
}

fn knn_err(cuda: &Cuda, xm: MatRef, o: &KnnOptions) -> Error {
    cuda.knn_once(xm, xm, &MetricOptions::default(), o, &Call::PLAIN)
        .unwrap_err()
}

/// OASIS on the GPU: W stays on the device and one block takes the steps in the host's order
/// and float64 sums, so W, the summed loss and the stream's state are the cpu's, bit for bit,
/// across launches of 1,024 steps, with rows of several dimensions, W not the identity, C small
/// enough to bind, and labels where few rows can anchor.
#[test]
fn oasis_steps_match_cpu_bit_for_bit() {
    use tripletkit_core::OasisOptions;
    let mut rng = Rng(97);
    for &(n, d, classes, steps, c) in &[
        (9, 1, 2, 37, 0.1),
        (40, 7, 3, 2500, 0.1),
        (31, 33, 5, 700, 0.001),
        (12, 4, 12, 50, 0.1), // every row its own class: no anchor, no step
    ] {
        let x = rng.matrix(n, d);
        let labels = rng.labels(n, classes);
        let xm = MatRef::new(&x, n, d).unwrap();
        let w: Vec<f64> = (0..d * d)
            .map(|k| {
                if k % (d + 1) == 0 {
                    1.0
                } else {
                    0.01 * (k % 7) as f64
                }
            })
            .collect();
        let o = OasisOptions { c, steps, state: 5 };
        let want = Cpu.oasis_steps(xm, &labels, &w, &o, &Call::PLAIN).unwrap();
        let got = Cuda::emulated()
            .oasis_steps(xm, &labels, &w, &o, &Call::PLAIN)
            .unwrap();
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let what = format!("{n} × {d}, {steps} steps");
        assert_eq!(bits(&got.weights), bits(&want.weights), "{what}: W");
        assert_eq!(
            got.loss_sum.to_bits(),
            want.loss_sum.to_bits(),
            "{what}: loss"
        );
        assert_eq!(got.state, want.state, "{what}: state");
        if classes < n {
            assert!(bits(&want.weights) != bits(&w), "{what}: W moved");
        }
    }
}

#[test]
fn knn_excludes_self_and_breaks_ties_by_index() {
    // Integer points with many equal distances, searched against themselves.
    let x: Vec<f32> = (0..150).map(|i| ((i * 7) % 5) as f32).collect();
    let xm = MatRef::new(&x, 75, 2).unwrap();
    for exclude_self in [false, true] {
        let o = KnnOptions {
            k: 20,
            exclude_self,
            query_offset: 0,
        };
        let want = knn(&Cpu, xm, xm, Metric::SqEuclidean, &o);
        let got = knn(&Cuda::emulated(), xm, xm, Metric::SqEuclidean, &o);
        assert_eq!(got, want);
    }
}

/// The selection in the tile's epilogue across spans, column chunks and row chunks: rows of
/// three values only, so that nearly every candidate ties and each tile offers far more than a
/// query's 8 slots a round; the lists are the cpu's, to the index and the distance's bits
/// (dot products of exactly 0 give −0, kept as the cpu keeps it).
#[test]
fn knn_selects_ties_across_spans_and_chunks_as_the_cpu_does() {
    let (n, d) = (700, 3);
    let x: Vec<f32> = (0..n * d)
        .map(|i| [0.0f32, 1.0, -1.0][(i * 5 / 3) % 3] * ((i % 2) as f32))
        .collect();
    let xm = MatRef::new(&x, n, d).unwrap();
    for metric in [Metric::SqEuclidean, Metric::Dot] {
        for (k, exclude_self, query_offset) in [(1, false, 0), (9, true, 0), (40, false, 0)] {
            let o = KnnOptions {
                k,
                exclude_self,
                query_offset,
            };
            let want = knn(&Cpu, xm, xm, metric, &o);
            if metric == Metric::Dot && k > 1 {
                assert!(want
                    .distances
                    .iter()
                    .any(|v| v.to_bits() == (-0.0f32).to_bits()));
            }
            for cuda in [Cuda::emulated(), Cuda::emulated().with_memory(120_000)] {
                let got = knn(&cuda, xm, xm, metric, &o);
                assert_eq!(got.indices, want.indices, "{metric:?} k={k}");
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got.distances),
                    bits(&want.distances),
                    "{metric:?} k={k}"
                );
            }
        }
    }
}

#[test]
fn k_past_the_kernels_limit_is_an_argument_error() {
    let x = vec![0.0f32; 1100];
    let xm = MatRef::new(&x, 1100, 1).unwrap();
    let o = KnnOptions {
        k: 1025,
        ..KnnOptions::default()
    };
    let err = Cuda::emulated()
        .knn_once(xm, xm, &MetricOptions::default(), &o, &Call::PLAIN)
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref m) if m.starts_with("opts.k: ")),
        "{err:?}"
    );
}

#[test]
fn triplet_margin_loss_matches_cpu_bit_for_bit_every_option() {
    use tripletkit_core::{MarginLossOptions, Reduction};
    let mut rng = Rng(41);
    for &(n, d) in &[(1, 1), (7, 3), (300, 17), (40, 0)] {
        let [a, p, q] = [0, 1, 2].map(|_| rng.matrix(n, d));
        // A duplicate row: euclidean gradient at d = 0 must be 0, on both devices.
        let p = if n > 3 && d > 0 {
            let mut p = p;
            p[..d].copy_from_slice(&a[..d]);
            p
        } else {
            p
        };
        fn m(v: &[f32], n: usize, d: usize) -> MatRef<'_> {
            MatRef::new(v, n, d).unwrap()
        }
        for metric in METRICS {
            for normalize in [false, true] {
                for (soft_margin, swap) in [(false, false), (true, false), (false, true)] {
                    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                        let o = MarginLossOptions {
                            margin: 0.3,
                            soft_margin,
                            swap,
                            reduction,
                            distance: opts(metric, normalize),
                        };
                        let want = Cpu
                            .triplet_margin_loss(
                                m(&a, n, d),
                                m(&p, n, d),
                                m(&q, n, d),
                                &o,
                                &Call::PLAIN,
                            )
                            .unwrap();
                        let small = Cuda::emulated().with_memory(3_000);
                        let got = small
                            .triplet_margin_loss(
                                m(&a, n, d),
                                m(&p, n, d),
                                m(&q, n, d),
                                &o,
                                &Call::PLAIN,
                            )
                            .unwrap();
                        let what = format!(
                            "{n}×{d} {metric:?} {normalize} {soft_margin} {swap} {reduction:?}"
                        );
                        assert_eq!(got.loss.to_bits(), want.loss.to_bits(), "{what}");
                        assert_eq!(got.losses, want.losses, "{what}");
                        assert_eq!(got.grad_anchor, want.grad_anchor, "{what}");
                        assert_eq!(got.grad_positive, want.grad_positive, "{what}");
                        assert_eq!(got.grad_negative, want.grad_negative, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn verification_metrics_match_cpu_exactly() {
    use tripletkit_core::VerificationOptions;
    let mut rng = Rng(43);
    for &(n, d) in &[(2, 1), (301, 9), (64, 16)] {
        let a = rng.matrix(n, d);
        let mut b = rng.matrix(n, d);
        b[..d].copy_from_slice(&a[..d]);
        let same: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
        let (am, bm) = (
            MatRef::new(&a, n, d).unwrap(),
            MatRef::new(&b, n, d).unwrap(),
        );
        for metric in METRICS {
            for normalize in [false, true] {
                let o = VerificationOptions {
                    far: 0.1,
                    distance: opts(metric, normalize),
                };
                let want = Cpu
                    .verification_metrics(am, bm, &same, &o, &Call::PLAIN)
                    .unwrap();
                let got = Cuda::emulated()
                    .with_memory(2_000)
                    .verification_metrics(am, bm, &same, &o, &Call::PLAIN)
                    .unwrap();
                assert_eq!(got, want, "{n}×{d} {metric:?} {normalize}");
            }
        }
    }
}

#[test]
fn contrastive_loss_matches_cpu_within_float_rounding() {
    use tripletkit_core::{ContrastiveOptions, Reduction};
    let mut rng = Rng(47);
    for &(n, d) in &[(1, 2), (2, 3), (67, 5), (130, 17)] {
        let x = rng.matrix(n, d);
        let labels = rng.labels(n, 4);
        let xm = MatRef::new(&x, n, d).unwrap();
        for metric in METRICS {
            for normalize in [false, true] {
                for reduction in [Reduction::Mean, Reduction::Sum, Reduction::MeanActive] {
                    let o = ContrastiveOptions {
                        pos_margin: 0.5,
                        neg_margin: 2.0,
                        reduction,
                        distance: opts(metric, normalize),
                    };
                    let want = Cpu.contrastive_loss(xm, &labels, &o, &Call::PLAIN).unwrap();
                    let got = Cuda::emulated()
                        .contrastive_loss(xm, &labels, &o, &Call::PLAIN)
                        .unwrap();
                    let what = format!("{n}×{d} {metric:?} {normalize} {reduction:?}");
                    assert_eq!(
                        (got.triplets, got.active),
                        (want.triplets, want.active),
                        "{what}"
                    );
                    assert!(
                        (got.loss - want.loss).abs() <= 1e-5 * want.loss.abs().max(1.0),
                        "{what}: {} vs {}",
                        got.loss,
                        want.loss
                    );
                    // Gradients relative to the largest one.
                    let scale = want.grad.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                    let rel = |g: &[f32]| g.iter().map(|v| v / scale).collect::<Vec<_>>();
                    close(&rel(&got.grad), &rel(&want.grad), &what);
                }
            }
        }
    }
}

/// supConLoss against the cpu, with its N × N matrices on the device: what crosses the bus is
/// O(N·d) (the rows, the labels, a loss a row and the gradient), where the chunked
/// primitives it replaced moved D down and C up, 12·N² bytes. Under a budget too small for
/// them, the chunked path gives the same answer.
#[test]
fn sup_con_loss_keeps_its_matrices_on_the_device() {
    use tripletkit_core::SupConOptions;
    let mut rng = Rng(53);
    for &(n, d, classes) in &[(2, 3, 1), (3, 2, 2), (67, 5, 4), (200, 17, 9)] {
        let x = rng.matrix(n, d);
        let labels = rng.labels(n, classes);
        let xm = MatRef::new(&x, n, d).unwrap();
        for temperature in [0.07, 0.5] {
            let o = SupConOptions { temperature };
            let want = Cpu.sup_con_loss(xm, &labels, &o, &Call::PLAIN).unwrap();
            let cuda = Cuda::emulated();
            let got = cuda.sup_con_loss(xm, &labels, &o, &Call::PLAIN).unwrap();
            let [up, down] = cuda.traffic().expect("the emulator counts its copies");
            // Room for the backward products' 8·N² coefficients, not for the resident 12·N².
            let small = Cuda::emulated().with_memory(10 * n * n + 30 * n * d + 4096);
            let chunked = small.sup_con_loss(xm, &labels, &o, &Call::PLAIN).unwrap();
            let [cup, cdown] = small.traffic().expect("the emulator counts its copies");
            let what = format!("{n}×{d} τ = {temperature}");
            for (r, how) in [(&got, "resident"), (&chunked, "chunked")] {
                assert_eq!(r.anchors, want.anchors, "{what} {how}");
                assert!(
                    (r.loss - want.loss).abs() <= 1e-9 * want.loss.abs().max(1.0),
                    "{what} {how}: {} vs {}",
                    r.loss,
                    want.loss
                );
                let scale = want.grad.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                let rel = |g: &[f32]| g.iter().map(|v| v / scale).collect::<Vec<_>>();
                close(&rel(&r.grad), &rel(&want.grad), &format!("{what} {how}"));
            }
            let bus = (up + down) as usize;
            assert!(
                bus <= 64 * n * (d + 1),
                "{what}: {bus} bytes moved for {n} rows"
            );
            if n >= 67 {
                let through_host = (cup + cdown) as usize;
                assert!(
                    through_host >= 12 * n * n,
                    "{what}: the chunked path moved {through_host}"
                );
                assert!(
                    4 * bus < through_host,
                    "{what}: {bus} against {through_host} bytes"
                );
            }
        }
    }
}

#[test]
fn multiple_negatives_ranking_loss_matches_cpu_within_float_rounding() {
    use tripletkit_core::{RankingOptions, Similarity};
    let mut rng = Rng(53);
    for &(m, k, d) in &[(1, 0, 2), (5, 3, 4), (67, 0, 9), (70, 11, 16)] {
        let a = rng.matrix(m, d);
        let p = rng.matrix(m, d);
        let n = rng.matrix(k, d);
        let (am, pm) = (
            MatRef::new(&a, m, d).unwrap(),
            MatRef::new(&p, m, d).unwrap(),
        );
        let nm = (k > 0).then(|| MatRef::new(&n, k, d).unwrap());
        for similarity in [Similarity::Cosine, Similarity::Dot] {
            for symmetric in [false, true] {
                let o = RankingOptions {
                    scale: 5.0,
                    similarity,
                    symmetric,
                };
                let want = Cpu
                    .multiple_negatives_ranking_loss(am, pm, nm, &o, &Call::PLAIN)
                    .unwrap();
                // The matrices on the device, and (a budget with room for the chunked
                // primitives' coefficients only) through the host.
                let cuda = Cuda::emulated();
                let got = cuda
                    .multiple_negatives_ranking_loss(am, pm, nm, &o, &Call::PLAIN)
                    .unwrap();
                let cells = m * (m + k);
                let small = Cuda::emulated().with_memory(10 * cells + 13 * (2 * m + k) * d + 4096);
                let chunked = small
                    .multiple_negatives_ranking_loss(am, pm, nm, &o, &Call::PLAIN)
                    .unwrap();
                let what = format!("{m}+{k}×{d} {similarity:?} {symmetric}");
                let grads = |r: &tripletkit_core::RankingResult| {
                    let mut g = [r.grad_anchors.clone(), r.grad_positives.clone()].concat();
                    g.extend(r.grad_negatives.clone().unwrap_or_default());
                    g
                };
                let w = grads(&want);
                let scale = w.iter().fold(1e-6f32, |s, v| s.max(v.abs()));
                let rel = |x: &[f32]| x.iter().map(|v| v / scale).collect::<Vec<_>>();
                for (r, how) in [(&got, "resident"), (&chunked, "chunked")] {
                    assert!(
                        (r.loss - want.loss).abs() <= 1e-5 * want.loss.abs().max(1.0),
                        "{what} {how}: {} vs {}",
                        r.loss,
                        want.loss
                    );
                    close(&rel(&grads(r)), &rel(&w), &format!("{what} {how}"));
                    assert_eq!(r.grad_negatives.is_some(), want.grad_negatives.is_some());
                }
                if m >= 67 {
                    let bytes = |c: &Cuda| c.traffic().map_or(0, |[u, d]| (u + d) as usize);
                    let (bus, through_host) = (bytes(&cuda), bytes(&small));
                    assert!(
                        through_host >= 12 * cells,
                        "{what}: the chunked path moved {through_host}"
                    );
                    assert!(
                        2 * bus < through_host,
                        "{what}: {bus} against {through_host} bytes"
                    );
                }
            }
        }
    }
}

#[test]
fn ladder_loss_matches_cpu_within_float_rounding() {
    use tripletkit_core::{LadderOptions, Similarity};
    let mut rng = Rng(59);
    for &(nq, nc, d) in &[(1, 2, 3), (9, 70, 5), (66, 40, 12)] {
        let q = rng.matrix(nq, d);
        let c = rng.matrix(nc, d);
        let rel: Vec<f32> = (0..nq * nc)
            .map(|_| (rng.next() % 4) as f32 / 3.0)
            .collect();
        let (qm, cm) = (
            MatRef::new(&q, nq, d).unwrap(),
            MatRef::new(&c, nc, d).unwrap(),
        );
        let rm = MatRef::new(&rel, nq, nc).unwrap();
        for similarity in [Similarity::Cosine, Similarity::Dot] {
            for hardest in [true, false] {
                let o = LadderOptions {
                    thresholds: vec![0.9, 0.5],
                    margins: vec![0.2, 0.1],
                    weights: vec![1.0, 0.5],
                    hardest,
                    similarity,
                };
                let want = Cpu.ladder_loss(qm, cm, rm, &o, &Call::PLAIN).unwrap();
                // The matrices on the device, and (a budget with room for the chunked
                // primitives' coefficients only) through the host.
                let cuda = Cuda::emulated();
                let got = cuda.ladder_loss(qm, cm, rm, &o, &Call::PLAIN).unwrap();
                let cells = nq * nc;
                let small = Cuda::emulated().with_memory(12 * cells + 13 * (nq + nc) * d + 4096);
                let chunked = small.ladder_loss(qm, cm, rm, &o, &Call::PLAIN).unwrap();
                let what = format!("{nq}×{nc}×{d} {similarity:?} {hardest}");
                let w = [want.grad_queries.clone(), want.grad_candidates.clone()].concat();
                let scale = w.iter().fold(1e-6f32, |s, v| s.max(v.abs()));
                let rel = |x: &[f32]| x.iter().map(|v| v / scale).collect::<Vec<_>>();
                for (r, how) in [(&got, "resident"), (&chunked, "chunked")] {
                    assert!(
                        (r.loss - want.loss).abs() <= 1e-5 * want.loss.abs().max(1.0),
                        "{what} {how}: {} vs {}",
                        r.loss,
                        want.loss
                    );
                    let g = [r.grad_queries.clone(), r.grad_candidates.clone()].concat();
                    close(&rel(&g), &rel(&w), &format!("{what} {how}"));
                }
                if cells >= 2000 {
                    // The relevance goes up as an input must; D and C do not travel.
                    let bytes = |c: &Cuda| c.traffic().map_or(0, |[u, d]| (u + d) as usize);
                    let (bus, through_host) = (bytes(&cuda), bytes(&small));
                    assert!(
                        through_host >= 12 * cells,
                        "{what}: chunked moved {through_host}"
                    );
                    assert!(
                        bus <= 4 * cells + 64 * (nq + nc) * (d + 1),
                        "{what}: {bus} bytes moved"
                    );
                }
            }
        }
    }
}

/// Equal triplet lists; on a difference, says where (the lists can be long).
fn same_triplets(got: &tripletkit_core::Triplets, want: &tripletkit_core::Triplets, what: &str) {
    let first = (0..got.len().min(want.len())).find(|&t| {
        (got.anchor[t], got.positive[t], got.negative[t])
            != (want.anchor[t], want.positive[t], want.negative[t])
    });
    assert!(
        got.len() == want.len() && first.is_none(),
        "{what}: {} triplets, expected {}; first difference at {first:?}: {:?} vs {:?}",
        got.len(),
        want.len(),
        first.map(|t| (got.anchor[t], got.positive[t], got.negative[t])),
        first.map(|t| (want.anchor[t], want.positive[t], want.negative[t])),
    );
}

fn mine(
    dev: &dyn Device,
    strategy: Strategy,
    x: MatRef,
    labels: &[i32],
    reference: Option<(MatRef, &[i32])>,
    metric: Metric,
) -> Result<tripletkit_core::Triplets, Error> {
    let o = MineOptions {
        strategy,
        distance: opts(metric, false),
        ..MineOptions::default()
    };
    dev.mine_triplets(x, labels, reference, &o, &Call::PLAIN)
}

#[test]
fn batch_semihard_matches_cpu_on_random_batches_big_classes_and_chunks() {
    let mut rng = Rng(17);
    // (rows, dims, classes): classes of every size, including more than one group of 8
    // positives, one class only (no negatives), and all singletons (no positives).
    for &(n, d, classes) in &[
        (2, 3, 2),
        (67, 5, 4),
        (131, 17, 9),
        (90, 3, 1),
        (40, 4, 40),
        (150, 6, 2),
    ] {
        let x = rng.matrix(n, d);
        let labels = rng.labels(n, classes);
        let xm = MatRef::new(&x, n, d).unwrap();
        for metric in METRICS {
            let want = mine(&Cpu, Strategy::BatchSemihard, xm, &labels, None, metric).unwrap();
            for cuda in [Cuda::emulated(), Cuda::emulated().with_memory(150_000)] {
                let got = mine(&cuda, Strategy::BatchSemihard, xm, &labels, None, metric).unwrap();
                assert_eq!(got, want, "{n}×{d}, {classes} classes, {metric:?}");
            }
        }
    }
}

/// A budget that cuts the candidates in two column chunks and the anchors in several row
/// chunks: the fused kernel's buckets and farthest negatives must merge across launches.
#[test]
fn batch_semihard_merges_column_chunks() {
    let mut rng = Rng(29);
    let (n, d) = (600, 40);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 7);
    let xm = MatRef::new(&x, n, d).unwrap();
    let want = mine(
        &Cpu,
        Strategy::BatchSemihard,
        xm,
        &labels,
        None,
        Metric::Euclidean,
    )
    .unwrap();
    let cuda = Cuda::emulated().with_memory(300_000);
    let got = mine(
        &cuda,
        Strategy::BatchSemihard,
        xm,
        &labels,
        None,
        Metric::Euclidean,
    )
    .unwrap();
    assert_eq!(got, want);
}

#[test]
fn batch_semihard_with_ties_and_a_reference_set() {
    // Integer points: many equal distances, so every tie rule is exercised.
    let x: Vec<f32> = (0..120).map(|i| ((i * 5) % 4) as f32).collect();
    let labels: Vec<i32> = (0..60).map(|i| i % 3).collect();
    let xm = MatRef::new(&x, 60, 2).unwrap();
    for metric in [Metric::SqEuclidean, Metric::Euclidean] {
        let want = mine(&Cpu, Strategy::BatchSemihard, xm, &labels, None, metric).unwrap();
        let got = mine(
            &Cuda::emulated(),
            Strategy::BatchSemihard,
            xm,
            &labels,
            None,
            metric,
        )
        .unwrap();
        assert_eq!(got, want);
    }
    let mut rng = Rng(19);
    let r = rng.matrix(80, 2);
    let rl = rng.labels(80, 4);
    let rm = MatRef::new(&r, 80, 2).unwrap();
    let reference = Some((rm, &rl[..]));
    let want = mine(
        &Cpu,
        Strategy::BatchSemihard,
        xm,
        &labels,
        reference,
        Metric::Cosine,
    )
    .unwrap();
    let got = mine(
        &Cuda::emulated(),
        Strategy::BatchSemihard,
        xm,
        &labels,
        reference,
        Metric::Cosine,
    )
    .unwrap();
    assert_eq!(got, want);
}

#[test]
fn batch_semihard_loss_and_its_triplet_limit() {
    let mut rng = Rng(23);
    let (n, d) = (50, 8);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 4);
    let xm = MatRef::new(&x, n, d).unwrap();
    let mining = Mining::Strategy(Strategy::BatchSemihard);
    let o = LossOptions::default();
    let want = Cpu
        .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
        .unwrap();
    let got = Cuda::emulated()
        .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
        .unwrap();
    assert_eq!(
        (got.triplets, got.active, got.grad),
        (want.triplets, want.active, want.grad)
    );
    let small = MineOptions {
        strategy: Strategy::BatchSemihard,
        max_triplets: 10,
        ..MineOptions::default()
    };
    let err = Cuda::emulated()
        .mine_triplets(xm, &labels, None, &small, &Call::PLAIN)
        .unwrap_err();
    assert_eq!(err, Error::TooManyTriplets { limit: 10 });
}

#[test]
fn retrieval_metrics_rank_by_knn_and_match_cpu() {
    use tripletkit_core::RetrievalOptions;
    let mut rng = Rng(29);
    let (n, d) = (130, 6);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 7);
    let r = rng.matrix(90, d);
    let rl = rng.labels(90, 9);
    let xm = MatRef::new(&x, n, d).unwrap();
    let rm = MatRef::new(&r, 90, d).unwrap();
    for k in [1, 5, 200] {
        for metric in METRICS {
            let o = RetrievalOptions {
                k,
                distance: opts(metric, false),
            };
            for reference in [None, Some((rm, &rl[..]))] {
                let want = Cpu
                    .retrieval_metrics(xm, &labels, reference, &o, &Call::PLAIN)
                    .unwrap();
                let got = Cuda::emulated()
                    .retrieval_metrics(xm, &labels, reference, &o, &Call::PLAIN)
                    .unwrap();
                assert_eq!(got.queries, want.queries);
                for (g, w) in [
                    (got.precision_at_1, want.precision_at_1),
                    (got.r_precision, want.r_precision),
                    (got.map_at_r, want.map_at_r),
                    (got.mrr, want.mrr),
                    (got.recall_at_k, want.recall_at_k),
                    (got.precision_at_k, want.precision_at_k),
                ] {
                    assert!(
                        (g - w).abs() < 1e-12,
                        "k={k} {metric:?}: {got:?} vs {want:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn set_strategies_match_cpu_in_order_with_ties_chunks_and_limits() {
    let mut rng = Rng(31);
    let strategies = [
        Strategy::All,
        Strategy::Violating,
        Strategy::Hard,
        Strategy::Semihard,
        Strategy::Easy,
    ];
    // Integer points give ties at the margin's edges; random ones give everything else.
    let ints: Vec<f32> = (0..140).map(|i| ((i * 7) % 5) as f32).collect();
    let rand = rng.matrix(70, 2);
    let labels = rng.labels(70, 4);
    for x in [ints, rand] {
        let xm = MatRef::new(&x, 70, 2).unwrap();
        for strategy in strategies {
            for metric in [Metric::Euclidean, Metric::SqEuclidean, Metric::Dot] {
                let o = MineOptions {
                    strategy,
                    margin: 1.0,
                    distance: opts(metric, false),
                    ..MineOptions::default()
                };
                let want = Cpu
                    .mine_triplets(xm, &labels, None, &o, &Call::PLAIN)
                    .unwrap();
                for cuda in [Cuda::emulated(), Cuda::emulated().with_memory(200_000)] {
                    let got = cuda
                        .mine_triplets(xm, &labels, None, &o, &Call::PLAIN)
                        .unwrap();
                    same_triplets(&got, &want, &format!("{strategy:?} {metric:?}"));
                }
                if want.len() > 1 {
                    let capped = MineOptions {
                        max_triplets: want.len() - 1,
                        ..o
                    };
                    let err = Cuda::emulated()
                        .mine_triplets(xm, &labels, None, &capped, &Call::PLAIN)
                        .unwrap_err();
                    assert_eq!(
                        err,
                        Error::TooManyTriplets {
                            limit: want.len() - 1
                        }
                    );
                }
            }
        }
    }
    let r = rng.matrix(50, 2);
    let rl = rng.labels(50, 4);
    let x = rng.matrix(30, 2);
    let xl = rng.labels(30, 4);
    let (xm, rm) = (
        MatRef::new(&x, 30, 2).unwrap(),
        MatRef::new(&r, 50, 2).unwrap(),
    );
    let o = MineOptions {
        strategy: Strategy::Semihard,
        margin: 0.5,
        ..MineOptions::default()
    };
    let want = Cpu
        .mine_triplets(xm, &xl, Some((rm, &rl)), &o, &Call::PLAIN)
        .unwrap();
    let got = Cuda::emulated()
        .mine_triplets(xm, &xl, Some((rm, &rl)), &o, &Call::PLAIN)
        .unwrap();
    assert_eq!(got, want);
}

#[test]
fn loss_over_given_triplets_and_set_strategies_matches_cpu() {
    let mut rng = Rng(37);
    let (n, d) = (40, 5);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 3);
    let xm = MatRef::new(&x, n, d).unwrap();
    let o = LossOptions::default();
    let t = Cpu
        .mine_triplets(xm, &labels, None, &MineOptions::default(), &Call::PLAIN)
        .unwrap();
    for mining in [
        Mining::Strategy(Strategy::Semihard),
        Mining::Strategy(Strategy::All),
        Mining::Triplets {
            anchor: &t.anchor,
            positive: &t.positive,
            negative: &t.negative,
        },
    ] {
        let want = Cpu
            .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
            .unwrap();
        let got = Cuda::emulated()
            .triplet_loss(xm, &labels, None, mining, &o, &Call::PLAIN)
            .unwrap();
        assert_eq!(
            (got.triplets, got.active, got.grad),
            (want.triplets, want.active, want.grad)
        );
    }
}

/// Launches are queued, not waited for: the host waits only where it reads results (a
/// chunk's extremes), however many column chunks each row chunk launches; each read waits for
/// its own chunk alone, while the next chunk's launches stay queued; and the answers are the
/// cpu's although every kernel ran only at those reads.
#[test]
fn launches_queue_and_the_host_waits_only_where_it_reads() {
    let mut rng = Rng(97);
    let (n, d) = (700, 24);
    let x = rng.matrix(n, d);
    let labels = rng.labels(n, 7);
    let xm = MatRef::new(&x, n, d).unwrap();
    let want = batch_hard(&Cpu, xm, &labels, None, Metric::Euclidean).unwrap();
    for memory in [None, Some(45_000)] {
        let cuda = memory.map_or_else(Cuda::emulated, |m| Cuda::emulated().with_memory(m));
        let before = cuda.queue_counts().expect("the emulator counts its queue");
        let got = batch_hard(&cuda, xm, &labels, None, Metric::Euclidean).unwrap();
        assert_eq!(got, want, "memory {memory:?}");
        let after = cuda.queue_counts().unwrap();
        let (launches, waits) = (after.launches - before.launches, after.waits - before.waits);
        eprintln!("memory {memory:?}: {launches} launches, {waits} waits");
        assert!(
            waits >= 2,
            "one read a row chunk, and several chunks: {waits}"
        );
        assert!(launches >= waits, "{launches} launches, {waits} waits");
        // Every read but the last leaves the next chunk's launches queued: the device runs
        // them while the host merges.
        let (reads, overlapped) = (
            after.reads - before.reads,
            after.overlapped - before.overlapped,
        );
        assert_eq!(reads, waits, "every wait is a chunk's read");
        assert_eq!(overlapped, reads - 1, "{after:?}");
        if memory.is_some() {
            assert!(launches >= 3 * waits, "{launches} launches, {waits} waits");
        }
        // Each row chunk after the first uploads its rows while the chunk before is queued:
        // the copy may run beside those kernels (the stream check holds every such copy to
        // the waits that make it safe).
        let (uploads, beside) = (
            after.uploads - before.uploads,
            after.uploads_beside - before.uploads_beside,
        );
        eprintln!("memory {memory:?}: {uploads} uploads, {beside} beside kernels");
        assert!(beside >= waits - 1, "{after:?}");
    }
}

/// knn reads each row chunk's lists one chunk behind: each read waits for its own chunk
/// alone and leaves the next chunk's launches queued, and the lists are the cpu's.
#[test]
fn knn_reads_a_chunk_behind_its_launches() {
    let mut rng = Rng(101);
    let (nq, nc, d, k) = (300, 500, 16, 9);
    let (q, c) = (rng.matrix(nq, d), rng.matrix(nc, d));
    let qm = MatRef::new(&q, nq, d).unwrap();
    let cm = MatRef::new(&c, nc, d).unwrap();
    let metric = opts(Metric::Euclidean, false);
    let o = KnnOptions {
        k,
        ..KnnOptions::default()
    };
    let want = Cpu.knn_once(qm, cm, &metric, &o, &Call::PLAIN).unwrap();
    let cuda = Cuda::emulated().with_memory(60_000);
    let before = cuda.queue_counts().unwrap();
    let got = cuda.knn_once(qm, cm, &metric, &o, &Call::PLAIN).unwrap();
    assert_eq!(got.indices, want.indices);
    close(&got.distances, &want.distances, "knn distances");
    let after = cuda.queue_counts().unwrap();
    let (reads, overlapped) = (
        after.reads - before.reads,
        after.overlapped - before.overlapped,
    );
    assert!(reads >= 4, "several row chunks, two reads each: {after:?}");
    // Each chunk's two reads but the last chunk's leave the next chunk's launches queued.
    assert_eq!(overlapped, reads - 2, "{after:?}");
}

/// A corpus kept on the device by a search on one thread is searched from others: the kept
/// copy is written before any other thread's work reads it (the emulator runs each thread's
/// queue only when that thread reads, so a copy still queued would be read as garbage).
#[test]
fn a_kept_corpus_is_read_from_other_threads() {
    let mut rng = Rng(113);
    let (nq, nc, d, k) = (23, 900, 11, 5);
    let (q, c) = (rng.matrix(nq, d), rng.matrix(nc, d));
    let qm = MatRef::new(&q, nq, d).unwrap();
    let cm = MatRef::new(&c, nc, d).unwrap();
    let metric = opts(Metric::Cosine, false);
    let o = KnnOptions {
        k,
        ..KnnOptions::default()
    };
    let want = Cpu.knn_once(qm, cm, &metric, &o, &Call::PLAIN).unwrap();
    let cuda = Cuda::emulated();
    let corpus = cuda.prepare_corpus(c.clone(), nc, d, &metric).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            // Keeps the corpus, then stops before reading anything, so that nothing on this
            // thread waits for the copy.
            let flag = std::sync::atomic::AtomicBool::new(true);
            let stopped = Call::stoppable(tripletkit_core::Stop::on(&flag));
            assert!(cuda.knn(qm, &*corpus, &o, &stopped).is_err());
        });
    });
    assert!(
        corpus.device_bytes() > 0,
        "the first search kept the corpus"
    );
    for _ in 0..2 {
        std::thread::scope(|s| {
            s.spawn(|| {
                let got = cuda.knn(qm, &*corpus, &o, &Call::PLAIN).unwrap();
                assert_eq!(got.indices, want.indices);
                close(&got.distances, &want.distances, "knn from another thread");
            });
        });
    }
}
