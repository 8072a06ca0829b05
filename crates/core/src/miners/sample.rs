//! Sampled set mining (docs/SEMANTICS.md, "Sampled mining"): every triplet of a set strategy
//! gets the key h(seed, a, p, n), and the `count` triplets with the smallest (key, a, p, n) are
//! kept. The key depends on the triplet's global indices and the seed alone, so the sample is
//! the same on every device, at any thread count and across shards; a bounded buffer keeps it
//! in O(count) memory whatever the size of the set.
use crate::runtime::budget;
use crate::{Error, Triplets};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// SplitMix64's increment (2⁶⁴ / φ).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Steele, Lea and Flood 2014): a bijection of u64 that mixes
/// every input bit into every output bit.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One SplitMix64 step from state `x`.
#[inline]
fn step(x: u64) -> u64 {
    mix(x.wrapping_add(GAMMA))
}

/// h(seed, a, p, ·) before the negative: the same for every negative of an (anchor, positive).
#[inline]
pub fn pair_key(seed: u64, a: u64, p: u64) -> u64 {
    step(step(step(seed) ^ a) ^ p)
}

/// h(seed, a, p, n) = step(step(step(step(seed) ^ a) ^ p) ^ n), from `pair_key(seed, a, p)`.
#[inline]
pub fn key(pair: u64, n: u64) -> u64 {
    step(pair ^ n)
}

/// A triplet and its key, ordered by (key, a, p, n): a total order, so the `count` smallest
/// are one set however the triplets arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Keyed {
    pub key: u64,
    pub a: u32,
    pub p: u32,
    pub n: u32,
}

/// Bytes one kept triplet takes.
const KEYED_BYTES: usize = size_of::<Keyed>();

/// Triplets a thread gathers before it takes the lock.
const LOCAL: usize = 4096;

/// The `count` smallest triplets offered so far, shared by the threads of a pass: a buffer of
/// up to `count` + `slack` behind a lock, cut back to its `count` smallest (a selection, linear
/// in the buffer) whenever it fills, and the largest key kept since the last cut (`bound`),
/// which threads read without the lock to pass over most triplets. Each cut drops `slack`
/// triplets, so the work per offered triplet stays constant, in O(count) memory.
pub struct Keep {
    count: usize,
    slack: usize,
    kept: Mutex<Vec<Keyed>>,
    bound: AtomicU64,
    _held: budget::Reservation,
}

impl Keep {
    /// Room for `count` triplets and the slack, reserved from the process budget with the
    /// result's 12 bytes a triplet.
    pub fn new(count: usize) -> Result<Self, Error> {
        let slack = (count / 2).max(LOCAL);
        let bytes = count
            .saturating_add(slack)
            .saturating_mul(KEYED_BYTES)
            .saturating_add(count.saturating_mul(12));
        Ok(Keep {
            count,
            slack,
            kept: Mutex::new(Vec::new()),
            bound: AtomicU64::new(u64::MAX),
            _held: budget::reserve(bytes, "mineTriplets")?,
        })
    }

    /// Keys above this cannot be kept.
    pub fn bound(&self) -> u64 {
        self.bound.load(Ordering::Relaxed)
    }

