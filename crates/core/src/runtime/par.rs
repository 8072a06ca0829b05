//! Parallel or not: small work runs on the calling thread.
//!
//! Handing work to rayon's pool wakes its threads and waits for them, tens of microseconds a
//! pass, which for a 64-row batch is more than the arithmetic. Below `SERIAL_WORK`
//! multiply-adds a pass therefore runs in order on the caller's thread. Results never depend
//! on the choice: each item is computed the same way and they come back in order.
use rayon::prelude::*;

/// Multiply-adds under which a pass runs on the calling thread (about 0.2 ms of one core).
pub const SERIAL_WORK: usize = 1 << 21;

/// Whether a pass of `work` multiply-adds should stay on the calling thread.
pub fn serial(work: usize) -> bool {
    work < SERIAL_WORK
}

/// `f` over `items`, in parallel unless `serial`; results in item order.
pub fn map<I: Send, T: Send>(
    items: Vec<I>,
    serial: bool,
    f: impl Fn(I) -> T + Sync + Send,
) -> Vec<T> {
    if serial {
        items.into_iter().map(f).collect()
    } else {
        items.into_par_iter().map(f).collect()
    }
}

/// `f(index, chunk)` over `chunk`-long pieces of `data`, in parallel unless `serial`; results
/// in chunk order.
pub fn map_chunks_mut<E: Send, T: Send>(
    data: &mut [E],
    chunk: usize,
    serial: bool,
    f: impl Fn(usize, &mut [E]) -> T + Sync + Send,
) -> Vec<T> {
    if serial {
        data.chunks_mut(chunk)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    } else {
        data.par_chunks_mut(chunk)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_and_parallel_give_the_same_results_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        assert_eq!(
            map(items.clone(), true, |i| i * i),
            map(items, false, |i| i * i)
        );
        let mut a = vec![1u32; 999];
        let mut b = a.clone();
        let f = |i: usize, c: &mut [u32]| {
            c.iter_mut().for_each(|v| *v += i as u32);
            c.len()
        };
        assert_eq!(
            map_chunks_mut(&mut a, 10, true, f),
            map_chunks_mut(&mut b, 10, false, f)
        );
        assert_eq!(a, b);
    }
}
