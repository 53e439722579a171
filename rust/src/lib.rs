//! fast-axolotl's native core.
//!
//! The kernel modules are plain Rust (tested with `cargo test`); `python/` is the PyO3
//! binding layer that builds the `fast_axolotl._native` extension module.

pub mod chat_labels;
pub mod collate;
pub mod column;
pub mod dedup;
pub mod encode;
pub mod error;
pub mod filters;
pub mod lengths;
pub mod packing;
pub mod parallel;
pub mod position_ids;
pub mod tokenize;
// fast-axolotl 0.2.0's public API (issue 8)
pub mod row_hashing;
pub mod sequences;
pub mod stream;

#[cfg(feature = "python")]
mod python;

/// The extension's Rust allocations (tokenizer encodings above all, which allocate per
/// token) use mimalloc; Python objects keep Python's allocator.
#[cfg(feature = "python")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
