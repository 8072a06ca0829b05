//! The miners: every strategy on the line, ties, the triplet limit, cross-batch memory.
use crate::common::*;
use tripletkit_core::{Device, Error, MatRef, MineOptions, Ops, Strategy};

/// The miners' small cases, worked out by hand.
pub fn hand_worked(dev: &dyn Device) {
    let name = dev.name();
    // Set strategies, ascending (a, p, n).
    let all = vec![
        (0, 1, 2),
        (0, 1, 3),
        (1, 0, 2),
        (1, 0, 3),
        (2, 3, 0),
        (2, 3, 1),
        (3, 2, 0),
        (3, 2, 1),
    ];
    assert_eq!(on_line(dev, Strategy::All, 1.5), all, "{name}: all");
    assert_eq!(
        on_line(dev, Strategy::Violating, 1.5),
        vec![(1, 0, 2), (2, 3, 0), (2, 3, 1)],
        "{name}: violating"
    );
    assert_eq!(
        on_line(dev, Strategy::Hard, 1.5),
        vec![(2, 3, 0), (2, 3, 1)],
        "{name}: hard"
    );
    assert_eq!(
        on_line(dev, Strategy::Semihard, 1.5),
        vec![(1, 0, 2)],
        "{name}: semihard"
    );
    assert_eq!(
        on_line(dev, Strategy::Easy, 1.5),
        vec![(0, 1, 2), (0, 1, 3), (1, 0, 3), (3, 2, 0), (3, 2, 1)],
        "{name}: easy"
    );
    // Batch strategies. (2,3): no negative is farther than d(2,3) = 3, so batch-semihard takes
    // the farthest (0, at 3).
    assert_eq!(
        on_line(dev, Strategy::BatchHard, 0.2),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)],
        "{name}: batch-hard"
    );
    assert_eq!(
        on_line(dev, Strategy::BatchSemihard, 0.2),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 0), (3, 2, 1)],
        "{name}: batch-semihard"
    );

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

    // Cross-batch memory: anchors x = [0, 10] (labels 0, 1); the reference r = [1, 3, 9, 12]
    // (labels 0, 1, 1, 0) gives the positives and negatives. Anchor 0: positives r0 (d 1),
    // r3 (12), negatives r1 (3), r2 (9). Anchor 1: positives r1 (7), r2 (1), negatives r0 (9),
    // r3 (2).
    let xb = [0.0f32, 10.0];
    let rb = [1.0f32, 3.0, 9.0, 12.0];
    let (xm, rm) = (
        MatRef::new(&xb, 2, 1).expect("2 × 1"),
        MatRef::new(&rb, 4, 1).expect("4 × 1"),
    );
    let reference = Some((rm, &[0, 1, 1, 0][..]));
    let mine_x = |strategy| {
        let o = MineOptions {
            strategy,
            margin: 0.5,
            ..MineOptions::default()
        };
        tuples(
            &dev.mine_triplets(xm, &[0, 1], reference, &o, PLAIN)
                .expect("cross-batch mining"),
        )
    };
    assert_eq!(
        mine_x(Strategy::BatchHard),
        vec![(0, 3, 1), (1, 1, 3)],
        "{name}: cross-batch batch-hard"
    );
    assert_eq!(
        mine_x(Strategy::BatchSemihard),
        vec![(0, 0, 1), (0, 3, 2), (1, 1, 0), (1, 2, 3)],
        "{name}: cross-batch batch-semihard"
    );
    assert_eq!(mine_x(Strategy::All).len(), 8, "{name}: cross-batch all");
}
