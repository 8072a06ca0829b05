//! Labels as dense class ids, with each class's candidates listed in ascending order: what
//! the mining kernels read to find an anchor's positives and negatives.
use std::collections::HashMap;

/// Each candidate's class as a dense id, and each class's candidates in ascending order
/// (compressed rows: class c's are `members[start[c]..start[c + 1]]`).
pub struct Classes {
    pub ids: HashMap<i32, i32>,
    pub cand_class: Vec<i32>,
    pub start: Vec<i32>,
    pub members: Vec<i32>,
}

impl Classes {
    pub fn of(labels: &[i32]) -> Classes {
        let mut ids = HashMap::new();
        let cand_class: Vec<i32> = labels
            .iter()
            .map(|l| {
                let next = ids.len() as i32;
                *ids.entry(*l).or_insert(next)
            })
            .collect();
        let mut count = vec![0i32; ids.len() + 1];
        for &c in &cand_class {
            count[c as usize + 1] += 1;
        }
        for c in 1..count.len() {
            count[c] += count[c - 1];
        }
        let start = count.clone();
        let mut members = vec![0i32; labels.len()];
        let mut fill = count;
        for (j, &c) in cand_class.iter().enumerate() {
            members[fill[c as usize] as usize] = j as i32;
            fill[c as usize] += 1;
        }
        Classes {
            ids,
            cand_class,
            start,
            members,
        }
    }

    /// Candidates of the class of `label` (0 when no candidate has it).
    pub fn size(&self, label: i32) -> usize {
        self.ids.get(&label).map_or(0, |&c| {
            (self.start[c as usize + 1] - self.start[c as usize]) as usize
        })
    }

    /// The positives of anchor `a` (global index) with label `label`, ascending.
    pub fn positives(
        &self,
        a: usize,
        label: i32,
        self_mode: bool,
    ) -> impl Iterator<Item = i32> + '_ {
        let range = match self.ids.get(&label) {
            Some(&c) => self.start[c as usize] as usize..self.start[c as usize + 1] as usize,
            None => 0..0,
        };
        self.members[range]
            .iter()
            .copied()
            .filter(move |&j| !(self_mode && j as usize == a))
    }
}
