//! Every op's two exports, from one table: a row is the op's doc, its sync and async names,
//! its JS arguments, the options that place it, its result, and its call into core over the
//! arguments (see `glue::exports!`). The argument rules are core's; this only names each
//! array as the public API does, so core's messages name it too.
use crate::arrays::Array;
use crate::errors::Code;
use crate::glue::{exports, matrix, reference_set};
use crate::options::*;
use crate::results::*;
use crate::task::{spawn, CancelToken};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use tripletkit_core::{Call, Device, Mining, Ops, Strategy};

exports! {
    #[doc = "`aRows × bRows` distances, row-major; `b === null`: `a` against itself."]
    fn pairwise_distances / pairwise_distances_async(
        a: &[f32], a_rows: u32, b: Option<&[f32]>, b_rows: u32, cols: u32,
        opts: Option<MetricOptions>,
    ) placed by opts -> Array<f32> ["Float32Array", "Promise<Float32Array>"]
        = |device, call| device.pairwise_distances(
            matrix("a", a, a_rows, cols)?,
            b.map(|b| matrix("b", b, b_rows, cols)).transpose()?,
            &opts.to_core()?,
            call,
        );

    #[doc = "The k nearest corpus rows of every query row, the corpus used for this call only."]
    fn knn / knn_async(
        queries: &[f32], query_rows: u32, corpus: &[f32], corpus_rows: u32, cols: u32,
        opts: Option<MetricOptions>, search: SearchOptions,
    ) placed by opts -> KnnResult
        = |device, call| device.knn_once(
            matrix("queries", queries, query_rows, cols)?,
            matrix("corpus", corpus, corpus_rows, cols)?,
            &opts.to_core()?,
            &search.to_core()?,
            call,
        );

    #[doc = "Triplets mined from a labelled batch; with a cross-batch reference set, positives and negatives come from it."]
    fn mine_triplets / mine_triplets_async(
        x: &[f32], rows: u32, cols: u32, labels: &[i32], opts: MineOptions,
        reference: Option<&[f32]>, reference_rows: Option<u32>, reference_labels: Option<&[i32]>,
    ) placed by opts -> MinedTriplets
        = |device, call| device.mine_triplets(
            matrix("embeddings", x, rows, cols)?,
            labels,
            reference_set(reference, reference_labels, reference_rows, cols)?,
            &opts.to_core()?,
            call,
        );

    #[doc = "Triplet loss and its gradient over mined triplets, or exactly `triplets` when given; with a cross-batch reference set, positives and negatives come from it."]
    fn triplet_loss / triplet_loss_async(
        x: &[f32], rows: u32, cols: u32, labels: &[i32], opts: Option<LossOptions>,
        triplets: Option<Triplets>,
        reference: Option<&[f32]>, reference_rows: Option<u32>, reference_labels: Option<&[i32]>,
    ) placed by opts -> LossResult
        = |device, call| device.triplet_loss(
            matrix("embeddings", x, rows, cols)?,
            labels,
            reference_set(reference, reference_labels, reference_rows, cols)?,
            match triplets {
                Some([anchor, positive, negative]) => Mining::Triplets { anchor, positive, negative },
                None => Mining::Strategy(match opts.as_ref().and_then(|o| o.strategy.as_deref()) {
                    Some(s) => s.parse()?,
                    None => Strategy::BatchHard,
                }),
            },
            &opts.to_core()?,
            call,
        );

    #[doc = "Triplet margin loss of row-aligned anchors, positives and negatives, with its gradients."]
    fn triplet_margin_loss / triplet_margin_loss_async(
        anchor: &[f32], positive: &[f32], negative: &[f32], rows: u32, cols: u32,
        opts: Option<MarginLossOptions>,
    ) placed by opts -> MarginLossResult
        = |device, call| device.triplet_margin_loss(
            matrix("anchor", anchor, rows, cols)?,
            matrix("positive", positive, rows, cols)?,
            matrix("negative", negative, rows, cols)?,
            &opts.to_core()?,
            call,
        );

    #[doc = "Retrieval metrics of queries against a reference set (or against themselves)."]
    fn retrieval_metrics / retrieval_metrics_async(
        queries: &[f32], query_rows: u32, query_labels: &[i32],
        reference: Option<&[f32]>, reference_rows: u32, reference_labels: Option<&[i32]>,
        cols: u32, opts: Option<RetrievalOptions>,
    ) placed by opts -> RetrievalResult
        = |device, call| device.retrieval_metrics(
            matrix("queries", queries, query_rows, cols)?,
            query_labels,
            reference_set(reference, reference_labels, Some(reference_rows), cols)?,
            &opts.to_core()?,
            call,
        );

    #[doc = "Contrastive loss over every ordered pair of a labelled batch, with its gradient."]
    fn contrastive_loss / contrastive_loss_async(
        x: &[f32], rows: u32, cols: u32, labels: &[i32], opts: Option<ContrastiveOptions>,
    ) placed by opts -> LossResult
        = |device, call| device.contrastive_loss(
            matrix("embeddings", x, rows, cols)?, labels, &opts.to_core()?, call,
        );

    #[doc = "Multiple negatives ranking loss of row-aligned anchors and positives, with extra negatives."]
    fn multiple_negatives_ranking_loss / multiple_negatives_ranking_loss_async(
        anchors: &[f32], positives: &[f32], rows: u32, negatives: Option<&[f32]>,
        negative_rows: u32, cols: u32, opts: Option<RankingOptions>,
    ) placed by opts -> RankingResult
        = |device, call| device.multiple_negatives_ranking_loss(
            matrix("anchors", anchors, rows, cols)?,
            matrix("positives", positives, rows, cols)?,
            negatives.map(|n| matrix("negatives", n, negative_rows, cols)).transpose()?,
            &opts.to_core()?,
            call,
        );

    #[doc = "Verification metrics of row-aligned pairs labelled same (1) or different (0)."]
    fn verification_metrics / verification_metrics_async(
        a: &[f32], b: &[f32], rows: u32, cols: u32, same: &[u8],
        opts: Option<VerificationOptions>,
    ) placed by opts -> VerificationResult
        = |device, call| device.verification_metrics(
            matrix("a", a, rows, cols)?,
            matrix("b", b, rows, cols)?,
            same,
            &opts.to_core()?,
            call,
        );

    #[doc = "Ladder loss of queries against candidates with graded relevance, with its gradients."]
    fn ladder_loss / ladder_loss_async(
        queries: &[f32], candidates: &[f32], relevance: &[f32], query_rows: u32,
        candidate_rows: u32, cols: u32, opts: LadderOptions,
    ) placed by opts -> LadderResult
        = |device, call| device.ladder_loss(
            matrix("queries", queries, query_rows, cols)?,
            matrix("candidates", candidates, candidate_rows, cols)?,
            matrix("relevance", relevance, query_rows, candidate_rows)?,
            &opts.to_core()?,
            call,
        );

    #[doc = "Supervised contrastive loss of a labelled batch, with its gradient."]
    fn sup_con_loss / sup_con_loss_async(
        x: &[f32], rows: u32, cols: u32, labels: &[i32], opts: Option<SupConOptions>,
    ) placed by opts -> SupConResult
        = |device, call| device.sup_con_loss(
            matrix("embeddings", x, rows, cols)?, labels, &opts.to_core()?, call,
        );

    #[doc = "OASIS steps from `weights` (d × d), sampling triplets from the labelled rows."]
    fn oasis_steps / oasis_steps_async(
        x: &[f32], rows: u32, cols: u32, labels: &[i32], weights: &[f64], opts: OasisOptions,
    ) placed by opts -> OasisResult
        = |device, call| device.oasis_steps(
            matrix("embeddings", x, rows, cols)?, labels, weights, &opts.to_core()?, call,
        );
}
