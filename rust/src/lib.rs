//! fast-axolotl's native core.
//!
//! The kernel modules are plain Rust (tested with `cargo test`); `python/` is the PyO3
//! binding layer that builds the `fast_axolotl._native` extension module.

pub mod collate;
pub mod column;
pub mod dedup;
pub mod error;
pub mod filters;
pub mod lengths;
pub mod packing;
pub mod parallel;
pub mod position_ids;
pub mod stream;

#[cfg(feature = "python")]
mod python;
