//! Bindings of the `packing` kernels: numpy lengths in, Python lists of Python ints out
//! (the shape Axolotl's numba functions return).

use numpy::{npyffi, PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyTuple};

use super::errors::{run, to_py};
use crate::error::KernelError;
use crate::packing::{self, Bins};

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn unsupported(msg: String) -> PyErr {
    to_py(KernelError::Unsupported(msg))
}

/// Lengths copied to i64, and the width in bytes of their dtype. Only an exact 1-D
/// `numpy.ndarray` of native int32 or int64 (any strides) is taken: numba compiles other
/// types (subclasses, lists, other dtypes) differently, so those stay with Axolotl.
fn lengths_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<i64>, usize)> {
    // SAFETY: a type-pointer comparison on a live object, with the GIL held.
    let exact = unsafe { npyffi::PyArray_CheckExact(obj.py(), obj.as_ptr()) } != 0;
    if exact {
        // SAFETY (both arms): the GIL is held and the data is copied before anything else
        // runs, so no Rust reference to the array outlives this call.
        if let Ok(arr) = obj.cast::<PyArray1<i32>>() {
            let view = unsafe { arr.as_array() };
            return Ok((view.iter().map(|&v| v as i64).collect(), 4));
        }
        if let Ok(arr) = obj.cast::<PyArray1<i64>>() {
            return Ok((unsafe { arr.as_array() }.to_vec(), 8));
        }
    }
    Err(unsupported(format!(
        "{what}: expected a 1-D native int32 or int64 numpy.ndarray, got {}",
        type_name(obj)
    )))
}

/// A Python int (not a bool, not a numpy scalar) with magnitude below 2**62, so that
/// numba would type it as int64 and no sum with it can wrap.
fn exact_int(obj: &Bound<'_, PyAny>, what: &str, minimum: i64) -> PyResult<i64> {
    const LIMIT: i64 = 1 << 62;
    if obj.is_exact_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            if v > -LIMIT && v < LIMIT && v >= minimum {
                return Ok(v);
            }
        }
    }
    Err(unsupported(format!(
        "{what}: expected a Python int >= {minimum} within +-2**62, got {}",
        type_name(obj)
    )))
}

fn exact_bool(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<bool> {
    if obj.is_exact_instance_of::<PyBool>() {
        return obj.is_truthy();
    }
    Err(unsupported(format!(
        "{what}: expected a bool, got {}",
        type_name(obj)
    )))
}

/// Pauses CPython's cyclic garbage collector while many lists are built: each list is
/// tracked on creation, and the allocation counts would trigger full collections that
/// scan the whole heap for nothing (lists of ints form no cycles). Restores the previous
/// state on drop.
struct GcPause(bool);

impl GcPause {
    /// Output sizes from which a pause pays off.
    const MIN_ITEMS: usize = 4096;

    fn new(_py: Python<'_>, items: usize) -> Self {
        if items < Self::MIN_ITEMS {
            return GcPause(false);
        }
        // SAFETY: plain C-API calls with the GIL held (the `_py` token proves it).
        GcPause(unsafe { pyo3::ffi::PyGC_Disable() } != 0)
    }
}

impl Drop for GcPause {
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: dropped on the thread that holds the GIL, in the scope of `new`.
            unsafe { pyo3::ffi::PyGC_Enable() };
        }
    }
}

/// `[[offset + i for i in bin] for bin in bins]`.
fn bins_to_list<'py>(py: Python<'py>, bins: &Bins, offset: i64) -> PyResult<Bound<'py, PyList>> {
    let _pause = GcPause::new(py, bins.items.len());
    let inner = (0..bins.len())
        .map(|b| PyList::new(py, bins.bin(b).iter().map(|&i| i as i64 + offset)))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, inner)
}

