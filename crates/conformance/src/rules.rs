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

/// Every argument rule is an `Err(Invalid)` naming the argument, never a panic.
pub fn rules(dev: &dyn Device) {
    let m = line();
    let half = MatRef::new(&X[..2], 2, 1).expect("2 × 1");
    let wide = MatRef::new(&X, 2, 2).expect("2 × 2");
    invalid(dev, MatRef::new(&X, 3, 1), "matrix: expected 3 × 1 values");
    invalid(
        dev,
        MatRef::new(&[1.0, f32::NAN], 2, 1),
        "matrix: expected finite numbers",
    );
    invalid(
        dev,
        dev.pairwise_distances(m, Some(wide), &euclidean(), PLAIN),
        "b: expected 1 columns",
    );
    invalid(
        dev,
        mine(dev, m, &LABELS[..3], Strategy::All, 0.2, 100),
        "labels: expected 4 labels",
    );
    invalid(
        dev,
        mine(dev, m, &LABELS, Strategy::All, f64::NAN, 100),
        "margin: expected a finite number",
    );
    for (k, exclude_self) in [(0, false), (5, false), (4, true)] {
        let o = KnnOptions {
            k,
            exclude_self,
            query_offset: 0,
        };
        invalid(
            dev,
            dev.knn_once(m, m, &euclidean(), &o, PLAIN),
            "k: expected an integer from 1",
        );
    }
    let corpus = dev
        .prepare_corpus(X.to_vec(), 2, 2, &euclidean())
        .expect("2 × 2 corpus");
    invalid(
        dev,
        dev.knn(m, &*corpus, &KnnOptions::default(), PLAIN),
        "corpus: expected 1 columns (the columns of queries), received 2",
    );
    invalid(
        dev,
        dev.prepare_corpus(vec![1.0; 3], 2, 2, &euclidean())
            .map(|c| c.rows()),
        "corpus: expected 2 × 2 values",
    );
    let mo = MarginLossOptions::default();
    invalid(
        dev,
        dev.triplet_margin_loss(m, half, m, &mo, PLAIN),
        "positive: expected 4 × 1",
    );
    invalid(
        dev,
        dev.triplet_margin_loss(m, m, wide, &mo, PLAIN),
        "negative: expected 4 × 1",
    );
    let bad_reduction = MarginLossOptions {
        reduction: Reduction::MeanActive,
        ..mo
    };
    invalid(
        dev,
        dev.triplet_margin_loss(m, m, m, &bad_reduction, PLAIN),
        "reduction: expected one of",
    );
    let lo = LossOptions::default();
    let given = |a: &'static [i32], p: &'static [i32], n: &'static [i32]| Mining::Triplets {
        anchor: a,
        positive: p,
        negative: n,
    };
    let cases: [(Mining, &str); 5] = [
        (
            given(&[0], &[1], &[]),
            "triplets.negative: expected 1 indices",
        ),
        (
            given(&[0], &[1], &[4]),
            "triplets.negative[0]: expected an index from 0 to 4 − 1",
        ),
        (
            given(&[0], &[0], &[2]),
            "triplets: triplet 0 (anchor 0, positive 0, negative 2): expected anchor ≠ positive",
        ),
        (
            given(&[0], &[2], &[3]),
            "triplets: triplet 0 (anchor 0, positive 2, negative 3): expected the positive",
        ),
        (
            given(&[0], &[1], &[1]),
            "triplets: triplet 0 (anchor 0, positive 1, negative 1): expected the negative",
        ),
    ];
    for (mining, prefix) in cases {
        invalid(
            dev,
            dev.triplet_loss(m, &LABELS, None, mining, &lo, PLAIN),
            prefix,
        );
    }
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS[..1],
            None,
            Mining::Strategy(Strategy::BatchHard),
            &lo,
            PLAIN,
        ),
        "labels: expected 4 labels",
    );
    let none = LossOptions {
        reduction: Reduction::None,
        ..lo
    };
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS,
            None,
            Mining::Strategy(Strategy::BatchHard),
            &none,
            PLAIN,
        ),
        "reduction: expected one of",
    );
    invalid(
        dev,
        dev.contrastive_loss(m, &LABELS[..3], &ContrastiveOptions::default(), PLAIN),
        "labels: expected 4 labels",
    );
    let nan_margin = ContrastiveOptions {
        neg_margin: f64::NAN,
        ..ContrastiveOptions::default()
    };
    invalid(
        dev,
        dev.contrastive_loss(m, &LABELS, &nan_margin, PLAIN),
        "negMargin: expected a finite number",
    );
    let rko = RankingOptions::default();
    invalid(
        dev,
        dev.multiple_negatives_ranking_loss(m, half, None, &rko, PLAIN),
        "positives: expected 4 × 1",
    );
    invalid(
        dev,
        dev.multiple_negatives_ranking_loss(m, m, Some(wide), &rko, PLAIN),
        "negatives: expected 1 columns",
    );
    let vo = VerificationOptions::default();
    invalid(
        dev,
        dev.verification_metrics(m, m, &[1, 0], &vo, PLAIN),
        "same: expected 4 flags",
    );
    invalid(
        dev,
        dev.verification_metrics(m, m, &[1, 1, 1, 1], &vo, PLAIN),
        "same: expected at least one same",
    );
    invalid(
        dev,
        dev.verification_metrics(m, half, &[1, 0, 1, 0], &vo, PLAIN),
        "b: expected 4 × 1",
    );
    let far = VerificationOptions { far: 1.5, ..vo };
    invalid(
        dev,
        dev.verification_metrics(m, m, &[1, 0, 1, 0], &far, PLAIN),
        "opts.far: expected a rate from 0 to 1",
    );
    let bank = MatRef::new(&X[..2], 2, 1).expect("2 × 1");
    invalid(
        dev,
        dev.mine_triplets(
            m,
            &LABELS,
            Some((bank, &LABELS[..1])),
            &MineOptions::default(),
            PLAIN,
        ),
        "referenceLabels: expected 2 labels",
    );
    let long_labels = Mining::Triplets {
        anchor: &[0],
        positive: &[3],
        negative: &[1],
    };
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS,
            Some((bank, &LABELS[..])),
            long_labels,
            &LossOptions::default(),
            PLAIN,
        ),
        "referenceLabels: expected 2 labels",
    );
    let memory_triplet = Mining::Triplets {
        anchor: &[0],
        positive: &[2],
        negative: &[1],
    };
    invalid(
        dev,
        dev.triplet_loss(
            m,
            &LABELS,
            Some((bank, &LABELS[..2])),
            memory_triplet,
            &LossOptions::default(),
            PLAIN,
        ),
        "triplets.positive[0]: expected an index from 0 to 2 − 1",
    );
    let oo = OasisOptions {
        c: 0.1,
        steps: 1,
        state: 0,
    };
    if dev.supports(Op::FitOasis) {
        invalid(
            dev,
            dev.oasis_steps(m, &LABELS, &[1.0, 0.0], &oo, PLAIN),
            "weights: expected 1 × 1 values, received 2",
        );
        let no_c = OasisOptions { c: 0.0, ..oo };
        invalid(
            dev,
            dev.oasis_steps(m, &LABELS, &[1.0], &no_c, PLAIN),
            "c: expected a positive number",
        );
    } else {
        // An op the device does not run is refused as such, before its arguments are read.
        let r = dev.oasis_steps(m, &LABELS, &[1.0, 0.0], &oo, PLAIN);
        assert!(
            matches!(r, Err(Error::DeviceUnavailable { .. })),
            "{}: fitOasis {r:?}",
            dev.name()
        );
    }
    let ro = RetrievalOptions::default();
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS[..2], None, &ro, PLAIN),
        "queryLabels: expected 4 labels",
    );
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS, Some((half, &LABELS[..1])), &ro, PLAIN),
        "referenceLabels: expected 2 labels",
    );
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS, Some((wide, &LABELS[..2])), &ro, PLAIN),
        "reference: expected 1 columns",
    );
    let k0 = RetrievalOptions { k: 0, ..ro };
    invalid(
        dev,
        dev.retrieval_metrics(m, &LABELS, None, &k0, PLAIN),
        "k: expected an integer ≥ 1",
    );
}
