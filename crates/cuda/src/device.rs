//! `Cuda`: tripletkit's `Device` on a GPU, through the driver or the emulator. Ops whose
//! kernels exist run them; the others say so with `DeviceUnavailable`, never a silent
//! fallback to the CPU.
use crate::gpu::Gpu;
use crate::kernels::KNN_MAX_K;
use crate::ops::knn::CudaCorpus;
use crate::ops::{
    contrastive, distance, knn, ladder, margin, mining, ranking, semihard, set, verification,
};
use tripletkit_core::distance::Rows;
use tripletkit_core::{
    retrieval, rules, triplet_loss, Call, ContrastiveOptions, Corpus, Device, Error, Knn,
    KnnOptions, LadderOptions, LadderResult, LossOptions, LossResult, MarginLossOptions,
    MarginLossResult, MatRef, MetricOptions, MineOptions, Mining, OasisOptions, OasisSteps,
    RankingOptions, RankingResult, Retrieval, RetrievalOptions, Strategy, Triplets, Verification,
    VerificationOptions,
};

/// The ops with kernels on `cuda` (every mining strategy); `backends()` lists them. The
/// others fail with `DeviceUnavailable`.
pub const OPS: &[&str] = &[
    "pairwiseDistances",
    "knn",
    "mineTriplets",
    "tripletLoss",
    "tripletMarginLoss",
    "retrievalMetrics",
    "contrastiveLoss",
    "multipleNegativesRankingLoss",
    "verificationMetrics",
    "ladderLoss",
];

/// The share of the device's free memory one op plans to use.
const USE_OF_FREE: f64 = 0.8;

pub struct Cuda {
    gpu: Box<dyn Gpu>,
    emulated: bool,
    /// Bytes an op may use on the device; None: a share of what is free at the call.
    memory: Option<usize>,
}

impl Cuda {
    /// The first GPU through the driver, or why there is none.
    pub fn open() -> Result<Cuda, String> {
        Ok(Cuda {
            gpu: Box::new(crate::driver::Driver::open()?),
            emulated: false,
            memory: None,
        })
    }

    /// The kernels on the CPU, through the emulator (a testing aid).
    pub fn emulated() -> Cuda {
        Cuda {
            gpu: Box::new(crate::emulator::Emulator::new()),
            emulated: true,
            memory: None,
        }
    }

    /// Plans every op within `bytes` of device memory (smaller chunks), as a device with
    /// that much free memory would.
    pub fn with_memory(mut self, bytes: usize) -> Cuda {
        self.memory = Some(bytes);
        self
    }

    pub fn is_emulated(&self) -> bool {
        self.emulated
    }

    /// Bytes an op plans its chunks with: the call's `maxMemory`, this device's own limit
    /// (`with_memory`), and a share of what is free, whichever is least.
    fn memory(&self, call: &Call) -> Result<usize, Error> {
        let own = match self.memory {
            Some(m) => m,
            None => (self.gpu.free_memory()? as f64 * USE_OF_FREE) as usize,
        };
        Ok(call.memory.map_or(own, |m| m.min(own)))
    }
}

/// The error for an op with no kernels on `cuda` yet.
fn not_on_cuda(op: &str) -> Error {
    Error::DeviceUnavailable {
        device: "cuda".into(),
        reason: format!("{op} does not run on it yet; use device 'cpu'"),
    }
}

