//! Bindings of the `collate` kernel: reads Axolotl's feature dicts (Python lists of ints or
//! int32/int64 numpy arrays) and writes the padded batch into arrays the caller allocates.
//!
//! Everything here touches Python objects, so it runs with the GIL held (collators run once
//! per training step, on a few thousand to a few million tokens).

use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::{
    npyffi, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::errors::to_py;
use crate::collate::{fill, plan, Column, Options, Pad, Piece, Role, Segment, Side, Strategy};
use crate::error::KernelError;

enum Seg<'py> {
    List(Bound<'py, PyList>, usize),
    I64(PyReadonlyArray1<'py, i64>),
    I32(PyReadonlyArray1<'py, i32>),
}

impl<'py> Seg<'py> {
    /// A sequence value as Axolotl's collator may hold it; anything else is Unsupported.
    fn from_value(value: &Bound<'py, PyAny>, key: &str) -> Result<Self, KernelError> {
        if let Ok(list) = value.cast_exact::<PyList>() {
            let n = list.len();
            return Ok(Seg::List(list.clone(), n));
        }
        // Exact ndarrays only: for a masked array or another subclass numpy decides what
        // concatenating it means.
        // SAFETY: `value` is a live object and the GIL is held.
        if unsafe { npyffi::PyArray_CheckExact(value.py(), value.as_ptr()) } != 0 {
            if let Ok(arr) = value.cast::<PyArray1<i64>>() {
                if let Ok(ro) = arr.try_readonly() {
                    return Ok(Seg::I64(ro));
                }
            } else if let Ok(arr) = value.cast::<PyArray1<i32>>() {
                if let Ok(ro) = arr.try_readonly() {
                    return Ok(Seg::I32(ro));
                }
            }
        }
        let tname = value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        Err(KernelError::unsupported(format!(
            "{key}: a {tname} value (expected a list of ints or a 1-d int32/int64 numpy array)"
        )))
    }
}

impl Segment for Seg<'_> {
    fn len(&self) -> usize {
        match self {
            Seg::List(_, n) => *n,
            Seg::I64(a) => a.len(),
            Seg::I32(a) => a.len(),
        }
    }

    fn is_array(&self) -> bool {
        !matches!(self, Seg::List(..))
    }

    fn write(&self, out: &mut [i64], factor: i64) -> Result<(), KernelError> {
        match self {
            Seg::List(list, n) => {
                let ptr = list.as_ptr();
                // SAFETY: the GIL is held (we own a Bound), `ptr` is a list; PyList_GetItem
                // returns a borrowed reference, checked against the current size.
                unsafe {
                    if ffi::PyList_Size(ptr) != *n as ffi::Py_ssize_t || out.len() != *n {
                        return Err(KernelError::unsupported("a list changed size"));
                    }
                    for (i, o) in out.iter_mut().enumerate() {
                        let item = ffi::PyList_GetItem(ptr, i as ffi::Py_ssize_t);
                        if item.is_null() || ffi::PyLong_CheckExact(item) == 0 {
                            ffi::PyErr_Clear();
                            return Err(KernelError::unsupported(
                                "a list element that is not an int",
                            ));
                        }
                        let v = ffi::PyLong_AsLongLong(item);
                        if v == -1 && !ffi::PyErr_Occurred().is_null() {
                            ffi::PyErr_Clear();
                            return Err(KernelError::unsupported("an int outside int64"));
                        }
                        *o = v.wrapping_mul(factor);
                    }
                }
                Ok(())
            }
            Seg::I64(a) => {
                for (o, v) in out.iter_mut().zip(a.as_array().iter()) {
                    *o = v.wrapping_mul(factor);
                }
                Ok(())
            }
            Seg::I32(a) => {
                // numpy keeps int32 for `python_int * int32_array`, wrapping around.
                let f = factor as i32;
                for (o, v) in out.iter_mut().zip(a.as_array().iter()) {
                    *o = v.wrapping_mul(f) as i64;
                }
                Ok(())
            }
        }
    }
}

fn unsupported(msg: impl Into<String>) -> KernelError {
    KernelError::unsupported(msg)
}

fn as_dict<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> Result<&'a Bound<'py, PyDict>, KernelError> {
    obj.cast_exact::<PyDict>()
        .map_err(|_| unsupported(format!("{what} is not a dict")))
}

fn as_list<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> Result<&'a Bound<'py, PyList>, KernelError> {
    obj.cast_exact::<PyList>()
        .map_err(|_| unsupported(format!("{what} is not a list")))
}

fn get<'py>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> Result<Option<Bound<'py, PyAny>>, KernelError> {
    d.get_item(key)
        .map_err(|e| unsupported(format!("looking up a key failed: {e}")))
}

struct Params {
    pad_token_id: i64,
    pad_token_type_id: i64,
    label_pad_token_id: i64,
    scale_attention_mask: bool,
    squash_position_ids: bool,
}

fn empty_column<'py>(name: &str, p: &Params) -> Result<Column<Seg<'py>>, KernelError> {
    let (role, pad, scale, squash) = match name {
        "input_ids" => (Role::Main, Pad::Constant(p.pad_token_id), false, false),
        "attention_mask" => (
            Role::Companion,
            Pad::Constant(0),
            p.scale_attention_mask,
            false,
        ),
        "token_type_ids" => (
            Role::Companion,
            Pad::Constant(p.pad_token_type_id),
            false,
            false,
        ),
        "labels" => (
            Role::PrePadded,
            Pad::Constant(p.label_pad_token_id),
            false,
            false,
        ),
        "position_ids" => (Role::PrePadded, Pad::Range, false, p.squash_position_ids),
        other => return Err(unsupported(format!("feature key {other:?}"))),
    };
    Ok(Column {
        role,
        pad,
        scale_by_item: scale,
        squash,
        rows: Vec::new(),
    })
}

/// `DataCollatorForSeq2Seq`: a list of feature dicts, one row each.
fn read_rows<'py>(
    features: &Bound<'py, PyAny>,
    keys: &[Bound<'py, PyString>],
    columns: &mut [Column<Seg<'py>>],
) -> Result<(), KernelError> {
    let rows = as_list(features, "features")?;
    let dicts: Vec<Bound<'py, PyDict>> = rows
        .iter()
        .map(|r| as_dict(&r, "a feature").cloned())
        .collect::<Result<_, _>>()?;
    // Axolotl pads `labels` of a dict listed twice twice (the second time through numpy's
    // float64 round trip): not worth reproducing.
    let mut seen: Vec<usize> = dicts.iter().map(|d| d.as_ptr() as usize).collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(unsupported("the same feature dict twice in one batch"));
    }
    for (key, column) in keys.iter().zip(columns.iter_mut()) {
        for d in &dicts {
            let value =
                get(d, key)?.ok_or_else(|| unsupported(format!("a feature lacks {key}")))?;
            let seg = Seg::from_value(&value, &key.to_string())?;
            column.rows.push(vec![Piece { item: 0, seg }]);
        }
    }
    // tokenizer.pad converts everything to Python lists only when the first input_ids is an
    // array; with lists, an array elsewhere would be padded by numpy broadcasting.
    let main = keys
        .iter()
        .zip(columns.iter())
        .find(|(_, c)| c.role == Role::Main)
        .map(|(_, c)| c);
    if let Some(main) = main {
        if main.rows.first().is_some_and(|r| !r[0].seg.is_array())
            && columns
                .iter()
                .any(|c| c.rows.iter().any(|r| r[0].seg.is_array()))
        {
            return Err(unsupported("lists mixed with numpy arrays"));
        }
    }
    Ok(())
}

/// `BatchSamplerDataCollatorForSeq2Seq` / V2: a list of bins, each a list of feature dicts
/// whose values are concatenated into one row.
fn read_bins<'py>(
    features: &Bound<'py, PyAny>,
    keys: &[Bound<'py, PyString>],
    columns: &mut [Column<Seg<'py>>],
) -> Result<(), KernelError> {
    let py = features.py();
    let length = PyString::intern(py, "length");
    for bin in as_list(features, "features")?.iter() {
        let items = as_list(&bin, "a bin")?;
        let first = items.get_item(0).map_err(|_| unsupported("an empty bin"))?;
        let first = as_dict(&first, "a bin item")?;
        let own = first.len() - usize::from(first.contains(&length).unwrap_or(false));
        if own != keys.len() {
            return Err(unsupported("bins whose first items have different keys"));
        }
        for column in columns.iter_mut() {
            column.rows.push(Vec::new());
        }
        for (j, item) in items.iter().enumerate() {
            let item = as_dict(&item, "a bin item")?;
            for (key, column) in keys.iter().zip(columns.iter_mut()) {
                let Some(value) = get(item, key)? else {
                    if j == 0 {
                        return Err(unsupported("bins whose first items have different keys"));
                    }
                    continue;
                };
                let seg = Seg::from_value(&value, &key.to_string())?;
                if seg.is_empty() {
                    // np.array([]) is float64 and would turn the whole row into floats
                    return Err(unsupported("an empty sequence in a bin"));
                }
                column
                    .rows
                    .last_mut()
                    .expect("pushed above")
                    .push(Piece { item: j, seg });
            }
        }
    }
    Ok(())
}

/// `PretrainingBatchSamplerDataCollatorForSeq2Seq`: one dict of key -> list of sequences,
/// concatenated into a single row.
fn read_columns<'py>(
    features: &Bound<'py, PyAny>,
    keys: &[Bound<'py, PyString>],
    columns: &mut [Column<Seg<'py>>],
) -> Result<(), KernelError> {
    let d = as_dict(features, "features")?;
    for (key, column) in keys.iter().zip(columns.iter_mut()) {
        let value = get(d, key)?.ok_or_else(|| unsupported(format!("features lack {key}")))?;
        let seqs = as_list(&value, "a feature column")?;
        if seqs.is_empty() {
            return Err(unsupported("an empty feature column"));
        }
        let mut row = Vec::with_capacity(seqs.len());
        for (j, v) in seqs.iter().enumerate() {
            let seg = Seg::from_value(&v, &key.to_string())?;
            if seg.is_empty() {
                return Err(unsupported("an empty sequence"));
            }
            row.push(Piece { item: j, seg });
        }
        column.rows.push(row);
    }
    Ok(())
}

/// Where one column is written: a numpy array `alloc` returned, or the memory of a tensor
/// `alloc` created (its address), which stays alive in the caller for the whole call.
enum Buffer<'py> {
    Array(PyReadwriteArray2<'py, i64>),
    Raw(*mut i64, usize),
}

impl Buffer<'_> {
    fn slice(&mut self) -> PyResult<&mut [i64]> {
        match self {
            Buffer::Array(rw) => rw
                .as_slice_mut()
                .map_err(|e| PyValueError::new_err(format!("output array: {e}"))),
            // SAFETY: `allocate` checked the address is non-null and aligned; the caller's
            // contract is that it points to `len` int64 values it owns for this call.
            Buffer::Raw(ptr, len) => Ok(unsafe { std::slice::from_raw_parts_mut(*ptr, *len) }),
        }
    }
}

/// `alloc(rows, width)` returns a C-contiguous int64 numpy array of that shape, or the
/// address (an int) of a fresh contiguous int64 buffer of `rows * width` values (a
/// `torch.empty` tensor's `data_ptr()`; `.numpy()` would make the tensor non-resizable).
fn allocate<'py>(
    alloc: &Bound<'py, PyAny>,
    rows: usize,
    width: usize,
) -> PyResult<(Bound<'py, PyAny>, Buffer<'py>)> {
    let obj = alloc.call1((rows, width))?;
    if let Ok(arr) = obj.cast::<PyArray2<i64>>() {
        if arr.shape() != [rows, width] || !arr.is_c_contiguous() {
            return Err(PyValueError::new_err(format!(
                "alloc must return a C-contiguous ({rows}, {width}) array, got shape {:?}",
                arr.shape()
            )));
        }
        let rw = arr
            .try_readwrite()
            .map_err(|e| PyValueError::new_err(format!("output array: {e}")))?;
        return Ok((obj, Buffer::Array(rw)));
    }
    let addr: usize = obj.extract().map_err(|_| {
        PyValueError::new_err("alloc must return an int64 numpy array or a buffer address")
    })?;
    let len = rows * width;
    if len == 0 {
        return Ok((
            obj,
            Buffer::Raw(std::ptr::NonNull::<i64>::dangling().as_ptr(), 0),
        ));
    }
    if addr == 0 || !addr.is_multiple_of(std::mem::align_of::<i64>()) {
        return Err(PyValueError::new_err(format!(
            "alloc returned an invalid buffer address {addr:#x}"
        )));
    }
    Ok((obj, Buffer::Raw(addr as *mut i64, len)))
}

/// Axolotl's own padding of `labels` / `position_ids`, written back into the feature dicts
/// as its collator does: `list + remainder` for lists, a new int64 array for arrays.
fn write_back<'py>(
    features: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
    column: &Column<Seg<'py>>,
    out: &[i64],
    width: usize,
    side: Side,
) -> PyResult<()> {
    let py = features.py();
    let rows = features.cast::<PyList>()?;
    for (r, (d, pieces)) in rows.iter().zip(column.rows.iter()).enumerate() {
        let d = d.cast::<PyDict>()?;
        let seg = &pieces[0].seg;
        let padded = &out[r * width..(r + 1) * width];
        let new: Bound<'py, PyAny> = match seg {
            Seg::List(list, n) => {
                let pad_n = padded.len() - n;
                let fill: Vec<i64> = match column.pad {
                    Pad::Constant(c) => vec![c; pad_n],
                    Pad::Range => (0..pad_n as i64).collect(),
                };
                let remainder = PyList::new(py, fill)?;
                match side {
                    Side::Right => list.as_any().add(remainder)?,
                    Side::Left => remainder.as_any().add(list)?,
                }
            }
            _ => PyArray1::from_slice(py, padded).into_any(),
        };
        d.set_item(key, new)?;
    }
    Ok(())
}

