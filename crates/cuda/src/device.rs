//! `Cuda`: tripletkit's `Device` on a GPU, through the driver or the emulator: the primitives
//! on this crate's kernels. The ops above them are core's; an op the device does not run is
//! refused with `DeviceUnavailable`, never run on the CPU in silence.
use crate::gpu::Gpu;
use crate::kept::Keeper;
use crate::kernels::KNN_MAX_K;
use crate::ops::knn::{CudaCorpus, Place};
use crate::ops::{
    backward, contrastive, distance, knn, ladder, margin, mining, oasis, rank, sample, semihard,
    set, supcon, verification,
};
use std::sync::Arc;
use tripletkit_core::device::{foreign_corpus, HingeScales};
use tripletkit_core::distances::backward::PairwiseGrads;
use tripletkit_core::distances::Rows;
use tripletkit_core::losses::oasis::{OasisOptions, OasisSteps};
use tripletkit_core::losses::term::TermRule;
use tripletkit_core::{
    Batch, Call, Corpus, Device, Error, Hinge, Knn, KnnOptions, LadderOptions, MatRef, Metric,
    MetricOptions, MineOptions, Op, RowTerms, RowWeights, Sample, Strategy, Terms, Triplets,
};

/// The share of the device's free memory one op plans to use.
const USE_OF_FREE: f64 = 0.8;

pub struct Cuda {
    gpu: Arc<dyn Gpu>,
    /// What corpora keep on the device between searches.
    keeper: Keeper,
    emulated: bool,
    /// Bytes an op may use on the device; None: a share of what is free at the call.
    limit: Option<usize>,
}

impl Cuda {
    /// The first GPU through the driver, or why there is none.
    pub fn open() -> Result<Cuda, String> {
        Ok(Cuda::on(Arc::new(crate::driver::Driver::open()?), false))
    }

    /// The kernels on the CPU, through the emulator (a testing aid).
    pub fn emulated() -> Cuda {
        Cuda::on(Arc::new(crate::emulator::Emulator::new()), true)
    }

    fn on(gpu: Arc<dyn Gpu>, emulated: bool) -> Cuda {
        Cuda {
            keeper: Keeper::new(Arc::clone(&gpu)),
            gpu,
            emulated,
            limit: None,
        }
    }

    /// Plans every op within `bytes` of device memory (smaller chunks), as a device with
    /// that much free memory would.
    pub fn with_memory(mut self, bytes: usize) -> Cuda {
        self.limit = Some(bytes);
        self
    }

    pub fn is_emulated(&self) -> bool {
        self.emulated
    }

    /// The arithmetic of the distance tiles' dot products (`math.rs`); calls read it when
    /// they start.
    pub fn math(&self) -> crate::math::Math {
        self.gpu.math().get()
    }

    pub fn set_math(&self, m: crate::math::Math) {
        self.gpu.math().set(m);
    }

    /// This device with its tiles' arithmetic set to `m`.
    pub fn with_math(self, m: crate::math::Math) -> Cuda {
        self.set_math(m);
        self
    }

    /// The emulator failing every launch of `kernel` with a sticky error (a testing aid).
    pub fn emulated_with_fault(kernel: &str) -> Cuda {
        Cuda::on(
            Arc::new(crate::emulator::Emulator::with_fault(kernel)),
            true,
        )
    }

    /// A GPU with `memory` bytes free that plans every op's launches without running them
    /// (its downloads read `fill` bytes), and the planner that records them (the
    /// launch-geometry model's).
    pub fn planned(memory: usize, fill: u8) -> (Cuda, Arc<crate::planner::Planner>) {
        let planner = Arc::new(crate::planner::Planner::new(memory, fill));
        (Cuda::on(planner.clone(), false), planner)
    }

    /// Why the GPU can no longer run, once a sticky error ended its use in this process.
    pub fn failure(&self) -> Option<String> {
        self.gpu.failure()
    }

    /// Bytes copied to the device and back so far, where the device counts them (the
    /// emulator).
    pub fn traffic(&self) -> Option<[u64; 2]> {
        self.gpu.traffic()
    }

    /// Kernels launched and host waits for the device so far, where the device counts them
    /// (the emulator): the host waits only where it reads results.
    pub fn queue_counts(&self) -> Option<crate::gpu::QueueCounts> {
        self.gpu.queue_counts()
    }

    /// Bytes corpora keep on the device between searches now.
    pub fn kept_bytes(&self) -> usize {
        self.keeper.held()
    }

    /// Bytes an op plans its chunks with: the call's `maxMemory`, this device's own limit
    /// (`with_memory`) less what corpora keep there, and a share of what is free, whichever is
    /// least.
    fn device_bytes(&self, call: &Call) -> Result<usize, Error> {
        self.device_bytes_beside(call, 0)
    }

    /// `device_bytes` for an op that already holds `holding` bytes of the device (a kept
    /// corpus it searches), which count in its `maxMemory`.
    fn device_bytes_beside(&self, call: &Call, holding: usize) -> Result<usize, Error> {
        let own = match self.limit {
            Some(m) => m.saturating_sub(self.keeper.held()),
            // What is kept is already taken out of what the driver reports free.
            None => (self.gpu.free_memory()? as f64 * USE_OF_FREE) as usize,
        };
        Ok(call
            .max_memory
            .map_or(own, |m| m.saturating_sub(holding).min(own)))
    }
}

