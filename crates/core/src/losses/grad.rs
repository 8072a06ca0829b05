//! Summing per-term gradients into dL/dX in a fixed order, for every loss.
//!
//! A loss is a sum over terms (triplets, pairs, …), each touching K rows. Terms are evaluated
//! in parallel, a chunk at a time, each into its own slot of one buffer; the slots are then
//! added into the gradient in term order. The result is bit-identical whatever the thread
//! count, and memory is O(chunk) however many terms.

use crate::losses::term::TermRule;
use crate::{Call, Error};

/// What a term's evaluation reports back.
#[derive(Clone, Copy, Debug)]
pub struct TermOut {
    pub loss: f64,
    /// Whether the term wrote a gradient (a hinge at or below its kink writes none).
    pub has_grad: bool,
}

/// The sums over all terms.
#[derive(Clone, Debug, Default)]
pub struct TermSums {
    pub count: usize,
    pub sum: f64,
    /// Terms with a loss > 0.
    pub active: usize,
    /// Every term's loss, in term order, when asked for.
    pub losses: Vec<f64>,
}

/// Gradient rows of a `rows × cols` input, accumulated in f64.
pub struct GradSum {
    pub grad: Vec<f64>,
    cols: usize,
}

/// Floats of term slots per chunk (4 MiB of f64).
const CHUNK_FLOATS: usize = 1 << 19;

/// A term's slot width (K rows of `cols`) and the terms a chunk holds.
fn chunking(k: usize, cols: usize) -> (usize, usize) {
    let width = k * cols.max(1);
    (width, (CHUNK_FLOATS / width).max(1))
}

/// Whether `terms` terms of slot width `width` run on the calling thread: each costs about
/// K·cols multiply-adds and a few distances of `cols`.
fn serial_terms(terms: usize, width: usize) -> bool {
    crate::runtime::par::serial(terms.saturating_mul(width).saturating_mul(4))
}

