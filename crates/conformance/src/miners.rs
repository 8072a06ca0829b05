//! The miners: every strategy on the line, ties, the triplet limit, cross-batch memory.
use crate::common::*;
use tripletkit_core::{Device, Error, MatRef, MineOptions, Ops, Strategy};

/// A mining case worked out by hand: the rows (one column), their labels, the reference set
/// if any, the strategy and margin, and what it must give.
struct Case {
    what: &'static str,
    x: &'static [f32],
    labels: &'static [i32],
    reference: Option<(&'static [f32], &'static [i32])>,
    strategy: Strategy,
    margin: f64,
    gives: Gives,
}

enum Gives {
    /// Exactly these triplets, in (anchor, positive, negative) order.
    Triplets(&'static [(i32, i32, i32)]),
    /// This many triplets.
    Count(usize),
}

const LINE: &[f32] = &X;
// Cross-batch: anchors x = [0, 10] (labels 0, 1); the reference r = [1, 3, 9, 12] (labels 0,
// 1, 1, 0) gives the positives and negatives. Anchor 0: positives r0 (d 1), r3 (12), negatives
// r1 (3), r2 (9). Anchor 1: positives r1 (7), r2 (1), negatives r0 (9), r3 (2).
const ANCHORS: &[f32] = &[0.0, 10.0];
const REFERENCE: Option<(&[f32], &[i32])> = Some((&[1.0, 3.0, 9.0, 12.0], &[0, 1, 1, 0]));

/// The line's triplets (see `common`), by strategy; the set strategies at margin 1.5.
#[rustfmt::skip] // one case a row
const CASES: &[Case] = &[
    Case { what: "all", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::All, margin: 1.5,
        gives: Gives::Triplets(&[(0, 1, 2), (0, 1, 3), (1, 0, 2), (1, 0, 3), (2, 3, 0), (2, 3, 1), (3, 2, 0), (3, 2, 1)]) },
    Case { what: "violating", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::Violating, margin: 1.5,
        gives: Gives::Triplets(&[(1, 0, 2), (2, 3, 0), (2, 3, 1)]) },
    Case { what: "hard", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::Hard, margin: 1.5,
        gives: Gives::Triplets(&[(2, 3, 0), (2, 3, 1)]) },
    Case { what: "semihard", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::Semihard, margin: 1.5,
        gives: Gives::Triplets(&[(1, 0, 2)]) },
    Case { what: "easy", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::Easy, margin: 1.5,
        gives: Gives::Triplets(&[(0, 1, 2), (0, 1, 3), (1, 0, 3), (3, 2, 0), (3, 2, 1)]) },
    Case { what: "batch-hard", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::BatchHard, margin: 0.2,
        gives: Gives::Triplets(&[(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)]) },
    // (2, 3): no negative is farther than d(2, 3) = 3, so batch-semihard takes the farthest (0).
    Case { what: "batch-semihard", x: LINE, labels: &LABELS, reference: None, strategy: Strategy::BatchSemihard, margin: 0.2,
        gives: Gives::Triplets(&[(0, 1, 2), (1, 0, 2), (2, 3, 0), (3, 2, 1)]) },
    Case { what: "cross-batch batch-hard", x: ANCHORS, labels: &[0, 1], reference: REFERENCE, strategy: Strategy::BatchHard, margin: 0.5,
        gives: Gives::Triplets(&[(0, 3, 1), (1, 1, 3)]) },
    Case { what: "cross-batch batch-semihard", x: ANCHORS, labels: &[0, 1], reference: REFERENCE, strategy: Strategy::BatchSemihard, margin: 0.5,
        gives: Gives::Triplets(&[(0, 0, 1), (0, 3, 2), (1, 1, 0), (1, 2, 3)]) },
    Case { what: "cross-batch all", x: ANCHORS, labels: &[0, 1], reference: REFERENCE, strategy: Strategy::All, margin: 0.5,
        gives: Gives::Count(8) },
];

/// The miners' small cases, worked out by hand: the table, then ties and the triplet limit.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
    for c in CASES {
        let one_col = |v: &'static [f32]| MatRef::new(v, v.len(), 1).expect("one column");
        let o = MineOptions {
            strategy: c.strategy,
            margin: c.margin,
            ..MineOptions::default()
        };
        let reference = c.reference.map(|(r, l)| (one_col(r), l));
        let t = dev
            .mine_triplets(one_col(c.x), c.labels, reference, &o, PLAIN)
            .unwrap_or_else(|e| panic!("{name}: {}: {e}", c.what));
        match c.gives {
            Gives::Triplets(want) => assert_eq!(tuples(&t), want, "{name}: {}", c.what),
            Gives::Count(n) => assert_eq!(t.len(), n, "{name}: {}", c.what),
        }
    }

    // Ties go to the lower index: x = [0, 1, 1, −1, −1], labels [0, 0, 0, 1, 1]: anchor 0 has
    // positives 1 and 2 at 1 and negatives 3 and 4 at 1, so batch-hard takes (0, 1, 3).
    let x = [0.0f32, 1.0, 1.0, -1.0, -1.0];
    let t = mine(
        dev,
        MatRef::new(&x, 5, 1).expect("5 × 1"),
        &[0, 0, 0, 1, 1],
        Strategy::BatchHard,
        0.2,
        100,
    )
    .expect("ties");
    assert_eq!(tuples(&t)[0], (0, 1, 3), "{name}: ties");

    // Too many triplets is an error, not an allocation: 4 batch triplets here, 8 in `all`.
    for strategy in [Strategy::BatchHard, Strategy::BatchSemihard] {
        let run = |max| mine(dev, line(), &LABELS, strategy, 0.2, max);
        assert_eq!(
            run(3).unwrap_err(),
            Error::TooManyTriplets { limit: 3 },
            "{name}: {strategy:?}"
        );
        assert_eq!(run(4).expect("4 fit").len(), 4, "{name}: {strategy:?}");
    }
    assert_eq!(
        mine(dev, line(), &LABELS, Strategy::All, 0.2, 7).unwrap_err(),
        Error::TooManyTriplets { limit: 7 }
    );
}
