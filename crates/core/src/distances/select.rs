//! Ordering helpers shared by every op: ties always go to the lower index.

use std::collections::BinaryHeap;

/// A candidate: its distance and its index in the searched set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub d: f32,
    pub i: u32,
}

impl Ranked {
    /// Whether `self` ranks before `other`: smaller distance, or the same distance and a lower
    /// index. −0 and +0 compare equal here, as in `sort_key`.
    #[inline]
    pub fn before(&self, other: &Ranked) -> bool {
        self.d < other.d || (self.d == other.d && self.i < other.i)
    }
}

/// (distance, index) packed into one integer whose order is the (distance, index) order, so
/// that selecting and sorting many candidates compares plain u64s. The distance's bits are
/// mapped to an unsigned order (negatives flipped, positives offset); −0 joins +0 first.
#[inline]
pub fn sort_key(d: f32, i: u32) -> u64 {
    let bits = (d + 0.0).to_bits();
    let ordered = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u64::from(ordered) << 32) | u64::from(i)
}

/// The index packed by `sort_key`.
#[inline]
pub fn key_index(key: u64) -> usize {
    (key & 0xffff_ffff) as usize
}

/// The k smallest candidates seen so far, in a bounded max-heap keyed by `sort_key`, so a
/// candidate costs one comparison when rejected and O(log k) when kept, whatever k is (a
/// sorted list with shifting inserts is O(k) per insert: quadratic when k nears the corpus).
pub struct TopK {
    k: usize,
    // (sort key, distance bits): the key orders; the bits keep −0 exactly as computed.
    heap: BinaryHeap<(u64, u32)>,
    // The distance of the worst kept candidate once k are kept (+∞ before): a candidate
    // farther than this is rejected with one float comparison.
    threshold: f32,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16)),
            threshold: f32::INFINITY,
        }
    }

    /// No candidate with a distance above this can enter; one at or below it may.
    #[inline]
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    #[inline]
    pub fn push(&mut self, c: Ranked) {
        if self.k == 0 {
            return;
        }
        let key = sort_key(c.d, c.i);
        if self.heap.len() < self.k {
            self.heap.push((key, c.d.to_bits()));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if key < worst.0 {
                *worst = (key, c.d.to_bits());
            }
        }
        if self.heap.len() == self.k {
            self.threshold = self
                .heap
                .peek()
                .map_or(f32::INFINITY, |&(_, bits)| f32::from_bits(bits));
        }
    }

    /// The kept candidates, ascending by (distance, index).
    pub fn into_sorted(self) -> Vec<Ranked> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|(key, bits)| Ranked {
                d: f32::from_bits(bits),
                i: key_index(key) as u32,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_keeps_smallest_with_lower_index_on_ties() {
        let mut t = TopK::new(3);
        for (i, d) in [5.0, 1.0, 3.0, 1.0, 3.0, 0.5].iter().enumerate() {
            t.push(Ranked { d: *d, i: i as u32 });
        }
        let got: Vec<(f32, u32)> = t.into_sorted().iter().map(|r| (r.d, r.i)).collect();
        assert_eq!(got, vec![(0.5, 5), (1.0, 1), (1.0, 3)]);
    }

    #[test]
    fn signed_zeros_tie_and_go_to_the_lower_index() {
        assert!(sort_key(0.0, 1) < sort_key(-0.0, 2));
        let (neg, pos) = (Ranked { d: -0.0, i: 2 }, Ranked { d: 0.0, i: 1 });
        assert!(pos.before(&neg) && !neg.before(&pos));
    }

    #[test]
    fn sort_keys_order_like_distance_then_index() {
        let ds = [-3.5f32, -0.0, 0.0, 1e-30, 2.0, f32::INFINITY];
        let mut keys: Vec<u64> = ds
            .iter()
            .enumerate()
            .rev()
            .map(|(i, &d)| sort_key(d, i as u32))
            .collect();
        keys.sort_unstable();
        let order: Vec<usize> = keys.iter().map(|&k| key_index(k)).collect();
        // −0 and +0 tie, so index 1 comes before index 2.
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
        assert!(sort_key(1.0, 7) < sort_key(1.0, 8) && sort_key(1.0, 8) < sort_key(1.5, 0));
    }

    #[test]
    fn topk_zero_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(Ranked { d: 1.0, i: 0 });
        assert!(t.into_sorted().is_empty());
    }

    #[test]
    fn topk_with_k_near_the_count_matches_a_full_sort() {
        // Pseudo-random distances with many ties, k close to the number of candidates.
        let n = 5000u32;
        let ds: Vec<f32> = (0..n).map(|i| ((i * 7919) % 613) as f32 - 300.0).collect();
        for k in [1, 17, 4999, 5000] {
            let mut t = TopK::new(k);
            for (i, &d) in ds.iter().enumerate() {
                t.push(Ranked { d, i: i as u32 });
            }
            let mut want: Vec<u64> = ds
                .iter()
                .enumerate()
                .map(|(i, &d)| sort_key(d, i as u32))
                .collect();
            want.sort_unstable();
            let got: Vec<usize> = t.into_sorted().iter().map(|r| r.i as usize).collect();
            let want: Vec<usize> = want[..k].iter().map(|&x| key_index(x)).collect();
            assert_eq!(got, want, "k = {k}");
        }
    }

    #[test]
    fn negative_zero_survives_the_heap() {
        let mut t = TopK::new(2);
        t.push(Ranked { d: -0.0, i: 3 });
        t.push(Ranked { d: 1.0, i: 0 });
        let got = t.into_sorted();
        assert!(got[0].d.is_sign_negative() && got[0].i == 3);
    }
}
