//! The argument rules.
use crate::common::*;
use tripletkit_core::{
    ContrastiveOptions, Device, Error, KnnOptions, LossOptions, MarginLossOptions, MatRef,
    MineOptions, Mining, OasisOptions, Op, Ops, RankingOptions, Reduction, RetrievalOptions,
    Strategy, VerificationOptions,
};

/// Asserts that `r` is `Err(Invalid)` with a message starting with `prefix`.
fn invalid<T: std::fmt::Debug>(dev: &dyn Device, r: Result<T, Error>, prefix: &str) {
    match r {
        Err(Error::Invalid(msg)) if msg.starts_with(prefix) => {}
        other => panic!(
            "{}: expected Invalid(\"{prefix}…\"), got {other:?}",
            dev.name()
        ),
    }
}

/// A refused call: the start of the message it must give, and the call.
struct Refused {
    says: &'static str,
    call: fn(&dyn Device) -> Result<(), Error>,
}

fn half() -> MatRef<'static> {
    MatRef::new(&X[..2], 2, 1).expect("2 × 1")
}

fn wide() -> MatRef<'static> {
    MatRef::new(&X, 2, 2).expect("2 × 2")
}

fn given(a: &'static [i32], p: &'static [i32], n: &'static [i32]) -> Mining<'static> {
    Mining::Triplets {
        anchor: a,
        positive: p,
        negative: n,
    }
}

fn loss(
    dev: &dyn Device,
    labels: &[i32],
    reference: Option<&'static [i32]>,
    mining: Mining,
    o: &LossOptions,
) -> Result<(), Error> {
    let reference = reference.map(|l| (half(), l));
    dev.triplet_loss(line(), labels, reference, mining, o, PLAIN)
        .map(drop)
}

const BATCH_HARD: Mining<'static> = Mining::Strategy(Strategy::BatchHard);
const KNN: fn(usize, bool) -> KnnOptions = |k, exclude_self| KnnOptions {
    k,
    exclude_self,
    query_offset: 0,
};

/// Every argument rule of every op on the line (`common`), one refused call a row.
#[rustfmt::skip] // one call a row
const REFUSED: &[Refused] = &[
    Refused { says: "matrix: expected 3 × 1 values", call: |_| MatRef::new(&X, 3, 1).map(drop) },
    Refused { says: "matrix: expected finite numbers", call: |_| MatRef::new(&[1.0, f32::NAN], 2, 1).map(drop) },
    Refused { says: "b: expected 1 columns", call: |d| d.pairwise_distances(line(), Some(wide()), &euclidean(), PLAIN).map(drop) },
    Refused { says: "labels: expected 4 labels", call: |d| mine(d, line(), &LABELS[..3], Strategy::All, 0.2, 100).map(drop) },
    Refused { says: "margin: expected a finite number", call: |d| mine(d, line(), &LABELS, Strategy::All, f64::NAN, 100).map(drop) },
    Refused { says: "opts.k: expected an integer from 1", call: |d| d.knn_once(line(), line(), &euclidean(), &KNN(0, false), PLAIN).map(drop) },
    Refused { says: "opts.k: expected an integer from 1", call: |d| d.knn_once(line(), line(), &euclidean(), &KNN(5, false), PLAIN).map(drop) },
    Refused { says: "opts.k: expected an integer from 1", call: |d| d.knn_once(line(), line(), &euclidean(), &KNN(4, true), PLAIN).map(drop) },
    Refused { says: "corpus: expected 1 columns (the columns of queries), received 2", call: |d| {
        let corpus = d.prepare_corpus(X.to_vec(), 2, 2, &euclidean())?;
        d.knn(line(), &*corpus, &KnnOptions::default(), PLAIN).map(drop)
    } },
    Refused { says: "corpus: expected 2 × 2 values", call: |d| d.prepare_corpus(vec![1.0; 3], 2, 2, &euclidean()).map(drop) },
    Refused { says: "positive: expected 4 × 1", call: |d| d.triplet_margin_loss(line(), half(), line(), &MarginLossOptions::default(), PLAIN).map(drop) },
    Refused { says: "negative: expected 4 × 1", call: |d| d.triplet_margin_loss(line(), line(), wide(), &MarginLossOptions::default(), PLAIN).map(drop) },
    Refused { says: "reduction: expected one of", call: |d| {
        let o = MarginLossOptions { reduction: Reduction::MeanActive, ..MarginLossOptions::default() };
        d.triplet_margin_loss(line(), line(), line(), &o, PLAIN).map(drop)
    } },
    Refused { says: "opts.mining.negative: expected 1 indices", call: |d| loss(d, &LABELS, None, given(&[0], &[1], &[]), &LossOptions::default()) },
    Refused { says: "opts.mining.negative[0]: expected an index from 0 to 3 (the rows of embeddings: 4)", call: |d| loss(d, &LABELS, None, given(&[0], &[1], &[4]), &LossOptions::default()) },
    Refused { says: "opts.mining: triplet 0 (anchor 0, positive 0, negative 2): expected anchor ≠ positive", call: |d| loss(d, &LABELS, None, given(&[0], &[0], &[2]), &LossOptions::default()) },
    Refused { says: "opts.mining: triplet 0 (anchor 0, positive 2, negative 3): expected the positive", call: |d| loss(d, &LABELS, None, given(&[0], &[2], &[3]), &LossOptions::default()) },
    Refused { says: "opts.mining: triplet 0 (anchor 0, positive 1, negative 1): expected the negative", call: |d| loss(d, &LABELS, None, given(&[0], &[1], &[1]), &LossOptions::default()) },
    Refused { says: "labels: expected 4 labels", call: |d| loss(d, &LABELS[..1], None, BATCH_HARD, &LossOptions::default()) },
    Refused { says: "reduction: expected one of", call: |d| loss(d, &LABELS, None, BATCH_HARD, &LossOptions { reduction: Reduction::None, ..LossOptions::default() }) },
    Refused { says: "referenceLabels: expected 2 labels", call: |d| loss(d, &LABELS, Some(&LABELS), given(&[0], &[3], &[1]), &LossOptions::default()) },
    Refused { says: "opts.mining.positive[0]: expected an index from 0 to 1 (the rows of opts.reference: 2)", call: |d| loss(d, &LABELS, Some(&LABELS[..2]), given(&[0], &[2], &[1]), &LossOptions::default()) },
    Refused { says: "referenceLabels: expected 2 labels", call: |d| d.mine_triplets(line(), &LABELS, Some((half(), &LABELS[..1])), &MineOptions::default(), PLAIN).map(drop) },
    Refused { says: "labels: expected 4 labels", call: |d| d.contrastive_loss(line(), &LABELS[..3], &ContrastiveOptions::default(), PLAIN).map(drop) },
    Refused { says: "negMargin: expected a finite number", call: |d| {
        let o = ContrastiveOptions { neg_margin: f64::NAN, ..ContrastiveOptions::default() };
        d.contrastive_loss(line(), &LABELS, &o, PLAIN).map(drop)
    } },
    Refused { says: "positives: expected 4 × 1", call: |d| d.multiple_negatives_ranking_loss(line(), half(), None, &RankingOptions::default(), PLAIN).map(drop) },
    Refused { says: "negatives: expected 1 columns", call: |d| d.multiple_negatives_ranking_loss(line(), line(), Some(wide()), &RankingOptions::default(), PLAIN).map(drop) },
    Refused { says: "same: expected 4 flags", call: |d| d.verification_metrics(line(), line(), &[1, 0], &VerificationOptions::default(), PLAIN).map(drop) },
    Refused { says: "same: expected at least one same", call: |d| d.verification_metrics(line(), line(), &[1, 1, 1, 1], &VerificationOptions::default(), PLAIN).map(drop) },
    Refused { says: "b: expected 4 × 1", call: |d| d.verification_metrics(line(), half(), &[1, 0, 1, 0], &VerificationOptions::default(), PLAIN).map(drop) },
    Refused { says: "opts.far: expected a rate from 0 to 1", call: |d| {
        let o = VerificationOptions { far: 1.5, ..VerificationOptions::default() };
        d.verification_metrics(line(), line(), &[1, 0, 1, 0], &o, PLAIN).map(drop)
    } },
    Refused { says: "queryLabels: expected 4 labels", call: |d| d.retrieval_metrics(line(), &LABELS[..2], None, &RetrievalOptions::default(), PLAIN).map(drop) },
    Refused { says: "referenceLabels: expected 2 labels", call: |d| d.retrieval_metrics(line(), &LABELS, Some((half(), &LABELS[..1])), &RetrievalOptions::default(), PLAIN).map(drop) },
    Refused { says: "reference: expected 1 columns", call: |d| d.retrieval_metrics(line(), &LABELS, Some((wide(), &LABELS[..2])), &RetrievalOptions::default(), PLAIN).map(drop) },
    Refused { says: "k: expected an integer ≥ 1", call: |d| d.retrieval_metrics(line(), &LABELS, None, &RetrievalOptions { k: 0, ..RetrievalOptions::default() }, PLAIN).map(drop) },
];

/// Every argument rule is an `Err(Invalid)` naming the argument, never a panic: the table,
/// then fitOasis's, which only devices that run it read.
pub fn rules(dev: &dyn Device) {
    for r in REFUSED {
        invalid(dev, (r.call)(dev), r.says);
    }
    let oo = OasisOptions {
        c: 0.1,
        steps: 1,
        state: 0,
    };
    if dev.supports(Op::FitOasis) {
        invalid(
            dev,
            dev.oasis_steps(line(), &LABELS, &[1.0, 0.0], &oo, PLAIN),
            "weights: expected 1 × 1 values, received 2",
        );
        let no_c = OasisOptions { c: 0.0, ..oo };
        invalid(
            dev,
            dev.oasis_steps(line(), &LABELS, &[1.0], &no_c, PLAIN),
            "c: expected a positive number",
        );
    } else {
        // An op the device does not run is refused as such, before its arguments are read.
        let r = dev.oasis_steps(line(), &LABELS, &[1.0, 0.0], &oo, PLAIN);
        assert!(
            matches!(r, Err(Error::DeviceUnavailable { .. })),
            "{}: fitOasis {r:?}",
            dev.name()
        );
    }
}
