//! Bindings of the `dedup` kernel.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use super::arrow::{import_column, import_indices};
use super::errors::run;
use crate::column::RowSelection;
use crate::dedup::repr::{self, Printable};
use crate::dedup::{self, Table};

/// One dataset: its column names, its columns (Arrow arrays or chunked arrays, in the
/// dataset's column order) and its indices mapping (None for all rows in order).
type PyTable<'py> = (
    Vec<String>,
    Vec<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

/// For each dataset, the positions (ascending, int64) of the first row of each class of
/// rows with equal Python repr, seen across the datasets in order.
#[pyfunction]
fn unique_rows<'py>(
    py: Python<'py>,
    tables: Vec<PyTable<'py>>,
) -> PyResult<Vec<Bound<'py, PyArray1<i64>>>> {
    let mut columns_of = Vec::with_capacity(tables.len());
    let mut indices_of = Vec::with_capacity(tables.len());
    for (t, (names, columns, indices)) in tables.iter().enumerate() {
        let columns = columns
            .iter()
            .zip(names)
            .map(|(c, n)| import_column(c, &format!("dataset {t} column {n:?}")))
            .collect::<PyResult<Vec<_>>>()?;
        columns_of.push((names.clone(), columns));
        indices_of.push(
            indices
                .as_ref()
                .map(|ix| import_indices(ix, &format!("dataset {t} indices")))
                .transpose()?,
        );
    }
    let tables: Vec<Table<'_>> = columns_of
        .into_iter()
        .zip(&indices_of)
        .map(|((names, columns), indices)| Table {
            names,
            columns,
            selection: indices
                .as_deref()
                .map_or(RowSelection::All, RowSelection::Indices),
        })
        .collect();
    let rows = tables.iter().map(|t| t.rows()).sum();
    let keep = run(py, "unique_rows", rows, || dedup::unique_rows(&tables))?;
    Ok(keep
        .into_iter()
        .map(|k| PyArray1::from_vec(py, k.into_iter().map(|p| p as i64).collect()))
        .collect())
}

/// Positions of first rows and their hex digests.
type Firsts<'py> = (Bound<'py, PyList>, Bound<'py, PyList>);

/// `sha256(str(row))` of the rows of one dataset, as Axolotl computes them: the positions
/// of the first row of each distinct digest (ascending, int64) and those rows' hex digests.
/// `printable` holds `str.isprintable()` of every code point, one byte each; it may be
/// empty while the table holds only ASCII text. None if the table holds other text and
/// `printable` is empty.
#[pyfunction]
fn first_row_sha256<'py>(
    py: Python<'py>,
    table: PyTable<'py>,
    printable: &Bound<'py, PyBytes>,
) -> PyResult<Option<Firsts<'py>>> {
    let (names, columns, indices) = table;
    let columns = columns
        .iter()
        .zip(&names)
        .map(|(c, n)| import_column(c, &format!("column {n:?}")))
        .collect::<PyResult<Vec<_>>>()?;
    let indices = indices
        .as_ref()
        .map(|ix| import_indices(ix, "indices"))
        .transpose()?;
    let table = Table {
        names,
        columns,
        selection: indices
            .as_deref()
            .map_or(RowSelection::All, RowSelection::Indices),
    };
    let printable = Printable(printable.as_bytes());
    let firsts = run(py, "first_row_sha256", table.rows(), || {
        let digests = repr::row_sha256(&table, &printable)?;
        Ok(digests.map(|d| {
            let firsts = repr::first_of_each(&d);
            (d, firsts)
        }))
    })?;
    let Some((digests, firsts)) = firsts else {
        return Ok(None);
    };
    let positions = PyList::new(py, &firsts)?;
    let hexes = PyList::new(
        py,
        firsts.iter().map(|&p| {
            let h = repr::hex(&digests[p]);
            PyString::new(py, std::str::from_utf8(&h).expect("hex digits are ASCII"))
        }),
    )?;
    Ok(Some((positions, hexes)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unique_rows, m)?)?;
    m.add_function(wrap_pyfunction!(first_row_sha256, m)?)?;
    Ok(())
}
