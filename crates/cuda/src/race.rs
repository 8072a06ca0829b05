//! The emulator's check of `order.rs`: each queued operation gets a vector clock over the
//! thread's three streams, and a use of device memory that another stream's use is not
//! ordered before (one of them writing) is a race, reported where the thread next reads.
//!
//! The emulator itself runs a thread's work in the order the host queued it, which every
//! stream's order allows, so its results cannot show a missing wait; this check does, as a GPU
//! running the streams side by side would by computing garbage now and then.
//!
//! A launch counts as writing every allocation a parameter points into: which parameters a
//! kernel only reads is not known here, and the check may only err on the strict side.
use crate::gpu::DevPtr;
use crate::order::{Order, Stream, Streams, STREAMS};
use std::collections::{BTreeMap, HashMap};

/// A vector clock: how many operations of each stream are ordered before (or are) this one.
pub type Clock = [u64; STREAMS];

fn join(a: &mut Clock, b: &Clock) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x = (*x).max(*y));
}

/// How an operation uses a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// An allocation's last uses on each stream (each stream's operations are ordered among
/// themselves, so the last is the one to check against).
struct Uses {
    end: DevPtr,
    any: Clock,
    writes: Clock,
}

/// One thread's streams, as the emulator tracks them.
#[derive(Default)]
pub struct Races {
    order: Streams,
    /// Each stream's clock.
    clocks: [Clock; STREAMS],
    /// What the host has waited for: every operation queued after it comes after that.
    host: Clock,
    /// Live allocations by start address.
    uses: BTreeMap<DevPtr, Uses>,
    /// Copies back queued and not yet collected, by ticket, with their clocks.
    reads: HashMap<u64, Clock>,
    /// The first race met and not yet reported.
    race: Option<String>,
}

impl Races {
    /// The rule's state (which stream a free goes on, and so on).
    pub fn order(&mut self) -> &mut Streams {
        &mut self.order
    }

    /// New memory at `p..p + bytes`, allocated in `on`'s order: a write there.
    pub fn alloc(&mut self, p: DevPtr, bytes: usize, on: Stream) {
        let end = p + bytes.max(1) as u64;
        // Records of memory given back earlier (kept memory freed by another thread) that the
        // new allocation overlaps.
        let stale: Vec<DevPtr> = self
            .uses
            .range(..end)
            .filter(|(_, u)| u.end > p)
            .map(|(&s, _)| s)
            .collect();
        for s in stale {
            self.uses.remove(&s);
        }
        self.uses.insert(
            p,
            Uses {
                end,
                any: Clock::default(),
                writes: Clock::default(),
            },
        );
        let order = Order {
            after: &[],
            on,
            join: false,
        };
        self.queue(order, &[(p, Access::Write)], "an allocation");
    }

    /// Queues an operation of `order` that uses the memory at each address given (addresses
    /// in no tracked allocation are left alone); returns its clock, which the host joins when
    /// it waits for it.
    pub fn queue(&mut self, order: Order, uses: &[(DevPtr, Access)], what: &str) -> Clock {
        let on = order.on as usize;
        for &after in order.after {
            let before = self.clocks[after as usize];
            join(&mut self.clocks[on], &before);
        }
        let host = self.host;
        join(&mut self.clocks[on], &host);
        self.clocks[on][on] += 1;
        let clock = self.clocks[on];
        for &(p, access) in uses {
            let Some((&start, u)) = self.uses.range_mut(..=p).next_back() else {
                continue;
            };
            if p >= u.end {
                continue;
            }
            let last = if access == Access::Write {
                u.any
            } else {
                u.writes
            };
            let unordered = (0..STREAMS).find(|&x| x != on && last[x] > clock[x]);
            if let (Some(x), None) = (unordered, &self.race) {
                self.race = Some(format!(
                    "{what} on the {:?} stream may run beside a use of the buffer at {start:#x} \
                     on the {:?} stream that no wait orders before it",
                    order.on,
                    [Stream::Compute, Stream::Up, Stream::Down][x],
                ));
            }
            u.any[on] = clock[on];
            if access == Access::Write {
                u.writes[on] = clock[on];
            }
        }
        if order.join {
            let c = self.clocks[on];
            join(&mut self.clocks[Stream::Compute as usize], &c);
        }
        clock
    }

    /// Memory given back: a write that must come after every use, then forgotten.
    pub fn free(&mut self, p: DevPtr) {
        let order = self.order.free();
        self.queue(order, &[(p, Access::Write)], "a free");
        self.uses.remove(&p);
    }

