//! `multipleNegativesRankingLoss` on a GPU: the similarity matrix is one distance pass on the
//! device; the host takes each row's log-softmax and its coefficients, O(rows · candidates),
//! as the cpu device does; the gradient's two products (∂queries = C·candidates,
//! ∂candidates = Cᵀ·queries) run on the device (`kernels/backward.cu`).
use super::distance::pairwise_distances;
use super::too_large;
use crate::gpu::{blocks, int, Buffer, Gpu, Params};
use crate::kernels::{COEF_GEMM, THREADS};
use std::borrow::Cow;
use tripletkit_core::{
    pair, rules, Call, Error, MatRef, Metric, MetricOptions, RankingOptions, RankingResult,
    Similarity,
};

pub fn multiple_negatives_ranking_loss(
    gpu: &dyn Gpu,
    memory: usize,
    anchors: MatRef,
    positives: MatRef,
    negatives: Option<MatRef>,
    o: &RankingOptions,
    call: &Call,
) -> Result<RankingResult, Error> {
    rules::same_shape("positives", positives, "anchors", anchors)?;
    if let Some(neg) = negatives {
        rules::same_cols("negatives", neg, "anchors", anchors)?;
    }
    rules::margin("scale", o.scale)?;
    let (m, cols) = (anchors.rows(), anchors.cols());
    let k = negatives.map_or(0, |n| n.rows());
    let candidates: Vec<f32> = match negatives {
        Some(neg) if k > 0 => [positives.data(), neg.data()].concat(),
        _ => positives.data().to_vec(),
    };
    let half = if o.symmetric { 0.5 } else { 1.0 };
    let mut loss = 0.0;
    let mut ga = vec![0.0f64; m * cols];
    let mut gc = vec![0.0f64; (m + k) * cols];
    if m > 0 {
        let c = MatRef::new(&candidates, m + k, cols)?;
        let (l, gq, gk) = rank(gpu, memory, anchors, c, o, half / m as f64, call)?;
        loss += l;
        add(&mut ga, &gq);
        add(&mut gc, &gk);
        if o.symmetric {
            let (l, gq, gk) = rank(gpu, memory, positives, anchors, o, half / m as f64, call)?;
            loss += l;
            add(&mut gc[..m * cols], &gq);
            add(&mut ga, &gk);
        }
    }
    let to_f32 = |g: &[f64]| {
        g.iter()
            .map(|&v| pair::grad_to_f32(v))
            .collect::<Vec<f32>>()
    };
    Ok(RankingResult {
        loss,
        grad_anchors: to_f32(&ga),
        grad_positives: to_f32(&gc[..m * cols]),
        grad_negatives: negatives.map(|_| to_f32(&gc[m * cols..])),
    })
}

/// `weight` · Σ_i −log softmax_j(scale · sim(q_i, c_j))[j = i], and its gradients with respect
/// to the queries and the candidates.
fn rank(
    gpu: &dyn Gpu,
    memory: usize,
    q: MatRef,
    c: MatRef,
    o: &RankingOptions,
    weight: f64,
    call: &Call,
) -> Result<(f64, Vec<f64>, Vec<f64>), Error> {
    let metric = MetricOptions {
        metric: match o.similarity {
            Similarity::Dot => Metric::Dot,
            Similarity::Cosine => Metric::Cosine,
        },
        normalize: false,
    };
    let d = pairwise_distances(gpu, memory, q, Some(c), &metric, call)?;
    let (m, n, dim) = (q.rows(), c.rows(), q.cols());
    let mut loss = 0.0;
    // ∂L/∂d = −scale · weight · (softmax_ij − [j = i]); for dot and cosine the GEMM
    // coefficient is −∂L/∂d.
    let mut coef = vec![0.0f64; d.len()];
    for (i, (dr, cr)) in d.chunks(n).zip(coef.chunks_mut(n)).enumerate() {
        let s = |dv: f32| -o.scale * f64::from(dv);
        let max = dr.iter().map(|&v| s(v)).fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = dr.iter().map(|&v| (s(v) - max).exp()).sum();
        let lse = max + z.ln();
        loss += weight * (lse - s(dr[i]));
        for (j, (cv, &dv)) in cr.iter_mut().zip(dr).enumerate() {
            let p = (s(dv) - lse).exp() - if j == i { 1.0 } else { 0.0 };
            *cv = -(-o.scale * weight * p);
        }
    }
    if m == 0 || n == 0 || dim == 0 {
        return Ok((loss, vec![0.0; m * dim], vec![0.0; n * dim]));
    }
    let need = (m * n * 8).saturating_add((m + n) * dim * 12);
    if need > memory {
        return Err(too_large("multipleNegativesRankingLoss", memory));
    }
    int(m.max(n).saturating_mul(dim), "anchors")?;
    let unit = metric.metric == Metric::Cosine;
    let (pq, pc) = (prepared(q, unit), prepared(c, unit));
    let cb = Buffer::from_slice(gpu, &coef)?;
    let (qb, kb) = (Buffer::from_slice(gpu, &pq)?, Buffer::from_slice(gpu, &pc)?);
    // out (rows × dim) = C·rhs at strides (ldr, ldc), inner the length of the sum.
    let product = |ldr: usize,
                   ldc: usize,
                   rhs: &Buffer<f32>,
                   own: &Buffer<f32>,
                   inner: usize,
                   rows: usize| {
        let out = Buffer::<f64>::uninit(gpu, rows * dim)?;
        let mut p = Params::new();
        p.buf(&cb)
            .ptr(ldr as u64)
            .ptr(ldc as u64)
            .buf(rhs)
            .int(inner as i32)
            .int(rows as i32)
            .int(dim as i32)
            .buf(own)
            .int(0)
            .buf(&out);
        // SAFETY: tk_coef_gemm's signature (the strides as 64-bit integers); `cb` holds m·n
        // values read at the strides given, `rhs` inner rows, `own` and `out` rows rows.
        unsafe {
            p.launch(
                gpu,
                COEF_GEMM,
                [blocks(rows * dim, THREADS as usize), 1, 1],
                [THREADS, 1, 1],
            )?
        };
        out.to_vec()
    };
    let mut gq = product(n, 1, &kb, &qb, n, m)?;
    let mut gk = product(1, n, &qb, &kb, m, n)?;
    if unit {
        pair::normalize_backward(q.data(), dim, &mut gq);
        pair::normalize_backward(c.data(), dim, &mut gk);
    }
    Ok((loss, gq, gk))
}

/// The rows as the backward pass reads them: unit rows for cosine.
fn prepared(x: MatRef<'_>, unit: bool) -> Cow<'_, [f32]> {
    if unit {
        Cow::Owned(pair::normalize_rows(x.data(), x.cols()))
    } else {
        Cow::Borrowed(x.data())
    }
}

fn add(dst: &mut [f64], src: &[f64]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
}