thread_local! {
    /// add_terms' slots, kept between calls so that small calls allocate and zero nothing.
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// This thread's scratch, given back when dropped (on every way out of add_terms).
struct Scratch(Vec<f64>);

impl Scratch {
    fn take() -> Self {
        Scratch(SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        SCRATCH.with(|s| *s.borrow_mut() = std::mem::take(&mut self.0));
    }
}

impl GradSum {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        GradSum {
            grad: vec![0.0; rows * cols],
            cols,
        }
    }

    /// Evaluates `count` terms. Term t touches the rows `rows_of(t)`; `eval(t, grads)` returns
    /// its loss and adds ∂loss/∂row into `grads[k]` (zeroed slots, one per touched row). Slots
    /// are added into the gradient in term order. Checks `call.stop` between chunks and
    /// reports progress in terms.
    pub fn add_terms<const K: usize>(
        &mut self,
        count: usize,
        keep_losses: bool,
        rows_of: impl Fn(usize) -> [usize; K] + Sync,
        eval: impl Fn(usize, [&mut [f64]; K]) -> TermOut + Sync,
        call: &Call,
    ) -> Result<TermSums, Error> {
        let cols = self.cols;
        let (width, chunk) = chunking(K, cols);
        // The term slots, reused from call to call on this thread: every slot is zeroed by
        // its own term before use, so only the length matters.
        let mut scratch = Scratch::take();
        scratch.0.resize(chunk.min(count) * width, 0.0);
        let buf = &mut scratch.0;
        let mut sums = TermSums {
            count,
            ..TermSums::default()
        };
        for start in (0..count).step_by(chunk) {
            call.stop.check()?;
            let end = count.min(start + chunk);
            let part = &mut buf[..(end - start) * width];
            let serial = serial_terms(end - start, width);
            let outs: Vec<TermOut> =
                crate::runtime::par::map_chunks_mut(part, width, serial, |i, slot| {
                    slot.fill(0.0);
                    let mut rest = &mut slot[..K * cols];
                    let grads: [&mut [f64]; K] = std::array::from_fn(|_| {
                        let (g, tail) = std::mem::take(&mut rest).split_at_mut(cols);
                        rest = tail;
                        g
                    });
                    eval(start + i, grads)
                });
            for (i, out) in outs.iter().enumerate() {
                sums.sum += out.loss;
                sums.active += usize::from(out.loss > 0.0);
                if keep_losses {
                    sums.losses.push(out.loss);
                }
                if !out.has_grad {
                    continue;
                }
                let slot = &part[i * width..i * width + K * cols];
                for (r, g) in rows_of(start + i).into_iter().zip(slot.chunks(cols.max(1))) {
                    add_into(&mut self.grad[r * cols..(r + 1) * cols], g);
                }
            }
            call.advance(end - start, count);
        }
        Ok(sums)
    }

    /// `add_terms` for triplet terms under `rule`: term t's three rows and the rows of the
    /// gradient they go to are `at(t)`. Terms few enough for the calling thread skip the slots:
    /// each is added into the gradient as it is evaluated (`TermRule::backward_into`), which
    /// gives the slots' bits with no slot to zero and read back. The rows must be finite (as
    /// `MatRef` checks them): a pair with no gradient adds ±0 there, which an infinite column
    /// would turn into NaN.
    pub fn add_triplets<'r>(
        &mut self,
        count: usize,
        keep_losses: bool,
        rule: &TermRule,
        at: impl Fn(usize) -> ([&'r [f32]; 3], [usize; 3]) + Sync,
        call: &Call,
    ) -> Result<TermSums, Error> {
        if Self::in_place(count, 3, self.cols) {
            self.triplets_in_place(count, keep_losses, rule, at, call)
        } else {
            self.triplets_in_slots(count, keep_losses, rule, at, call)
        }
    }

    /// `add_triplets` through `add_terms`' slots.
    fn triplets_in_slots<'r>(
        &mut self,
        count: usize,
        keep_losses: bool,
        rule: &TermRule,
        at: impl Fn(usize) -> ([&'r [f32]; 3], [usize; 3]) + Sync,
        call: &Call,
    ) -> Result<TermSums, Error> {
        self.add_terms(
            count,
            keep_losses,
            |t| at(t).1,
            |t, grads| {
                let rows = at(t).0;
                let term = rule.eval(rows[0], rows[1], rows[2]);
                rule.backward(&term, 1.0, rows, grads);
                TermOut {
                    loss: term.loss,
                    has_grad: rule.has_grad(&term),
                }
            },
            call,
        )
    }

    /// `add_triplets` term after term on this thread, each added into the gradient at once.
    fn triplets_in_place<'r>(
        &mut self,
        count: usize,
        keep_losses: bool,
        rule: &TermRule,
        at: impl Fn(usize) -> ([&'r [f32]; 3], [usize; 3]),
        call: &Call,
    ) -> Result<TermSums, Error> {
        // As `add_terms`, which checks `stop` once a chunk (so never for no term).
        if count > 0 {
            call.stop.check()?;
        }
        let mut sums = TermSums {
            count,
            ..TermSums::default()
        };
        for t in 0..count {
            let (rows, to) = at(t);
            let term = rule.eval(rows[0], rows[1], rows[2]);
            sums.sum += term.loss;
            sums.active += usize::from(term.loss > 0.0);
            if keep_losses {
                sums.losses.push(term.loss);
            }
            // As `add_terms`, which adds the slots of a term with a gradient.
            if rule.has_grad(&term) {
                rule.backward_into(&term, rows, to, &mut self.grad);
            }
        }
        if count > 0 {
            call.advance(count, count);
        }
        Ok(sums)
    }

    /// Whether `count` terms of K rows fit one chunk that `add_terms` would run on the calling
    /// thread.
    fn in_place(count: usize, k: usize, cols: usize) -> bool {
        let (width, chunk) = chunking(k, cols);
        count <= chunk && serial_terms(count, width)
    }

    /// Multiplies the gradient by `s` (the reducer's scale).
    pub fn scale(&mut self, s: f64) {
        scale(&mut self.grad, s);
    }
}

crate::runtime::simd::widest! {
    /// dst += src, element by element.
    fn add_into(dst: &mut [f64], src: &[f64]) -> () {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
    }
}

crate::runtime::simd::widest! {
    /// g *= s, element by element.
    pub(crate) fn scale(g: &mut [f64], s: f64) -> () {
        g.iter_mut().for_each(|v| *v *= s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    fn run(threads: usize) -> (Vec<f64>, TermSums) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut g = GradSum::zeros(5, 3);
            // Term t touches rows t % 5 and (3t + 1) % 5 with values of mixed magnitude, so
            // that a different summation order would change the last bits.
            let sums = g
                .add_terms(
                    1000,
                    true,
                    |t| [t % 5, (3 * t + 1) % 5],
                    |t, [a, b]| {
                        let v = (t as f64 * 0.37).sin() * 10f64.powi((t % 7) as i32 - 3);
                        a.iter_mut().for_each(|x| *x += v);
                        b.iter_mut().for_each(|x| *x -= v * 0.5);
                        TermOut {
                            loss: v.abs(),
                            has_grad: t % 11 != 0,
                        }
                    },
                    &Call::PLAIN,
                )
                .unwrap();
            (g.grad, sums)
        })
    }

    #[test]
    fn sums_in_term_order_whatever_the_thread_count() {
        let (g1, s1) = run(1);
        let (g4, s4) = run(4);
        assert_eq!(g1, g4);
        assert_eq!(s1.sum.to_bits(), s4.sum.to_bits());
        assert_eq!((s1.count, s1.losses.len()), (1000, 1000));
        // Against a plain sequential loop.
        let mut want = vec![0.0f64; 15];
        for t in 0..1000usize {
            if t % 11 == 0 {
                continue;
            }
            let v = (t as f64 * 0.37).sin() * 10f64.powi((t % 7) as i32 - 3);
            for c in 0..3 {
                want[(t % 5) * 3 + c] += v;
            }
            for c in 0..3 {
                want[((3 * t + 1) % 5) * 3 + c] -= v * 0.5;
            }
        }
        assert_eq!(g1, want);
    }

    /// Rows of a batch with repeats, a zero row and a coarse grid, so that pairs meet at 0
    /// (euclidean's kink), at the margin, and at equal distances.
    fn triplet_rows(n: usize, cols: usize) -> Vec<f32> {
        let mut seed = 5u64;
        let mut x: Vec<f32> = (0..n * cols)
            .map(|_| (crate::testing::lcg(&mut seed) * 4.0).round() / 4.0)
            .collect();
        x.copy_within(0..cols, cols);
        x[2 * cols..3 * cols].fill(0.0);
        x
    }

    #[test]
    fn triplets_in_place_give_the_slots_bits() {
        let metrics = [
            Metric::SqEuclidean,
            Metric::Euclidean,
            Metric::Dot,
            Metric::Cosine,
        ];
        for cols in [1, 7, 8, 19, 64] {
            let n = 11;
            let x = triplet_rows(n, cols);
            let row = |i: usize| &x[i * cols..(i + 1) * cols];
            // Triplets over every mix of rows, coinciding ones included.
            let triplets: Vec<[usize; 3]> = (0..60)
                .map(|t| [t % n, (t * 7 + 1) % n, (t * 5 + 3) % n])
                .collect();
            for metric in metrics {
                for (swap, soft_margin) in
                    [(false, false), (true, false), (false, true), (true, true)]
                {
                    let rule = TermRule {
                        margin: 0.5,
                        soft_margin,
                        swap,
                        metric,
                    };
                    let at = |t: usize| (triplets[t].map(row), triplets[t]);
                    let (mut a, mut b) = (GradSum::zeros(n, cols), GradSum::zeros(n, cols));
                    let sa = a
                        .triplets_in_place(triplets.len(), true, &rule, at, &Call::PLAIN)
                        .unwrap();
                    let sb = b
                        .triplets_in_slots(triplets.len(), true, &rule, at, &Call::PLAIN)
                        .unwrap();
                    let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    let what = format!("{metric:?} swap {swap} soft {soft_margin} cols {cols}");
                    assert_eq!(bits(&a.grad), bits(&b.grad), "{what}");
                    assert_eq!(sa.sum.to_bits(), sb.sum.to_bits(), "{what}");
                    assert_eq!((sa.active, &sa.losses), (sb.active, &sb.losses), "{what}");
                    // (A cosine of one column is ±1 or 1: flat.)
                    let flat = metric == Metric::Cosine && cols == 1;
                    assert!(
                        flat || a.grad.iter().any(|&v| v != 0.0),
                        "{what}: no gradient"
                    );
                }
            }
        }
    }

    #[test]
    fn a_raised_stop_flag_ends_with_cancelled() {
        let flag = std::sync::atomic::AtomicBool::new(true);
        let call = Call::stoppable(crate::Stop::on(&flag));
        let mut g = GradSum::zeros(2, 2);
        let r = g.add_terms(
            10,
            false,
            |t| [t % 2],
            |_, _| TermOut {
                loss: 1.0,
                has_grad: false,
            },
            &call,
        );
        assert_eq!(r.unwrap_err(), Error::Cancelled);
    }
}