    /// Offers `batch` (emptied).
    pub fn offer(&self, batch: &mut Vec<Keyed>) {
        if self.count == 0 {
            batch.clear();
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.capacity() == 0 {
            // Exactly what was reserved: growing by doubling would pass it.
            kept.reserve_exact(self.count + self.slack);
        }
        for t in batch.drain(..) {
            if t.key > self.bound() {
                continue;
            }
            kept.push(t);
            if kept.len() == self.count + self.slack {
                self.cut(&mut kept);
            }
        }
    }

    /// Cuts `kept` back to its `count` smallest, and lowers the bound to the largest of them.
    fn cut(&self, kept: &mut Vec<Keyed>) {
        if kept.len() > self.count {
            kept.select_nth_unstable(self.count - 1);
            kept.truncate(self.count);
            let largest = kept.iter().map(|t| t.key).max().unwrap_or(u64::MAX);
            self.bound.store(largest, Ordering::Relaxed);
        }
    }

    /// The `count`-th smallest key of what is kept and of `more` (keys of triplets not offered
    /// yet): no key above it can be among the final `count`. `u64::MAX` while the two hold
    /// fewer than `count`.
    pub fn bound_with(&self, more: &[u64]) -> u64 {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<u64> = kept
            .iter()
            .map(|t| t.key)
            .chain(more.iter().copied())
            .collect();
        if self.count == 0 || keys.len() < self.count {
            return u64::MAX;
        }
        *keys.select_nth_unstable(self.count - 1).1
    }

    /// A thread's gatherer of triplets for this buffer.
    pub fn local(&self) -> Local<'_> {
        Local {
            keep: self,
            batch: Vec::new(),
            bound: self.bound(),
        }
    }

    /// The kept triplets in the set strategies' order: ascending (a, p, n).
    pub fn into_triplets(self) -> Triplets {
        let mut kept =
            std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        self.cut(&mut kept);
        kept.sort_unstable_by_key(|t| (t.a, t.p, t.n));
        Triplets {
            anchor: kept.iter().map(|t| t.a as i32).collect(),
            positive: kept.iter().map(|t| t.p as i32).collect(),
            negative: kept.iter().map(|t| t.n as i32).collect(),
        }
    }
}

/// One thread's triplets on their way to a `Keep`, passed over when their key is above the
/// bound it last read.
pub struct Local<'k> {
    keep: &'k Keep,
    batch: Vec<Keyed>,
    bound: u64,
}

impl Local<'_> {
    #[inline]
    pub fn push(&mut self, t: Keyed) {
        if t.key > self.bound {
            return;
        }
        self.batch.push(t);
        if self.batch.len() == LOCAL {
            self.flush();
        }
    }

    /// Reads the buffer's bound again.
    pub fn refresh(&mut self) {
        self.bound = self.bound.min(self.keep.bound());
    }

    /// Hands what is gathered to the buffer.
    pub fn flush(&mut self) {
        self.keep.offer(&mut self.batch);
        self.bound = self.keep.bound();
    }
}

impl Drop for Local<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key is SplitMix64 chained over (seed, a, p, n): pinned values, so a change to it
    /// (which would change every sample) fails here first. The first is SplitMix64's first
    /// output from state 0, as published.
    #[test]
    fn keys_are_splitmix64_chained() {
        assert_eq!(step(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(key(pair_key(0, 0, 0), 0), step(step(step(step(0)))));
        assert_eq!(
            key(pair_key(7, 1, 2), 3),
            step(step(step(step(7) ^ 1) ^ 2) ^ 3)
        );
        assert_ne!(key(pair_key(7, 1, 2), 3), key(pair_key(7, 2, 1), 3));
    }

    /// Offered in any order and from any number of batches, the buffer keeps the same smallest,
    /// through many cuts.
    #[test]
    fn keeps_the_smallest_in_any_order() {
        let all: Vec<Keyed> = (0..20_000u32)
            .map(|i| Keyed {
                key: key(pair_key(3, i as u64, 0), 0) % 97, // many equal keys: (a, p, n) decides
                a: i,
                p: 0,
                n: 0,
            })
            .collect();
        let mut sorted = all.clone();
        sorted.sort();
        let want: Vec<i32> = {
            let mut w: Vec<i32> = sorted[..40].iter().map(|t| t.a as i32).collect();
            w.sort();
            w
        };
        for chunk in [1, 7, 20_000] {
            let keep = Keep::new(40).unwrap();
            for part in all.iter().rev().collect::<Vec<_>>().chunks(chunk) {
                let mut local = keep.local();
                part.iter().for_each(|&&t| local.push(t));
            }
            assert_eq!(keep.into_triplets().anchor, want, "chunks of {chunk}");
        }
    }
}
