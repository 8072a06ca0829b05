//! Ordering helpers shared by every op: ties always go to the lower index.

use std::cmp::Ordering;

/// A candidate: its distance and its index in the searched set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub d: f32,
    pub i: u32,
}

impl Ranked {
    /// Order by (distance, index), the same order as `before`: −0 and +0 are one distance
    /// (`dot` gives both), which `total_cmp` would tell apart.
    #[inline]
    pub fn order(&self, other: &Ranked) -> Ordering {
        if self.before(other) {
            Ordering::Less
        } else if other.before(self) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }

    #[inline]
    pub fn before(&self, other: &Ranked) -> bool {
        self.d < other.d || (self.d == other.d && self.i < other.i)
    }
}

/// The k smallest candidates seen so far, kept sorted ascending by (distance, index).
/// Insertion is O(k), but after the first few tiles almost every candidate fails the
/// `accepts` test, so the scan costs one comparison per distance.
pub struct TopK {
    k: usize,
    items: Vec<Ranked>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    #[inline]
    pub fn accepts(&self, c: &Ranked) -> bool {
        self.items.len() < self.k || c.before(self.items.last().expect("k > 0 when full"))
    }

    #[inline]
    pub fn push(&mut self, c: Ranked) {
        if self.k == 0 || !self.accepts(&c) {
            return;
        }
        let at = self.items.partition_point(|x| x.before(&c));
        self.items.insert(at, c);
        self.items.truncate(self.k);
    }

    pub fn items(&self) -> &[Ranked] {
        &self.items
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
        let got: Vec<(f32, u32)> = t.items().iter().map(|r| (r.d, r.i)).collect();
        assert_eq!(got, vec![(0.5, 5), (1.0, 1), (1.0, 3)]);
    }

    #[test]
    fn signed_zeros_tie_and_go_to_the_lower_index() {
        let (neg, pos) = (Ranked { d: -0.0, i: 2 }, Ranked { d: 0.0, i: 1 });
        assert_eq!(pos.order(&neg), Ordering::Less);
        assert!(pos.before(&neg) && !neg.before(&pos));
    }

    #[test]
    fn topk_zero_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(Ranked { d: 1.0, i: 0 });
        assert!(t.items().is_empty());
    }
}