/// Axolotl's `safe_mode=True` default, or the one extra argument given positionally or
/// by name. numba treats a `safe_mode` of None as false (and other values its own way),
/// so anything but a bool, or any other extra argument, is Unsupported.
fn safe_mode_of(rest: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<bool> {
    let named = kwargs.filter(|kw| !kw.is_empty());
    match (rest.len(), named) {
        (0, None) => Ok(true),
        (1, None) => exact_bool(&rest.get_item(0)?, "safe_mode"),
        (0, Some(kw)) if kw.len() == 1 => match kw.get_item("safe_mode")? {
            Some(value) => exact_bool(&value, "safe_mode"),
            None => Err(unsupported("unexpected keyword argument".into())),
        },
        _ => Err(unsupported("unexpected extra arguments".into())),
    }
}

/// First fit in the given order (Axolotl's `pack_group`, same parameters): bins of
/// `group_offset + i`. Raises UnsupportedInput for arguments numba would type otherwise.
#[pyfunction]
#[pyo3(signature = (sequence_lengths, group_offset, bin_capacity, max_bins, bin_size, *rest, **kwargs))]
#[allow(clippy::too_many_arguments)]
fn pack_first_fit<'py>(
    py: Python<'py>,
    sequence_lengths: &Bound<'py, PyAny>,
    group_offset: &Bound<'py, PyAny>,
    bin_capacity: &Bound<'py, PyAny>,
    max_bins: &Bound<'py, PyAny>,
    bin_size: &Bound<'py, PyAny>,
    rest: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyList>> {
    let (lengths, _) = lengths_of(sequence_lengths, "sequence_lengths")?;
    let offset = exact_int(group_offset, "group_offset", i64::MIN)?;
    let capacity = exact_int(bin_capacity, "bin_capacity", i64::MIN)?;
    let max_bins = exact_int(max_bins, "max_bins", i64::MIN)?;
    let bin_size = exact_int(bin_size, "bin_size", i64::MIN)?;
    let safe_mode = safe_mode_of(rest, kwargs)?;
    let bins = run(py, "pack_first_fit", lengths.len(), || {
        packing::first_fit(&lengths, capacity, max_bins, bin_size, safe_mode)
    })?;
    bins_to_list(py, &bins, offset)
}

/// Groups of `group_size` packed by first fit on the thread pool, bins concatenated in
/// group order (Axolotl's `pack_parallel` without its process-pool arguments).
#[pyfunction]
#[pyo3(signature = (sequence_lengths, bin_capacity, group_size, bin_size, safe_mode))]
fn pack_first_fit_groups<'py>(
    py: Python<'py>,
    sequence_lengths: &Bound<'py, PyAny>,
    bin_capacity: &Bound<'py, PyAny>,
    group_size: &Bound<'py, PyAny>,
    bin_size: &Bound<'py, PyAny>,
    safe_mode: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let (lengths, _) = lengths_of(sequence_lengths, "sequence_lengths")?;
    let capacity = exact_int(bin_capacity, "bin_capacity", i64::MIN)?;
    let group_size = exact_int(group_size, "group_size", 1)? as usize;
    let bin_size = exact_int(bin_size, "bin_size", i64::MIN)?;
    let safe_mode = exact_bool(safe_mode, "safe_mode")?;
    let bins = run(py, "pack_first_fit_groups", lengths.len(), || {
        packing::first_fit_groups(&lengths, capacity, group_size, bin_size, safe_mode, true)
    })?;
    bins_to_list(py, &bins, 0)
}

/// Next fit in order, bins of one rank, and the totals (Axolotl's
/// `allocate_sequentially`, same parameters). UnsupportedInput for a negative `rank`,
/// `num_ranks` below 1 and arguments numba would type otherwise.
#[pyfunction]
#[pyo3(signature = (sequence_lengths, rank, bin_capacity, num_ranks))]
fn pack_next_fit<'py>(
    py: Python<'py>,
    sequence_lengths: &Bound<'py, PyAny>,
    rank: &Bound<'py, PyAny>,
    bin_capacity: &Bound<'py, PyAny>,
    num_ranks: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyList>, i64, i64)> {
    let (lengths, _) = lengths_of(sequence_lengths, "sequence_lengths")?;
    let rank = exact_int(rank, "rank", 0)? as usize;
    let capacity = exact_int(bin_capacity, "bin_capacity", i64::MIN)?;
    let num_ranks = exact_int(num_ranks, "num_ranks", 1)? as usize;
    let seq = run(py, "pack_next_fit", lengths.len(), || {
        packing::next_fit(&lengths, rank, capacity, num_ranks)
    })?;
    Ok((
        bins_to_list(py, &seq.bins, 0)?,
        seq.total_used,
        seq.total_slots,
    ))
}