/// Pads one batch; returns what `alloc(rows, width)` gave for each key, filled, in key order.
#[pyfunction]
#[pyo3(signature = (
    features, layout, keys, alloc, *, right, strategy, max_length, multiple,
    pad_token_id, pad_token_type_id, label_pad_token_id,
    scale_attention_mask=false, squash_position_ids=false, write_back_features=false,
))]
#[allow(clippy::too_many_arguments)]
fn pad_batch<'py>(
    features: &Bound<'py, PyAny>,
    layout: &str,
    keys: Vec<Bound<'py, PyString>>,
    alloc: &Bound<'py, PyAny>,
    right: bool,
    strategy: &str,
    max_length: Option<usize>,
    multiple: Option<usize>,
    pad_token_id: i64,
    pad_token_type_id: i64,
    label_pad_token_id: i64,
    scale_attention_mask: bool,
    squash_position_ids: bool,
    write_back_features: bool,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let strategy = match (strategy, max_length) {
        ("longest", _) => Strategy::Longest,
        ("max_length", Some(m)) => Strategy::MaxLength(m),
        ("do_not_pad", _) => Strategy::DoNotPad,
        (s, m) => {
            return Err(PyValueError::new_err(format!(
                "strategy must be longest, max_length (with max_length) or do_not_pad, got {s:?} / {m:?}"
            )))
        }
    };
    let side = if right { Side::Right } else { Side::Left };
    let params = Params {
        pad_token_id,
        pad_token_type_id,
        label_pad_token_id,
        scale_attention_mask,
        squash_position_ids,
    };
    let attempt = catch_unwind(AssertUnwindSafe(|| -> PyResult<_> {
        let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let mut columns: Vec<Column<Seg<'py>>> = names
            .iter()
            .map(|n| empty_column(n, &params))
            .collect::<Result<_, _>>()
            .map_err(to_py)?;
        let read = match layout {
            "rows" => read_rows(features, &keys, &mut columns),
            "bins" => read_bins(features, &keys, &mut columns),
            "columns" => read_columns(features, &keys, &mut columns),
            other => {
                return Err(PyValueError::new_err(format!(
                    "layout must be rows, bins or columns, got {other:?}"
                )))
            }
        };
        read.map_err(to_py)?;
        let opts = Options {
            side,
            strategy,
            multiple,
            rows_are_arrays: layout != "rows",
        };
        let widths = plan(&columns, &opts).map_err(to_py)?;
        let mut outs = Vec::with_capacity(columns.len());
        let mut buffers = Vec::with_capacity(columns.len());
        for (column, &width) in columns.iter().zip(&widths) {
            let (obj, mut buffer) = allocate(alloc, column.rows.len(), width)?;
            fill(column, width, &opts, buffer.slice()?).map_err(to_py)?;
            outs.push(obj);
            buffers.push(buffer);
        }
        if write_back_features && layout == "rows" {
            for (((key, column), buffer), &width) in keys
                .iter()
                .zip(&columns)
                .zip(buffers.iter_mut())
                .zip(&widths)
            {
                if column.role == Role::PrePadded {
                    write_back(features, key, column, buffer.slice()?, width, side)?;
                }
            }
        }
        Ok(outs)
    }));
    match attempt {
        Ok(result) => result,
        Err(panic) => Err(super::errors::panic_to_py("pad_batch", panic)),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pad_batch, m)?)
}