impl Device for Cuda {
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn describe(&self) -> String {
        self.gpu.describe()
    }
    /// Every op.
    fn supports(&self, _: Op) -> bool {
        true
    }
    fn max_k(&self) -> Option<usize> {
        Some(KNN_MAX_K)
    }
    fn distances(&self, a: &Rows, b: Option<&Rows>, call: &Call) -> Result<Vec<f32>, Error> {
        distance::distances(&*self.gpu, self.device_bytes(call)?, a, b, call)
    }
    fn backward(
        &self,
        a: &Rows,
        b: Option<&Rows>,
        c: &[f64],
        call: &Call,
    ) -> Result<PairwiseGrads, Error> {
        backward::backward(&*self.gpu, self.device_bytes(call)?, a, b, c)
    }
    fn prepare_corpus(
        &self,
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        o: &MetricOptions,
    ) -> Result<Box<dyn Corpus>, Error> {
        Ok(Box::new(CudaCorpus::new(Rows::prepare_owned(
            "corpus", data, rows, cols, *o,
        )?)))
    }
    fn top_k(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        let c = corpus
            .as_any()
            .downcast_ref::<CudaCorpus>()
            .ok_or_else(|| foreign_corpus("cuda", corpus))?;
        let mut place = c.place();
        // Kept on the device when it takes at most half of what this search may use; an empty
        // search uploads nothing.
        if matches!(*place, Place::Host(_))
            && queries.rows() > 0
            && c.bytes() <= self.device_bytes(call)? / 2
        {
            crate::gpu::int(c.rows(), "corpus")?;
            c.keep(&mut place, &self.keeper)?;
        }
        let device_bytes = self.device_bytes_beside(call, place.kept_bytes())?;
        knn::top_k(
            &*self.gpu,
            device_bytes,
            queries,
            &c.source(&place),
            o,
            call,
        )
    }
    fn batch_hard(&self, b: &Batch, call: &Call) -> Result<Triplets, Error> {
        mining::batch_hard(&*self.gpu, self.device_bytes(call)?, b, call)
    }
    fn batch_semihard(&self, b: &Batch, call: &Call) -> Result<Triplets, Error> {
        semihard::batch_semihard(&*self.gpu, self.device_bytes(call)?, b, call)
    }
    fn triplet_set(
        &self,
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        max_triplets: usize,
        call: &Call,
    ) -> Result<Triplets, Error> {
        let o = MineOptions {
            strategy,
            margin,
            distance: b.metric,
            max_triplets,
            sample: None,
        };
        set::mine_set(&*self.gpu, self.device_bytes(call)?, b, &o, call)
    }
    fn oasis_updates(
        &self,
        x: MatRef,
        labels: &[i32],
        weights: &[f64],
        o: &OasisOptions,
        call: &Call,
    ) -> Result<OasisSteps, Error> {
        let device_bytes = self.device_bytes(call)?;
        oasis::oasis_steps(&*self.gpu, device_bytes, x, labels, weights, o, call)
    }
    fn triplet_sample(
        &self,
        b: &Batch,
        strategy: Strategy,
        margin: f64,
        s: &Sample,
        call: &Call,
    ) -> Result<Triplets, Error> {
        let device_bytes = self.device_bytes(call)?;
        sample::sample_set(&*self.gpu, device_bytes, b, strategy, margin, s, call)
    }
    fn margin_terms(
        &self,
        sides: [&[f32]; 3],
        rows: usize,
        cols: usize,
        rule: &TermRule,
        call: &Call,
    ) -> Result<Terms, Error> {
        let device_bytes = self.device_bytes(call)?;
        margin::margin_terms(&*self.gpu, device_bytes, sides, rows, cols, rule, call)
    }
    fn pair_hinge(
        &self,
        x: &Rows,
        labels: &[i32],
        margins: [f64; 2],
        scales: HingeScales,
        call: &Call,
    ) -> Result<Hinge, Error> {
        let device_bytes = self.device_bytes(call)?;
        contrastive::pair_hinge(&*self.gpu, device_bytes, x, labels, margins, scales, call)
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
        let device_bytes = self.device_bytes(call)?;
        let gpu = &*self.gpu;
        let terms = supcon::sup_con_terms(
            gpu,
            device_bytes,
            x,
            (labels, positives),
            temperature,
            weights,
            call,
        )?;
        match terms {
            Some(terms) => Ok(terms),
            // Too large to keep on the device: the chunked primitives, N² through the host.
            None => tripletkit_core::losses::supcon::terms_on_host(
                self,
                x,
                labels,
                positives,
                temperature,
                weights,
                call,
            ),
        }
    }
    fn rank_terms(
        &self,
        q: &Rows,
        c: &Rows,
        scale: f64,
        weight: f64,
        call: &Call,
    ) -> Result<RowTerms, Error> {
        let device_bytes = self.device_bytes(call)?;
        match rank::rank_terms(&*self.gpu, device_bytes, q, c, scale, weight, call)? {
            Some(terms) => Ok(terms),
            // Too large to keep on the device: the chunked primitives, m·n through the host.
            None => tripletkit_core::losses::ranking::rank_on_host(self, q, c, scale, weight, call),
        }
    }
    fn ladder_terms(
        &self,
        q: &Rows,
        c: &Rows,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<RowTerms, Error> {
        let device_bytes = self.device_bytes(call)?;
        match ladder::ladder_terms(&*self.gpu, device_bytes, q, c, relevance, o, call)? {
            Some(terms) => Ok(terms),
            // Too large to keep on the device: the chunked primitives, nq·nc through the host.
            None => tripletkit_core::losses::ladder::ladder_on_host(self, q, c, relevance, o, call),
        }
    }
    fn pair_distances(
        &self,
        a: &[f32],
        b: &[f32],
        rows: usize,
        cols: usize,
        metric: Metric,
        call: &Call,
    ) -> Result<Vec<f64>, Error> {
        let device_bytes = self.device_bytes(call)?;
        verification::pair_distances(&*self.gpu, device_bytes, [a, b], rows, cols, metric, call)
    }
}
