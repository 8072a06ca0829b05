//! Evaluation: retrieval metrics (`retrieval`) and verification over labelled pairs
//! (`verification`).
pub mod retrieval;
pub mod verification;
