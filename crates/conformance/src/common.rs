//! What every check shares: the line the hand-worked cases use, seeded inputs, comparisons.
//!
//! The line: x = [0, 1, 3, 6], labels [0, 0, 1, 1]. Euclidean distances d(0,1)=1 d(0,2)=3
//! d(0,3)=6 d(1,2)=2 d(1,3)=5 d(2,3)=3. Valid triplets (a,p,n) with m = d(a,n) − d(a,p):
//! (0,1,2) 2, (0,1,3) 5, (1,0,2) 1, (1,0,3) 4, (2,3,0) 0, (2,3,1) −1, (3,2,0) 3, (3,2,1) 2.
use tripletkit_core::{
    Call, Device, Error, MatRef, MetricOptions, MineOptions, Ops, Strategy, Triplets,
};

pub const X: [f32; 4] = [0.0, 1.0, 3.0, 6.0];
pub const LABELS: [i32; 4] = [0, 0, 1, 1];
pub const PLAIN: &Call = &Call::PLAIN;

pub fn line() -> MatRef<'static> {
    MatRef::new(&X, 4, 1).expect("a 4 × 1 matrix")
}

pub fn euclidean() -> MetricOptions {
    MetricOptions::default()
}

pub fn mine(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    strategy: Strategy,
    margin: f64,
    max: usize,
) -> Result<Triplets, Error> {
    let o = MineOptions {
        strategy,
        margin,
        distance: euclidean(),
        max_triplets: max,
        sample: None,
    };
    dev.mine_triplets(x, labels, None, &o, PLAIN)
}

pub fn tuples(t: &Triplets) -> Vec<(i32, i32, i32)> {
    (0..t.len())
        .map(|i| (t.anchor[i], t.positive[i], t.negative[i]))
        .collect()
}

/// A seeded stream of values in [−1, 1): the inputs of the checks here and of the crate's tests.
pub fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}
