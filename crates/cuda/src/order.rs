//! Which of a thread's three streams each queued operation runs on, and what it waits for
//! first: the one rule that the driver's lanes (`lane.rs`) follow with events and the emulator
//! (`emulator.rs`) checks with vector clocks.
//!
//! - **Compute** runs launches, fills and most frees, in the order they are queued.
//! - **Up** runs copies to the device. A copy into a fresh buffer (allocated on Up itself)
//!   waits for nothing, so the next chunk's rows cross PCIe while this chunk's kernels run;
//!   Compute then waits for it before its next launch.
//! - **Down** runs copies back that the host collects later (`read_later`). Each first waits
//!   for Compute's work so far, then runs beside Compute's later launches. Once Down holds
//!   such a copy, a free waits for both and runs on Down, so that no later allocation takes
//!   memory a copy still reads.
//!
//! Copies in both directions thus run on the GPU's copy engines while its SMs compute.

/// A thread's streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Compute = 0,
    Up = 1,
    Down = 2,
}

/// Streams a lane has.
pub const STREAMS: usize = 3;

/// Where one queued operation runs: on `on`, once `on` has waited for the work queued so far
/// on each stream of `after`; `join`: Compute then waits for `on`'s work so far (the operation
/// included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub after: &'static [Stream],
    pub on: Stream,
    pub join: bool,
}

/// Launches, fills and allocations for Compute's work.
pub const COMPUTE: Order = Order {
    after: &[],
    on: Stream::Compute,
    join: false,
};

/// A thread's state of the rule: whether Down holds copies not yet known to have run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streams {
    reading: bool,
}

impl Streams {
    /// A copy to the device. `fresh`: into memory allocated for it on Up, which no queued work
    /// uses yet; otherwise the copy first waits for Compute, which may still use the memory,
    /// and for the copies back that may still read it.
    pub fn upload(&self, fresh: bool) -> Order {
        Order {
            after: match (fresh, self.reading) {
                (true, _) => &[],
                (false, false) => &[Stream::Compute],
                (false, true) => &[Stream::Compute, Stream::Down],
            },
            on: Stream::Up,
            join: true,
        }
    }

    /// A copy back, collected later.
    pub fn read_later(&mut self) -> Order {
        self.reading = true;
        Order {
            after: &[Stream::Compute],
            on: Stream::Down,
            join: false,
        }
    }

    /// A free: after the copies back that may read the memory, when there are any.
    pub fn free(&self) -> Order {
        if self.reading {
            Order {
                after: &[Stream::Compute],
                on: Stream::Down,
                join: false,
            }
        } else {
            COMPUTE
        }
    }

    /// The host has waited for every stream.
    pub fn synced(&mut self) {
        self.reading = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frees_follow_copies_back_until_the_host_waits() {
        let mut s = Streams::default();
        assert_eq!(s.free(), COMPUTE);
        assert_eq!(s.read_later().on, Stream::Down);
        assert_eq!(s.free().on, Stream::Down);
        assert_eq!(s.free().after, [Stream::Compute]);
        s.synced();
        assert_eq!(s.free(), COMPUTE);
    }

    #[test]
    fn only_fresh_uploads_skip_the_wait_for_the_other_streams() {
        let mut s = Streams::default();
        assert_eq!(s.upload(true).after, []);
        assert_eq!(s.upload(false).after, [Stream::Compute]);
        assert!(s.upload(true).join && s.upload(false).join);
        s.read_later();
        assert_eq!(s.upload(true).after, []);
        assert_eq!(s.upload(false).after, [Stream::Compute, Stream::Down]);
    }
}
