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

/// Declares `Ops` and its one impl from a table: a row is an op's method and arguments, its
/// `Op`, and the function of this crate that composes it over a device's primitives.
macro_rules! ops {
    ($(
        $(#[$doc:meta])*
        fn $method:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty = $op:ident => $run:path;
    )*) => {
        /// Every op of tripletkit on a device. Arguments mean what the op modules of this crate
        /// say.
        pub trait Ops {
            $($(#[$doc])* fn $method(&self, $($arg: $ty),*) -> Result<$out, Error>;)*
        }

        impl<T: AsDevice + ?Sized> Ops for T {
            $(fn $method(&self, $($arg: $ty),*) -> Result<$out, Error> {
                let dev = self.as_device();
                runs(dev, Op::$op)?;
                $run(dev, $($arg),*)
            })*
        }
    };
}

ops! {
    fn pairwise_distances(
        a: MatRef, b: Option<MatRef>, o: &MetricOptions, call: &Call,
    ) -> Vec<f32> = PairwiseDistances => crate::distances::pairwise_distances;
    fn knn(
        queries: MatRef, corpus: &dyn Corpus, o: &KnnOptions, call: &Call,
    ) -> Knn = Knn => crate::distances::knn::knn;
    /// `knn` against a corpus used once.
    fn knn_once(
        queries: MatRef, corpus: MatRef, metric: &MetricOptions, o: &KnnOptions, call: &Call,
    ) -> Knn = Knn => crate::distances::knn::knn_once;
    fn mine_triplets(
        x: MatRef, labels: &[i32], reference: Option<(MatRef, &[i32])>, o: &MineOptions,
        call: &Call,
    ) -> Triplets = MineTriplets => miners::mine_triplets;
    fn triplet_loss(
        x: MatRef, labels: &[i32], reference: Option<(MatRef, &[i32])>, mining: Mining,
        o: &LossOptions, call: &Call,
    ) -> LossResult = TripletLoss => triplet::triplet_loss;
    fn triplet_margin_loss(
        anchor: MatRef, positive: MatRef, negative: MatRef, o: &MarginLossOptions, call: &Call,
    ) -> MarginLossResult = TripletMarginLoss => margin::triplet_margin_loss;
    fn retrieval_metrics(
        queries: MatRef, query_labels: &[i32], reference: Option<(MatRef, &[i32])>,
        o: &RetrievalOptions, call: &Call,
    ) -> Retrieval = RetrievalMetrics => retrieval::retrieval_metrics;
    fn contrastive_loss(
        x: MatRef, labels: &[i32], o: &ContrastiveOptions, call: &Call,
    ) -> LossResult = ContrastiveLoss => contrastive::contrastive_loss;
    fn multiple_negatives_ranking_loss(
        anchors: MatRef, positives: MatRef, negatives: Option<MatRef>, o: &RankingOptions,
        call: &Call,
    ) -> RankingResult = MultipleNegativesRankingLoss => ranking::multiple_negatives_ranking_loss;
    fn verification_metrics(
        a: MatRef, b: MatRef, same: &[u8], o: &VerificationOptions, call: &Call,
    ) -> Verification = VerificationMetrics => verification::verification_metrics;
    fn ladder_loss(
        queries: MatRef, candidates: MatRef, relevance: MatRef, o: &LadderOptions, call: &Call,
    ) -> LadderResult = LadderLoss => ladder::ladder_loss;
    fn sup_con_loss(
        x: MatRef, labels: &[i32], o: &SupConOptions, call: &Call,
    ) -> SupConResult = SupConLoss => crate::losses::supcon::sup_con_loss;
    fn oasis_steps(
        x: MatRef, labels: &[i32], weights: &[f64], o: &OasisOptions, call: &Call,
    ) -> OasisSteps = FitOasis => oasis_on;
}

/// OASIS's steps: the device's primitive, after the rules every device shares.
fn oasis_on(
    dev: &dyn Device,
    x: MatRef,
    labels: &[i32],
    weights: &[f64],
    o: &OasisOptions,
    call: &Call,
) -> Result<OasisSteps, Error> {
    oasis::check(x, labels, weights, o)?;
    dev.oasis_updates(x, labels, weights, o, call)
}
