//! Bindings of the `filters` and `position_ids` kernels.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;

use super::arrow::{import_column, import_indices};
use super::errors::run;
use crate::column::RowSelection;
use crate::filters::{self, IntVec};
use crate::position_ids as ranges;

/// `min_len <= len(row) <= max_len` per row of a list column (through `indices` when
/// given), as a bool array, and the position of the first row longer than `max_len`.
#[pyfunction]
#[pyo3(signature = (column, min_len, max_len, indices=None))]
fn length_range_mask<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
    min_len: i64,
    max_len: i64,
    indices: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyArray1<bool>>, Option<usize>)> {
    let column = import_column(column, "column")?;
    let indices = indices
        .map(|ix| import_indices(ix, "indices"))
        .transpose()?;
    let rows = indices.as_ref().map_or(column.len(), |ix| ix.len());
    let (mask, first) = run(py, "length_range_mask", rows, || {
        let selection = match &indices {
            Some(ix) => RowSelection::Indices(ix),
            None => RowSelection::All,
        };
        filters::length_range_mask(&column, &selection, min_len, max_len)
    })?;
    Ok((PyArray1::from_vec(py, mask), first))
}

/// `any(v != -100 for v in row)` per row of a list-of-integers column, as a bool array.
#[pyfunction]
fn trainable_mask<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let column = import_column(column, "labels")?;
    let rows = column.len();
    let mask = run(py, "trainable_mask", rows, || {
        filters::trainable_mask(&column)
    })?;
    Ok(PyArray1::from_vec(py, mask))
}

/// A list-of-integers column with the rows marked in `cut` cut to `max_len` values, as
/// (int64 offsets, values in the column's own integer dtype).
#[pyfunction]
fn truncate_rows<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
    cut: &Bound<'py, PyAny>,
    max_len: usize,
) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyAny>)> {
    let column = import_column(column, "column")?;
    let cut: Vec<bool> = cut.cast::<PyArray1<bool>>()?.to_vec()?;
    let rows = column.len();
    let (offsets, values) = run(py, "truncate_rows", rows, || {
        filters::truncate_rows(&column, &cut, max_len, "column")
    })?;
    let values = match values {
        IntVec::I8(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::I16(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::I32(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::I64(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::U8(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::U16(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::U32(v) => PyArray1::from_vec(py, v).into_any(),
        IntVec::U64(v) => PyArray1::from_vec(py, v).into_any(),
    };
    Ok((PyArray1::from_vec(py, offsets), values))
}

/// `range(len(row))` for every row of a list column, as (int32 list offsets, int64 values,
/// int64 lengths).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn position_ids<'py>(
    py: Python<'py>,
    column: &Bound<'py, PyAny>,
) -> PyResult<(
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
)> {
    let column = import_column(column, "input_ids")?;
    let rows = column.len();
    let (offsets, values, lengths) =
        run(py, "position_ids", rows, || ranges::position_ids(&column))?;
    Ok((
        PyArray1::from_vec(py, offsets),
        PyArray1::from_vec(py, values),
        PyArray1::from_vec(py, lengths),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(length_range_mask, m)?)?;
    m.add_function(wrap_pyfunction!(trainable_mask, m)?)?;
    m.add_function(wrap_pyfunction!(truncate_rows, m)?)?;
    m.add_function(wrap_pyfunction!(position_ids, m)?)?;
    Ok(())
}
