//! The `fast_axolotl._native` module: registers the bindings of each kernel family.

mod arrow;
mod chat_labels;
mod collate;
mod dedup;
mod errors;
mod filters;
mod lengths;
mod packing;
mod row_hashing;
mod sequences;
mod stream;
mod tokenize;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_native")]
fn native_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    dedup::register(m)?;
    lengths::register(m)?;
    collate::register(m)?;
    packing::register(m)?;
    filters::register(m)?;
    chat_labels::register(m)?;
    tokenize::register(m)?;
    sequences::register(m)?;
    row_hashing::register(m)?;
    stream::register(m)?;
    Ok(())
}
