//! The `fast_axolotl._native` module: registers the bindings of each kernel family.

mod arrow;
mod collate;
mod dedup;
mod errors;
mod filters;
mod lengths;
mod packing;
mod stream;

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
    stream::register(m)?;
    Ok(())
}
