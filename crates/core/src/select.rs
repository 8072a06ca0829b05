//! Ordering helpers shared by every op: ties always go to the lower index.

use std::cmp::Ordering;

/// A candidate: its distance and its index in the searched set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub d: f32,
    pub i: u32,
}

impl Ranked {
    /// Total order by (distance, index). Distances are finite (inputs are checked), so the
    /// partial comparison never fails; `total_cmp` keeps it total all the same.
    #[inline]
    pub fn order(&self, other: &Ranked) -> Ordering {
        self.d.total_cmp(&other.d).then(self.i.cmp(&other.i))
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
        Self { k, items: Vec::with_capacity(k + 1) }
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
    fn topk_zero_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(Ranked { d: 1.0, i: 0 });
        assert!(t.items().is_empty());
    }
}
