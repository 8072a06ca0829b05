//! The upper of tripletkit's two levels: every op, written once over a device's primitives
//! (`Device`). Each op checks its arguments (the rules live in core), prepares the rows,
//! calls the primitives, and assembles the result, so the same call means the same thing on
//! every device. One blanket impl gives every device every op; an op the device does not
//! run is refused with `DeviceUnavailable`.

use crate::device::Op;
use crate::{
    losses::contrastive, losses::ladder, losses::margin, losses::oasis, losses::ranking,
    losses::triplet, metrics::retrieval, metrics::verification, miners, Call, ContrastiveOptions,
    Corpus, Device, Error, Knn, KnnOptions, LadderOptions, LadderResult, LossOptions, LossResult,
    MarginLossOptions, MarginLossResult, MatRef, MetricOptions, MineOptions, Mining, OasisOptions,
    OasisSteps, RankingOptions, RankingResult, Retrieval, RetrievalOptions, SupConOptions,
    SupConResult, Triplets, Verification, VerificationOptions,
};

/// Every op of tripletkit on a device. Arguments mean what the op modules of this crate say.
pub trait Ops {
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        o: &MetricOptions,
        call: &Call,
    ) -> Result<Vec<f32>, Error>;
    fn knn(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error>;
    /// `knn` against a corpus used once.
    fn knn_once(
        &self,
        queries: MatRef,
        corpus: MatRef,
        metric: &MetricOptions,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error>;
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &MineOptions,
        call: &Call,
    ) -> Result<Triplets, Error>;
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        mining: Mining,
        o: &LossOptions,
        call: &Call,
    ) -> Result<LossResult, Error>;
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: &MarginLossOptions,
        call: &Call,
    ) -> Result<MarginLossResult, Error>;
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &RetrievalOptions,
        call: &Call,
    ) -> Result<Retrieval, Error>;
    fn contrastive_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &ContrastiveOptions,
        call: &Call,
    ) -> Result<LossResult, Error>;
    fn multiple_negatives_ranking_loss(
        &self,
        anchors: MatRef,
        positives: MatRef,
        negatives: Option<MatRef>,
        o: &RankingOptions,
        call: &Call,
    ) -> Result<RankingResult, Error>;
    fn verification_metrics(
        &self,
        a: MatRef,
        b: MatRef,
        same: &[u8],
        o: &VerificationOptions,
        call: &Call,
    ) -> Result<Verification, Error>;
    fn ladder_loss(
        &self,
        queries: MatRef,
        candidates: MatRef,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<LadderResult, Error>;
    fn sup_con_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &SupConOptions,
        call: &Call,
    ) -> Result<SupConResult, Error>;
    fn oasis_steps(
        &self,
        x: MatRef,
        labels: &[i32],
        weights: &[f64],
        o: &OasisOptions,
        call: &Call,
    ) -> Result<OasisSteps, Error>;
}

/// `Ok` when `dev` runs `op`; otherwise the refusal every op gives.
pub fn runs(dev: &dyn Device, op: Op) -> Result<(), Error> {
    if dev.supports(op) {
        Ok(())
    } else {
        Err(Error::DeviceUnavailable {
            device: dev.name().into(),
            reason: format!("{} does not run on it yet; use device 'cpu'", op.name()),
        })
    }
}

/// A device as a trait object: the ops are compiled once, in this crate, over `&dyn Device`,
/// whichever device calls them.
pub trait AsDevice {
    fn as_device(&self) -> &dyn Device;
}

impl<D: Device> AsDevice for D {
    fn as_device(&self) -> &dyn Device {
        self
    }
}

impl<'d> AsDevice for dyn Device + 'd {
    fn as_device(&self) -> &dyn Device {
        self
    }
}

