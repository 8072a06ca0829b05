//! OASIS steps on a GPU: the triplets are drawn on the host (they do not depend on W), W stays
//! on the device in float64, and one block takes the steps in order, a launch of up to 1,024
//! steps at a time so that progress is reported and a stop honoured between launches. The
//! kernel sums in the host's order, so W and the loss are the cpu's, bit for bit.
use super::too_large;
use crate::gpu::{int, Buffer, Gpu, Params};
use crate::kernels::{OASIS_STEPS, THREADS};
use crate::plan::chunks;
use tripletkit_core::losses::oasis::{sample_steps, OasisOptions, OasisSteps};
use tripletkit_core::{Call, Error, MatRef};

/// Steps a launch takes.
const STEPS_A_LAUNCH: usize = 1024;

/// Arguments are checked by the caller (`oasis::check`).
pub fn oasis_steps(
    gpu: &dyn Gpu,
    device_bytes: usize,
    x: MatRef,
    labels: &[i32],
    w: &[f64],
    o: &OasisOptions,
    call: &Call,
) -> Result<OasisSteps, Error> {
    let (steps, state) = sample_steps(labels, o);
    let d = x.cols();
    if steps.is_empty() || d == 0 {
        return Ok(OasisSteps {
            weights: w.to_vec(),
            state,
            loss_sum: if steps.is_empty() {
                0.0
            } else {
                steps.len() as f64
            },
        });
    }
    int(x.rows().max(d), "embeddings")?;
    // The rows, W, two d-vectors, a launch's triplets and the loss.
    let need = 4 * x.data().len() + 8 * w.len() + 16 * d + 12 * STEPS_A_LAUNCH + 8;
    if need > device_bytes {
        return Err(too_large(need));
    }
    let rows = Buffer::from_slice(gpu, x.data())?;
    let weights = Buffer::from_slice(gpu, w)?;
    let diff = Buffer::<f64>::uninit(gpu, d)?;
    let wi = Buffer::<f64>::uninit(gpu, d)?;
    let loss = Buffer::<f64>::filled(gpu, 1, 0)?;
    let mut launch_triplets = Buffer::<i32>::uninit(gpu, 3 * STEPS_A_LAUNCH)?;
    for (s0, s1) in chunks(steps.len(), STEPS_A_LAUNCH) {
        call.stop.check()?;
        let flat: Vec<i32> = steps[s0..s1].iter().flatten().map(|&i| i as i32).collect();
        launch_triplets.write(&flat)?;
        let mut p = Params::new();
        p.buf(&rows)
            .int(d as i32)
            .buf(&launch_triplets)
            .int((s1 - s0) as i32)
            .double(o.c)
            .buf(&weights)
            .buf(&diff)
            .buf(&wi)
            .buf(&loss);
        // SAFETY: tk_oasis_steps's signature; the triplets index rows of x, W holds d × d
        // doubles, diff and wi d each, the loss one.
        unsafe { p.launch(gpu, OASIS_STEPS, [1, 1, 1], [THREADS, 1, 1])? };
        call.advance(s1 - s0, steps.len());
    }
    call.stop.check()?;
    Ok(OasisSteps {
        weights: weights.to_vec()?,
        state,
        loss_sum: loss.to_vec()?[0],
    })
}