impl Device for Cuda {
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn describe(&self) -> String {
        self.gpu.describe()
    }
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        o: &MetricOptions,
        call: &Call,
    ) -> Result<Vec<f32>, Error> {
        distance::pairwise_distances(&*self.gpu, self.memory(call)?, a, b, o, call)
    }
    fn prepare_corpus(
        &self,
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        o: &MetricOptions,
    ) -> Result<Box<dyn Corpus>, Error> {
        Ok(Box::new(CudaCorpus(Rows::prepare_owned(
            "corpus", data, rows, cols, *o,
        )?)))
    }
    fn knn(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        let c = corpus
            .as_any()
            .downcast_ref::<CudaCorpus>()
            .ok_or_else(|| {
                Error::invalid(
                    "corpus",
                    format!(
                        "expected a corpus prepared on 'cuda', received one from '{}'",
                        corpus.device()
                    ),
                )
            })?;
        knn::knn(&*self.gpu, self.memory(call)?, queries, &c.0, o, call)
    }
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &MineOptions,
        call: &Call,
    ) -> Result<Triplets, Error> {
        tripletkit_core::mining::check(x, labels, reference, o)?;
        let memory = self.memory(call)?;
        let t = match o.strategy {
            Strategy::BatchHard => {
                mining::batch_hard(&*self.gpu, memory, x, labels, reference, &o.distance, call)?
            }
            Strategy::BatchSemihard => {
                // The count follows from the labels: refuse before the work, as the cpu does.
                if semihard::count(labels, reference.map(|r| r.1)) > o.max_triplets {
                    return Err(Error::TooManyTriplets {
                        limit: o.max_triplets,
                    });
                }
                semihard::batch_semihard(
                    &*self.gpu,
                    memory,
                    x,
                    labels,
                    reference,
                    &o.distance,
                    call,
                )?
            }
            _ => set::mine_set(&*self.gpu, memory, x, labels, reference, o, call)?,
        };
        if t.len() > o.max_triplets {
            return Err(Error::TooManyTriplets {
                limit: o.max_triplets,
            });
        }
        Ok(t)
    }
    /// Mines on the GPU; the loss and its closed-form gradient, O(triplets · cols), are
    /// summed on the host by the cpu device's code.
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        mining: Mining,
        o: &LossOptions,
        call: &Call,
    ) -> Result<LossResult, Error> {
        let strategy = match mining {
            Mining::Strategy(s) => s,
            // No distances to mine: the loss over the given triplets is the host's pass alone.
            given @ Mining::Triplets { .. } => {
                return triplet_loss(x, labels, reference, given, o, call)
            }
        };
        rules::margin("margin", o.margin)?;
        let mine = MineOptions {
            strategy,
            margin: o.margin,
            distance: o.distance,
            max_triplets: o.max_triplets,
        };
        let t = self.mine_triplets(x, labels, reference, &mine, call)?;
        let given = Mining::Triplets {
            anchor: &t.anchor,
            positive: &t.positive,
            negative: &t.negative,
        };
        triplet_loss(x, labels, reference, given, o, call)
    }
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: &MarginLossOptions,
        call: &Call,
    ) -> Result<MarginLossResult, Error> {
        margin::triplet_margin_loss(
            &*self.gpu,
            self.memory(call)?,
            anchor,
            positive,
            negative,
            o,
            call,
        )
    }
    /// Ranks by knn on the GPU (the window of neighbours every metric reads), then counts the
    /// metrics on the host: O(queries · window).
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &RetrievalOptions,
        call: &Call,
    ) -> Result<Retrieval, Error> {
        retrieval::check(queries, query_labels, reference, o)?;
        let ref_labels = reference.map_or(query_labels, |r| r.1);
        let w = retrieval::Windows::new(query_labels, ref_labels, reference.is_none(), o.k);
        if w.window > KNN_MAX_K {
            return Err(not_on_cuda(&format!(
                "retrievalMetrics with classes of more than {KNN_MAX_K} references (it ranks {} a query)",
                w.window
            )));
        }
        let mut neighbours = Vec::new();
        if w.window > 0 {
            let corpus = reference.map_or(queries, |r| r.0);
            let k = KnnOptions {
                k: w.window,
                exclude_self: reference.is_none(),
                query_offset: 0,
            };
            neighbours = self
                .knn_once(queries, corpus, &o.distance, &k, call)?
                .indices;
        }
        Ok(retrieval::from_neighbours(
            query_labels,
            ref_labels,
            &w,
            &neighbours,
        ))
    }
    fn contrastive_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &ContrastiveOptions,
        call: &Call,
    ) -> Result<LossResult, Error> {
        contrastive::contrastive_loss(&*self.gpu, self.memory(call)?, x, labels, o, call)
    }
    fn multiple_negatives_ranking_loss(
        &self,
        anchors: MatRef,
        positives: MatRef,
        negatives: Option<MatRef>,
        o: &RankingOptions,
        call: &Call,
    ) -> Result<RankingResult, Error> {
        ranking::multiple_negatives_ranking_loss(
            &*self.gpu,
            self.memory(call)?,
            anchors,
            positives,
            negatives,
            o,
            call,
        )
    }
    fn verification_metrics(
        &self,
        a: MatRef,
        b: MatRef,
        same: &[u8],
        o: &VerificationOptions,
        call: &Call,
    ) -> Result<Verification, Error> {
        verification::verification_metrics(&*self.gpu, self.memory(call)?, a, b, same, o, call)
    }
    fn ladder_loss(
        &self,
        queries: MatRef,
        candidates: MatRef,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<LadderResult, Error> {
        ladder::ladder_loss(
            &*self.gpu,
            self.memory(call)?,
            queries,
            candidates,
            relevance,
            o,
            call,
        )
    }
    fn oasis_steps(
        &self,
        _: MatRef,
        _: &[i32],
        _: &[f64],
        _: &OasisOptions,
        _: &Call,
    ) -> Result<OasisSteps, Error> {
        Err(not_on_cuda("fitOasis"))
    }
}