impl<T: AsDevice + ?Sized> Ops for T {
    fn pairwise_distances(
        &self,
        a: MatRef,
        b: Option<MatRef>,
        o: &MetricOptions,
        call: &Call,
    ) -> Result<Vec<f32>, Error> {
        runs(self.as_device(), Op::PairwiseDistances)?;
        crate::distances::pairwise_distances(self.as_device(), a, b, o, call)
    }
    fn knn(
        &self,
        queries: MatRef,
        corpus: &dyn Corpus,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        runs(self.as_device(), Op::Knn)?;
        crate::distances::knn::knn(self.as_device(), queries, corpus, o, call)
    }
    fn knn_once(
        &self,
        queries: MatRef,
        corpus: MatRef,
        metric: &MetricOptions,
        o: &KnnOptions,
        call: &Call,
    ) -> Result<Knn, Error> {
        runs(self.as_device(), Op::Knn)?;
        crate::distances::knn::knn_once(self.as_device(), queries, corpus, metric, o, call)
    }
    fn mine_triplets(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &MineOptions,
        call: &Call,
    ) -> Result<Triplets, Error> {
        runs(self.as_device(), Op::MineTriplets)?;
        miners::mine_triplets(self.as_device(), x, labels, reference, o, call)
    }
    fn triplet_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        mining: Mining,
        o: &LossOptions,
        call: &Call,
    ) -> Result<LossResult, Error> {
        runs(self.as_device(), Op::TripletLoss)?;
        triplet::triplet_loss(self.as_device(), x, labels, reference, mining, o, call)
    }
    fn triplet_margin_loss(
        &self,
        anchor: MatRef,
        positive: MatRef,
        negative: MatRef,
        o: &MarginLossOptions,
        call: &Call,
    ) -> Result<MarginLossResult, Error> {
        runs(self.as_device(), Op::TripletMarginLoss)?;
        margin::triplet_margin_loss(self.as_device(), anchor, positive, negative, o, call)
    }
    fn retrieval_metrics(
        &self,
        queries: MatRef,
        query_labels: &[i32],
        reference: Option<(MatRef, &[i32])>,
        o: &RetrievalOptions,
        call: &Call,
    ) -> Result<Retrieval, Error> {
        runs(self.as_device(), Op::RetrievalMetrics)?;
        retrieval::retrieval_metrics(self.as_device(), queries, query_labels, reference, o, call)
    }
    fn contrastive_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &ContrastiveOptions,
        call: &Call,
    ) -> Result<LossResult, Error> {
        runs(self.as_device(), Op::ContrastiveLoss)?;
        contrastive::contrastive_loss(self.as_device(), x, labels, o, call)
    }
    fn multiple_negatives_ranking_loss(
        &self,
        anchors: MatRef,
        positives: MatRef,
        negatives: Option<MatRef>,
        o: &RankingOptions,
        call: &Call,
    ) -> Result<RankingResult, Error> {
        runs(self.as_device(), Op::MultipleNegativesRankingLoss)?;
        ranking::multiple_negatives_ranking_loss(
            self.as_device(),
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
        runs(self.as_device(), Op::VerificationMetrics)?;
        verification::verification_metrics(self.as_device(), a, b, same, o, call)
    }
    fn ladder_loss(
        &self,
        queries: MatRef,
        candidates: MatRef,
        relevance: MatRef,
        o: &LadderOptions,
        call: &Call,
    ) -> Result<LadderResult, Error> {
        runs(self.as_device(), Op::LadderLoss)?;
        ladder::ladder_loss(self.as_device(), queries, candidates, relevance, o, call)
    }
    fn sup_con_loss(
        &self,
        x: MatRef,
        labels: &[i32],
        o: &SupConOptions,
        call: &Call,
    ) -> Result<SupConResult, Error> {
        runs(self.as_device(), Op::SupConLoss)?;
        crate::losses::supcon::sup_con_loss(self.as_device(), x, labels, o, call)
    }
    fn oasis_steps(
        &self,
        x: MatRef,
        labels: &[i32],
        weights: &[f64],
        o: &OasisOptions,
        call: &Call,
    ) -> Result<OasisSteps, Error> {
        runs(self.as_device(), Op::FitOasis)?;
        oasis::oasis_steps(x, labels, weights, o, call)
    }
}
