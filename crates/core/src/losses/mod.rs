//! The losses: triplet loss over mined or given triplets (`triplet`, with one triplet's term in
//! `term`), the triplet margin loss (`margin`), the pair losses (`contrastive`, `ranking`,
//! `ladder`), supervised contrastive loss (`supcon`), OASIS's steps (`oasis`), and what they share: reductions (`reduce`) and gradient
//! sums in a fixed order (`grad`).
pub mod contrastive;
pub mod grad;
pub mod ladder;
pub mod margin;
pub mod oasis;
pub mod ranking;
pub mod reduce;
pub mod supcon;
pub mod term;
pub mod triplet;
