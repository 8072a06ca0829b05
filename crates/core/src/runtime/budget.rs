//! One memory budget for the whole process.
//!
//! Ops whose output grows faster than their input (the full distance matrix, knn results,
//! set-strategy triplets) reserve their bytes here before allocating. The budget is what the
//! process may still use now: the host's available memory, the container's limit (cgroup v1
//! or v2, including parent groups) less its usage, and the address-space limit (`ulimit -v`)
//! less what is mapped, whichever is smallest. Reservations are process-wide, so concurrent
//! calls, from any thread or worker, share one budget instead of each seeing all of it.

use crate::Error;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

static RESERVED: AtomicUsize = AtomicUsize::new(0);

/// Reservations under this many bytes are held without reading the limits: no process that
/// runs at all is refused 16 MiB, and the reading would cost more than small ops themselves.
pub const UNCHECKED: usize = 16 << 20;

/// Bytes reserved by calls in flight.
pub fn reserved() -> usize {
    RESERVED.load(Ordering::Acquire)
}

/// Bytes this process may still allocate, before reservations; `None` where the platform
/// does not say (then only the caller's own limits apply).
pub fn available() -> Option<usize> {
    [
        host_available(),
        cgroup_available(),
        address_space_available(),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// What the budget leaves for one more reservation: `available() − reserved()`.
pub fn headroom() -> Option<usize> {
    available().map(|a| a.saturating_sub(reserved()))
}

/// Bytes held from the budget until dropped.
#[derive(Debug)]
pub struct Reservation(usize);

impl Reservation {
    pub fn bytes(&self) -> usize {
        self.0
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        RESERVED.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// Reserves `bytes` for `what`, or refuses with `Error::OutOfMemory` when they do not fit in
/// what is available less what other calls hold. A refusal allocates nothing.
pub fn reserve(bytes: usize, what: &str) -> Result<Reservation, Error> {
    // Reading the limits costs a few file reads: small requests are counted, not checked.
    let limit = if bytes < UNCHECKED { None } else { available() };
    let mut held = RESERVED.load(Ordering::Acquire);
    loop {
        if let Some(limit) = limit {
            if held.saturating_add(bytes) > limit {
                return Err(Error::OverBudget {
                    what: what.to_string(),
                    bytes,
                    available: limit,
                    reserved: held,
                });
            }
        }
        match RESERVED.compare_exchange_weak(
            held,
            held + bytes,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Ok(Reservation(bytes)),
            Err(now) => held = now,
        }
    }
}

/// `MemAvailable` of /proc/meminfo.
fn host_available() -> Option<usize> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    field_kib(&text, "MemAvailable:")
}

/// The tightest `limit − usage` over this process's memory cgroup and its parents (v2, then
/// v1). Usage counts reclaimable file cache as used, so inactive file pages are subtracted.
fn cgroup_available() -> Option<usize> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut best: Option<usize> = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (root, limit_file, usage_file, inactive) = if controllers.is_empty() {
            (
                "/sys/fs/cgroup",
                "memory.max",
                "memory.current",
                "inactive_file ",
            )
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                "/sys/fs/cgroup/memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file ",
            )
        } else {
            continue;
        };
        let mut dir = path.trim_end_matches('/').to_string();
        loop {
            let at = format!("{root}{dir}");
            if let (Some(limit), Some(usage)) = (
                read_number(&format!("{at}/{limit_file}")),
                read_number(&format!("{at}/{usage_file}")),
            ) {
                // "no limit" reads as "max" (v2) or a number near 2^63 (v1).
                if limit < 1 << 60 {
                    let cache = fs::read_to_string(format!("{at}/memory.stat"))
                        .ok()
                        .and_then(|s| field_bytes(&s, inactive))
                        .unwrap_or(0);
                    let free = limit.saturating_sub(usage.saturating_sub(cache));
                    best = Some(best.map_or(free, |b| b.min(free)));
                }
            }
            match dir.rfind('/') {
                Some(cut) if !dir.is_empty() => dir.truncate(cut),
                _ => break,
            }
        }
    }
    best
}

/// `ulimit -v` less the address space already mapped.
fn address_space_available() -> Option<usize> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: usize = line
        .trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?; // "unlimited" does not parse: no limit
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let mapped = field_kib(&status, "VmSize:")?;
    Some(soft.saturating_sub(mapped))
}

fn read_number(path: &str) -> Option<usize> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A "Name:   123 kB" field, in bytes.
fn field_kib(text: &str, name: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: usize = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// A "name 123" field of memory.stat, in bytes.
fn field_bytes(text: &str, name: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_and_release_on_drop() {
        let before = reserved();
        let a = reserve(1000, "a").unwrap();
        let b = reserve(24, "b").unwrap();
        assert!(reserved() >= before + 1024);
        drop((a, b));
        // Other tests may hold reservations concurrently; ours are gone.
        assert!(reserved() < before + 1024 || reserved() == before);
    }

    #[test]
    fn more_than_available_is_refused_without_holding_anything() {
        if let Some(avail) = available() {
            let before = reserved();
            let err = reserve(avail + (1 << 40), "test").unwrap_err();
            assert!(avail + (1 << 40) >= UNCHECKED);
            assert_eq!(err.code(), crate::code::OUT_OF_MEMORY);
            assert!(reserved() <= before);
        }
    }

    #[test]
    fn parses_proc_fields() {
        assert_eq!(
            field_kib("MemTotal: 10 kB\nMemAvailable:   4 kB\n", "MemAvailable:"),
            Some(4096)
        );
        assert_eq!(
            field_bytes("cache 5\ninactive_file 77\n", "inactive_file "),
            Some(77)
        );
        assert_eq!(field_bytes("total_inactive_file 9", "inactive_file "), None);
    }

    #[test]
    fn this_linux_machine_reports_a_budget() {
        if cfg!(target_os = "linux") {
            let a = available().expect("Linux has /proc/meminfo");
            assert!(a > 1 << 20, "{a}");
        }
    }
}
