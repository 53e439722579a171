//! Bindings of the `lengths` kernels.

use numpy::PyArray1;
use pyo3::prelude::*;

use super::arrow::{import_column, import_indices};
use super::errors::run;
use crate::column::{ChunkedColumn, RowSelection};
use crate::error::KernelError;
use crate::lengths;

type Kernel = fn(&ChunkedColumn, &RowSelection<'_>) -> Result<Vec<i64>, KernelError>;

fn call<'py>(
    py: Python<'py>,
    name: &str,
    kernel: Kernel,
    column: &Bound<'py, PyAny>,
    indices: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let column = import_column(column, "column")?;
    let indices = indices
        .map(|ix| import_indices(ix, "indices"))
        .transpose()?;
    let rows = indices.as_ref().map_or(column.len(), |ix| ix.len());
    let out = run(py, name, rows, || {
        let selection = match &indices {
            Some(ix) => RowSelection::Indices(ix),
            None => RowSelection::All,
        };
        kernel(&column, &selection)
    })?;
    // Copied into memory numpy allocates: an array over the Vec would not own its data,
    // and `resize` (which works on Axolotl's result) would raise.
    Ok(PyArray1::from_slice(py, &out))
}

/// `len(row)` of every row of a list column, as int64, in the order of `indices`
/// (all rows when `indices` is None).
#[pyfunction]
#[pyo3(signature = (column, indices=None))]
fn list_lengths<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
    indices: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    call(py, "list_lengths", lengths::list_lengths, column, indices)
}

/// `row[-1] + 1` of every row of a list-of-integers column, as int64.
#[pyfunction]
#[pyo3(signature = (column, indices=None))]
fn list_last_plus_one<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
    indices: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    call(
        py,
        "list_last_plus_one",
        lengths::last_plus_one,
        column,
        indices,
    )
}

/// The values of an integer column, as int64.
#[pyfunction]
#[pyo3(signature = (column, indices=None))]
fn integer_values<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
    indices: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    call(
        py,
        "integer_values",
        lengths::integer_values,
        column,
        indices,
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(list_lengths, m)?)?;
    m.add_function(wrap_pyfunction!(list_last_plus_one, m)?)?;
    m.add_function(wrap_pyfunction!(integer_values, m)?)?;
    Ok(())
}
