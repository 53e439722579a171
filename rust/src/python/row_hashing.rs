//! Bindings of fast-axolotl 0.2.0's `parallel_hash_rows` and `deduplicate_indices`.
//!
//! The UTF-8 bytes of each str are read in place (`PyUnicode_AsUTF8AndSize`; the tuple
//! snapshot keeps every str alive), hashed without the GIL on large inputs, and only the
//! digests that are returned become Python strs.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::errors::run;
use super::sequences::snapshot;
use crate::dedup::repr::hex;
use crate::row_hashing::{first_unseen, parse_hexdigest, sha256_all, threads_for, Sha};

/// The UTF-8 bytes of every str of `items` (0.2.0 read them as Rust `String`s: a str
/// with a lone surrogate raises UnicodeEncodeError, anything but a str a TypeError).
fn utf8_rows<'a>(items: &'a Bound<'_, PyTuple>, arg: &str) -> PyResult<Vec<&'a [u8]>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        if !item.is_instance_of::<PyString>() {
            let name = item
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            return Err(PyTypeError::new_err(format!(
                "argument '{arg}': '{name}' object cannot be converted to 'PyString'"
            )));
        }
        let mut len: ffi::Py_ssize_t = 0;
        // SAFETY: the GIL is held and `item` is a str. The buffer belongs to the str, which
        // the tuple `items` keeps alive for 'a; a str's UTF-8 buffer never moves.
        unsafe {
            let ptr = ffi::PyUnicode_AsUTF8AndSize(item.as_ptr(), &mut len);
            if ptr.is_null() {
                return Err(PyErr::fetch(items.py()));
            }
            out.push(std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize));
        }
    }
    Ok(out)
}

fn digests(py: Python<'_>, rows: &[&[u8]], num_threads: usize) -> PyResult<Vec<Sha>> {
    let threads = threads_for(rows.len(), num_threads);
    run(py, "parallel_hash_rows", rows.len(), || {
        Ok(sha256_all(rows, threads))
    })
}

fn hex_str<'py>(py: Python<'py>, d: &Sha) -> PyResult<Bound<'py, PyAny>> {
    let h = hex(d);
    // SAFETY: the GIL is held; `h` is 64 ASCII bytes.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyUnicode_FromStringAndSize(h.as_ptr().cast(), h.len() as ffi::Py_ssize_t),
        )
    }
}

/// `hashlib.sha256(row.encode()).hexdigest()` of every str in `rows`, in order, hashed on
/// up to `num_threads` threads (0: one per core; small inputs use one).
#[pyfunction]
#[pyo3(signature = (rows, num_threads=0))]
fn parallel_hash_rows<'py>(
    rows: &Bound<'py, PyAny>,
    num_threads: usize,
) -> PyResult<Bound<'py, PyList>> {
    let py = rows.py();
    let items = snapshot(rows, "rows")?;
    let bytes = utf8_rows(&items, "rows")?;
    let ds = digests(py, &bytes, num_threads)?;
    PyList::new(
        py,
        ds.iter()
            .map(|d| hex_str(py, d))
            .collect::<PyResult<Vec<_>>>()?,
    )
}

/// `(indices, hashes)`: the positions of the rows whose SHA-256 hex digest is neither in
/// `existing_hashes` nor the digest of an earlier row, and those digests.
#[pyfunction]
#[pyo3(signature = (rows, existing_hashes=None, num_threads=0))]
fn deduplicate_indices<'py>(
    rows: &Bound<'py, PyAny>,
    existing_hashes: Option<&Bound<'py, PyAny>>,
    num_threads: usize,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
    let py = rows.py();
    let items = snapshot(rows, "rows")?;
    let bytes = utf8_rows(&items, "rows")?;
    let existing = match existing_hashes {
        Some(e) => Some(snapshot(e, "existing_hashes")?),
        None => None,
    };
    let seen: Vec<Sha> = match &existing {
        // a str that is not a lower-case hex digest can never equal a computed one
        Some(e) => utf8_rows(e, "existing_hashes")?
            .into_iter()
            .filter_map(parse_hexdigest)
            .collect(),
        None => Vec::new(),
    };
    let ds = digests(py, &bytes, num_threads)?;
    let keep = first_unseen(&ds, seen);
    let hashes = keep
        .iter()
        .map(|&i| hex_str(py, &ds[i]))
        .collect::<PyResult<Vec<_>>>()?;
    Ok((PyList::new(py, keep)?, PyList::new(py, hashes)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parallel_hash_rows, m)?)?;
    m.add_function(wrap_pyfunction!(deduplicate_indices, m)?)?;
    Ok(())
}