    /// The host has waited for an operation of this clock.
    pub fn waited(&mut self, clock: &Clock) {
        join(&mut self.host, clock);
    }

    /// A copy back of the memory at `src`, under `ticket`.
    pub fn read_later(&mut self, ticket: u64, src: DevPtr) {
        let order = self.order.read_later();
        let clock = self.queue(order, &[(src, Access::Read)], "a copy back");
        self.reads.insert(ticket, clock);
    }

    /// The host has waited for the copy back `ticket` (or let it go).
    pub fn collected(&mut self, ticket: u64) {
        if let Some(clock) = self.reads.remove(&ticket) {
            self.waited(&clock);
        }
    }

    /// Memory freed elsewhere (kept memory, freed after every queue has run): forgotten.
    pub fn forget(&mut self, p: DevPtr) {
        self.uses.remove(&p);
    }

    /// The host has waited for every stream.
    pub fn synced(&mut self) {
        let all = self.clocks;
        all.iter().for_each(|c| join(&mut self.host, c));
        self.order.synced();
    }

    /// The first race met since the last report, as an error message.
    pub fn report(&mut self) -> Option<String> {
        self.race.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::COMPUTE;

    const BUF: DevPtr = 0x10_0000;

    #[test]
    fn a_copy_back_ordered_after_the_launch_that_wrote_it_is_no_race() {
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Compute);
        r.queue(COMPUTE, &[(BUF + 8, Access::Write)], "a launch");
        let read = r.order().read_later();
        r.queue(read, &[(BUF, Access::Read)], "a read");
        r.free(BUF);
        assert_eq!(r.report(), None);
    }

    #[test]
    fn a_copy_back_that_skips_the_wait_is_a_race() {
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Compute);
        r.queue(COMPUTE, &[(BUF, Access::Write)], "a launch");
        let read = Order {
            after: &[],
            ..r.order().read_later()
        };
        r.queue(read, &[(BUF + 63, Access::Read)], "a read");
        assert!(r.report().unwrap().contains("a read on the Down stream"));
    }

    #[test]
    fn a_launch_over_memory_a_copy_back_still_reads_is_a_race_until_the_host_waits() {
        for wait in [false, true] {
            let mut r = Races::default();
            r.alloc(BUF, 64, Stream::Compute);
            let read = r.order().read_later();
            let clock = r.queue(read, &[(BUF, Access::Read)], "a read");
            if wait {
                r.waited(&clock);
            }
            r.queue(COMPUTE, &[(BUF, Access::Write)], "a launch");
            assert_eq!(r.report().is_some(), !wait);
        }
    }

    #[test]
    fn a_fresh_upload_is_ordered_before_compute_by_its_join_alone() {
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Up);
        let up = r.order().upload(true);
        r.queue(up, &[(BUF, Access::Write)], "an upload");
        r.queue(COMPUTE, &[(BUF, Access::Write)], "a launch");
        assert_eq!(r.report(), None);
        // Without the join, the launch could read before the copy lands.
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Up);
        let up = Order {
            join: false,
            ..r.order().upload(true)
        };
        r.queue(up, &[(BUF, Access::Write)], "an upload");
        r.queue(COMPUTE, &[(BUF, Access::Read)], "a launch");
        assert!(r.report().is_some());
    }

    #[test]
    fn an_upload_into_memory_a_copy_back_still_reads_waits_for_it() {
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Compute);
        r.read_later(1, BUF);
        let up = r.order().upload(false);
        r.queue(up, &[(BUF, Access::Write)], "an upload");
        assert_eq!(r.report(), None);
        // Waiting for Compute alone leaves the copy back unordered.
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Compute);
        r.read_later(1, BUF);
        let up = Order {
            after: &[Stream::Compute],
            ..r.order().upload(false)
        };
        r.queue(up, &[(BUF, Access::Write)], "an upload");
        assert!(r.report().unwrap().contains("on the Down stream"));
    }

    #[test]
    fn addresses_outside_every_allocation_are_left_alone() {
        let mut r = Races::default();
        r.alloc(BUF, 64, Stream::Compute);
        let read = Order {
            after: &[],
            ..r.order().read_later()
        };
        r.queue(
            read,
            &[(BUF + 64, Access::Read), (BUF - 1, Access::Read)],
            "a read",
        );
        assert_eq!(r.report(), None);
    }
}
