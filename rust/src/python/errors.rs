//! Mapping of kernel errors and panics to Python exceptions.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::KernelError;

pyo3::create_exception!(
    fast_axolotl._native,
    UnsupportedInput,
    PyValueError,
    "The input is valid but outside what the kernel reproduces exactly; callers defer to Axolotl."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("UnsupportedInput", m.py().get_type::<UnsupportedInput>())
}

pub fn to_py(err: KernelError) -> PyErr {
    match err {
        KernelError::Unsupported(msg) => UnsupportedInput::new_err(msg),
        KernelError::Invalid(msg) => PyValueError::new_err(msg),
    }
}

/// Work below this many rows keeps the GIL: releasing and re-taking it costs more.
pub const DETACH_MIN_ROWS: usize = 50_000;

/// Runs a kernel, without the GIL when the input is large, and turns a panic into a
/// RuntimeError naming the kernel, so no panic unwinds into the interpreter.
pub fn run<T, F>(py: Python<'_>, kernel: &str, rows: usize, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, KernelError> + Send,
{
    let guarded = move || catch_unwind(AssertUnwindSafe(f));
    let outcome = if rows >= DETACH_MIN_ROWS {
        py.detach(guarded)
    } else {
        guarded()
    };
    match outcome {
        Ok(result) => result.map_err(to_py),
        Err(panic) => Err(panic_to_py(kernel, panic)),
    }
}

/// The RuntimeError that stands for a caught panic of `kernel`.
pub fn panic_to_py(kernel: &str, panic: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    PyRuntimeError::new_err(format!(
        "internal error in fast_axolotl kernel {kernel}: {msg}"
    ))
}
