//! `Cpu`: the primitives on this crate's kernels, on rayon's global pool.

use crate::device::{Batch, Hinge, HingeScales, RowTerms, RowWeights, Searched, Terms};
use crate::distances::backward::{prepared_backward, PairwiseGrads};
use crate::distances::Rows;
use crate::losses::term::TermRule;
use crate::{
    distances, losses::contrastive, losses::ladder, losses::margin, losses::ranking,
    losses::supcon, metrics::verification, miners, Call, Corpus, Cpu, Device, Error, Knn,
    KnnOptions, LadderOptions, MatRef, Metric, MetricOptions, Sample, Strategy, Triplets,
};
use std::any::Any;

impl Corpus for Rows<'static> {
    fn device(&self) -> &'static str {
        "cpu"
    }
    fn rows(&self) -> usize {
        Rows::rows(self)
    }
    fn cols(&self) -> usize {
        Rows::cols(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Device for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn distances(&self, a: &Rows, b: Option<&Rows>, call: &Call) -> Result<Vec<f32>, Error> {
        distances::full(a, b, call)
    }
    fn backward(
        &self,
        a: &Rows,
        b: Option<&Rows>,
        c: &[f64],
        _: &Call,
    ) -> Result<PairwiseGrads, Error> {
        prepared_backward(a, b, c)
    }
    fn prepare_corpus(
        &self,
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        o: &MetricOptions,
    ) -> Result<Box<dyn Corpus>, Error> {
        Ok(Box::new(Rows::prepare_owned(
            "corpus", data, rows, cols, *o,
        )?))
    }
    fn top_k(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        let rows = corpus
            .as_any()
            .downcast_ref::<Rows<'static>>()
            .ok_or_else(|| crate::device::foreign_corpus("cpu", corpus))?;
        distances::knn::top_k(queries, rows, o, call)
    }
    /// Borrows the corpus instead of copying it (the default copies, as a GPU must upload).
    fn top_k_once(
        &self,
        queries: MatRef,
        corpus: MatRef,
        metric: &MetricOptions,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        distances::knn::top_k(queries, &Rows::prepare(corpus, *metric), o, call)
    }
    /// Visits each list as its row block is done, gathering none.
    fn top_k_visit(
        &self,
        queries: MatRef,
        corpus: Searched,
        o: &KnnOptions,
        call: &Call,
        visit: &(dyn Fn(usize, &[i32]) + Sync),
    ) -> Result<(), Error> {
        match corpus {
            Searched::Once(c, metric) => {
                let rows = Rows::prepare(c, metric);
                distances::knn::top_k_visit(queries, &rows, o, call, visit)
            }
            Searched::Prepared(c) => {
                let rows = c
                    .as_any()
                    .downcast_ref::<Rows<'static>>()
                    .ok_or_else(|| crate::device::foreign_corpus("cpu", c))?;
                distances::knn::top_k_visit(queries, rows, o, call, visit)
            }
        }
    }
    fn batch_hard(&self, b: &Batch, call: &Call) -> Result<Triplets, Error> {
        miners::cpu::batch_hard(b, call)
    }
    fn batch_semihard(&self, b: &Batch, call: &Call) -> Result<Triplets, Error> {
        miners::cpu::batch_semihard(b, call)
    }
    fn triplet_set(
        &self,
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        max_triplets: usize,
        call: &Call,
    ) -> Result<Triplets, Error> {
        miners::cpu::triplet_set(b, strategy, margin, max_triplets, call)
    }
    fn triplet_sample(
        &self,
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        s: &Sample,
        call: &Call,
    ) -> Result<Triplets, Error> {
        miners::cpu::triplet_sample(b, strategy, margin, s, call)
    }
    fn margin_terms(
        &self,
        sides: [&[f32]; 3],
        rows: usize,
        cols: usize,
        rule: &TermRule,
        call: &Call,
    ) -> Result<Terms, Error> {
        margin::cpu_terms(sides, rows, cols, rule, call)
    }
    fn pair_hinge(
        &self,
        x: &Rows,
        labels: &[i32],
        margins: [f64; 2],
        scales: HingeScales,
        call: &Call,
    ) -> Result<Hinge, Error> {
        contrastive::cpu_pair_hinge(x, labels, margins, scales, call)
    }
    fn sup_con_terms(
        &self,
        x: &Rows,
        labels: &[i32],
        positives: &[u32],
        temperature: f64,
        weights: RowWeights,
        call: &Call,
    ) -> Result<RowTerms, Error> {
        supcon::terms_on_host(self, x, labels, positives, temperature, weights, call)
    }
    fn rank_terms(
        &self,
        q: &Rows,
        c: &Rows,
        scale: f64,
        weight: f64,
        call: &Call,
    ) -> Result<RowTerms, Error> {
        ranking::rank_on_host(self, q, c, scale, weight, call)
    }
    fn ladder_terms(
        &self,
        q: &Rows,
        c: &Rows,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<RowTerms, Error> {
        ladder::ladder_on_host(self, q, c, relevance, o, call)
    }
    fn pair_distances(
        &self,
        a: &[f32],
        b: &[f32],
        rows: usize,
        cols: usize,
        metric: Metric,
        _: &Call,
    ) -> Result<Vec<f64>, Error> {
        Ok(verification::cpu_pair_distances(a, b, rows, cols, metric))
    }
}