/// Whether first fit decreasing places every length into `num_bins` bins (Axolotl's
/// `ffd_check`, same parameters). Axolotl's bins have the lengths' dtype: where int32
/// bins could wrap (capacity outside int32, negative int32 lengths), and for `num_bins`
/// below 0 or above 2**31, UnsupportedInput.
#[pyfunction]
#[pyo3(signature = (sequence_lengths, bin_capacity, num_bins))]
fn ffd_fits(
    py: Python<'_>,
    sequence_lengths: &Bound<'_, PyAny>,
    bin_capacity: &Bound<'_, PyAny>,
    num_bins: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    let (lengths, width) = lengths_of(sequence_lengths, "sequence_lengths")?;
    let capacity = exact_int(bin_capacity, "bin_capacity", i64::MIN)?;
    let num_bins = exact_int(num_bins, "num_bins", 0)?;
    if num_bins > 1 << 31 {
        return Err(unsupported(format!("num_bins: {num_bins} bins")));
    }
    if width == 4 && (i32::try_from(capacity).is_err() || lengths.iter().any(|&l| l < 0)) {
        return Err(unsupported(
            "int32 bins could wrap: capacity outside int32 or negative lengths".into(),
        ));
    }
    run(py, "ffd_fits", lengths.len(), || {
        packing::ffd_fits(&lengths, capacity, num_bins as usize)
    })
}

/// One pass of `MultipackBatchSampler.generate_batches` after the sampler was drawn:
/// `lengths[indices]`, first fit in groups (or next fit when `sequential`), bins of the
/// very objects of `indices`, cut into batches of `batch_size` bins. Returns the batches,
/// the sum of the selected lengths (parallel) or next fit's total (sequential), and the
/// number of bins. Every element of `indices` must be a Python int.
#[pyfunction]
#[pyo3(signature = (indices, lengths, batch_size, bin_capacity, sequential, group_size, bin_size, safe_mode))]
#[allow(clippy::too_many_arguments)]
fn multipack_batches<'py>(
    py: Python<'py>,
    indices: &Bound<'py, PyList>,
    lengths: &Bound<'py, PyAny>,
    batch_size: usize,
    bin_capacity: i64,
    sequential: bool,
    group_size: usize,
    bin_size: i64,
    safe_mode: bool,
) -> PyResult<(Bound<'py, PyList>, i64, usize)> {
    if batch_size == 0 {
        return Err(to_py(KernelError::invalid("batch_size must be positive")));
    }
    let (lengths, _) = lengths_of(lengths, "lengths")?;
    let mut objects: Vec<Bound<'py, PyAny>> = Vec::with_capacity(indices.len());
    let mut positions: Vec<i64> = Vec::with_capacity(indices.len());
    for item in indices.iter() {
        if !item.is_exact_instance_of::<PyInt>() {
            return Err(to_py(KernelError::unsupported(format!(
                "indices: expected Python ints, found {}",
                item.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "object".into())
            ))));
        }
        positions.push(item.extract::<i64>().map_err(|_| {
            to_py(KernelError::unsupported(
                "indices: an index does not fit in int64",
            ))
        })?);
        objects.push(item);
    }
    let (bins, total_used) = run(py, "multipack_batches", positions.len(), || {
        let selected = packing::gather(&lengths, &positions)?;
        if sequential {
            let seq = packing::next_fit(&selected, 0, bin_capacity, 1)?;
            Ok((seq.bins, seq.total_used))
        } else {
            let bins = packing::first_fit_groups(
                &selected,
                bin_capacity,
                group_size,
                bin_size,
                safe_mode,
                true,
            )?;
            Ok((bins, selected.iter().sum::<i64>()))
        }
    })?;
    let nbins = bins.len();
    let _pause = GcPause::new(py, bins.items.len());
    let mut batches = Vec::with_capacity(nbins.div_ceil(batch_size));
    let mut b = 0;
    while b < nbins {
        let end = (b + batch_size).min(nbins);
        let batch = (b..end)
            .map(|k| PyList::new(py, bins.bin(k).iter().map(|&i| &objects[i])))
            .collect::<PyResult<Vec<_>>>()?;
        batches.push(PyList::new(py, batch)?);
        b = end;
    }
    Ok((PyList::new(py, batches)?, total_used, nbins))
}

/// The rows of a list of token lists, each an exact `list`; `what` names the argument.
fn rows_of<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyList>>> {
    let outer = obj.cast_exact::<PyList>().map_err(|_| {
        unsupported(format!(
            "{what}: expected a list of lists, got {}",
            type_name(obj)
        ))
    })?;
    outer
        .iter()
        .map(|row| {
            row.cast_exact::<PyList>().cloned().map_err(|_| {
                unsupported(format!(
                    "{what}: expected lists of ints, got a {}",
                    type_name(&row)
                ))
            })
        })
        .collect()
}

/// `item` if it is a Python int that fits int64 (what `torch.tensor` keeps as int64).
fn token<'py>(item: Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    if item.is_exact_instance_of::<PyInt>() && item.extract::<i64>().is_ok() {
        return Ok(item);
    }
    Err(unsupported(format!(
        "{what}: expected Python ints within int64, got {}",
        type_name(&item)
    )))
}

