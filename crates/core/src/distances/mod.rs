//! Distances: the fixed-order GEMM of a tile (`dot_tile`), prepared rows and tiles of
//! distances with their float32 fix-ups (`tiles`), exact pair distances and their gradients
//! (`pair`), the top-k fold (`knn`, `select`, and for short rows `smallest`), and the backward pass through a distance matrix
//! (`backward`).
pub(crate) mod amx;
pub mod backward;
pub(crate) mod bounds;
pub mod dot_tile;
pub mod knn;
pub(crate) mod knn_bounded;
pub mod metric;
pub mod pair;
pub mod select;
pub(crate) mod smallest;
pub mod tiles;
pub(crate) mod transpose;

pub use tiles::{full, pairwise_distances, Distances, Exact, Rows};