/// The packing of Axolotl's `encode_streaming` after tokenization: every tokenized row
/// gets `[eos, pad]` (labels `[eos, -100]`, mask `[1, 0]`), rows are concatenated into
/// buffers of `max_tokens` by Axolotl's flush rule ([`packing::stream_layout`]) and padded
/// with `pad` / -100 / 0. Returns `(input_ids, labels, attention_mask)` as lists of lists
/// of Python ints (the token objects of the input are reused). UnsupportedInput for
/// anything Axolotl's torch code treats differently: empty rows (they turn its buffers
/// into floats), mask rows of another length than their token rows, non-int tokens.
#[pyfunction]
#[pyo3(signature = (input_ids, attention_mask, eos_token_id, pad_token_id, max_tokens))]
#[allow(clippy::type_complexity)]
fn pack_token_stream<'py>(
    py: Python<'py>,
    input_ids: &Bound<'py, PyAny>,
    attention_mask: &Bound<'py, PyAny>,
    eos_token_id: &Bound<'py, PyAny>,
    pad_token_id: &Bound<'py, PyAny>,
    max_tokens: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>, Bound<'py, PyList>)> {
    let ids = rows_of(input_ids, "input_ids")?;
    let masks = rows_of(attention_mask, "attention_mask")?;
    if ids.len() != masks.len() {
        return Err(unsupported(format!(
            "{} token rows but {} attention-mask rows",
            ids.len(),
            masks.len()
        )));
    }
    let eos = token(eos_token_id.clone(), "eos_token_id")?;
    let pad = token(pad_token_id.clone(), "pad_token_id")?;
    let max_tokens = exact_int(max_tokens, "max_tokens", 3)? as usize;
    let mut lengths = Vec::with_capacity(ids.len());
    let mut total = 0usize;
    for (r, (row, mask)) in ids.iter().zip(&masks).enumerate() {
        let n = row.len();
        if n == 0 || mask.len() != n {
            return Err(unsupported(format!(
                "row {r}: {n} tokens and {} mask values (empty rows and mismatched masks \
                 are left to Axolotl)",
                mask.len()
            )));
        }
        lengths.push(n + 2);
        total += n + 2;
    }
    let layout = packing::stream_layout(&lengths, max_tokens).map_err(to_py)?;
    let ignore = (-100i64).into_pyobject(py)?.into_any();
    let one = 1i64.into_pyobject(py)?.into_any();
    let zero = 0i64.into_pyobject(py)?.into_any();

    let _pause = GcPause::new(py, 3 * total);
    let mut out_ids = Vec::with_capacity(layout.len());
    let mut out_labels = Vec::with_capacity(layout.len());
    let mut out_mask = Vec::with_capacity(layout.len());
    let mut buf_ids: Vec<Bound<'py, PyAny>> = Vec::new();
    let mut buf_labels: Vec<Bound<'py, PyAny>> = Vec::new();
    let mut buf_mask: Vec<Bound<'py, PyAny>> = Vec::new();
    for row in &layout {
        for r in row.first..row.end {
            for item in ids[r].iter() {
                let item = token(item, "input_ids")?;
                buf_labels.push(item.clone());
                buf_ids.push(item);
            }
            for item in masks[r].iter() {
                buf_mask.push(token(item, "attention_mask")?);
            }
            buf_ids.push(eos.clone());
            buf_ids.push(pad.clone());
            buf_labels.push(eos.clone());
            buf_labels.push(ignore.clone());
            buf_mask.push(one.clone());
            buf_mask.push(zero.clone());
        }
        for _ in 0..row.pad {
            buf_ids.push(pad.clone());
            buf_labels.push(ignore.clone());
            buf_mask.push(zero.clone());
        }
        out_ids.push(PyList::new(py, buf_ids.drain(..))?);
        out_labels.push(PyList::new(py, buf_labels.drain(..))?);
        out_mask.push(PyList::new(py, buf_mask.drain(..))?);
    }
    Ok((
        PyList::new(py, out_ids)?,
        PyList::new(py, out_labels)?,
        PyList::new(py, out_mask)?,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pack_first_fit, m)?)?;
    m.add_function(wrap_pyfunction!(pack_first_fit_groups, m)?)?;
    m.add_function(wrap_pyfunction!(pack_next_fit, m)?)?;
    m.add_function(wrap_pyfunction!(ffd_fits, m)?)?;
    m.add_function(wrap_pyfunction!(multipack_batches, m)?)?;
    m.add_function(wrap_pyfunction!(pack_token_stream, m)?)?;
    Ok(())
}
