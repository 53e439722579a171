//! Bindings of fast-axolotl 0.2.0's list-of-lists API: `pack_sequences`,
//! `concatenate_and_pack`, `pad_sequences`, `create_padding_mask`.
//!
//! Inputs and outputs are Python lists of Python ints (0.2.0's types). Converting every
//! token to an i64 and back costs more than Python's own list concatenation (0.2.0 lost to
//! plain Python that way: 0.42x packing, 0.53x padding in its own benchmark), so the
//! kernels move the int objects themselves: a row that is a list of exact ints is used
//! as it is, and output rows are assembled with CPython's list slice and concatenation
//! primitives, which copy references in C. Any other row (a tuple, a numpy array, bools,
//! numpy ints) is first converted to a list of ints with `operator.index`, as 0.2.0's
//! extraction did.
//!
//! Everything here holds the GIL: it creates Python objects throughout.

use std::sync::{Mutex, OnceLock};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::errors::to_py;
use crate::sequences::{pack_plan, pad_target, Packed};

// ---------------------------------------------------------------------------- reading rows

/// CPython's list object. The limited API hides it, but its layout has not changed since
/// Python 2 and abi3 wheels load only into GIL builds; `layout_checked` still compares it
/// with `PyList_GetItem` once before any read relies on it.
#[repr(C)]
struct RawList {
    ob_base: ffi::PyVarObject,
    ob_item: *mut *mut ffi::PyObject,
    allocated: ffi::Py_ssize_t,
}

fn layout_checked(py: Python<'_>) -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let Ok(probe) = PyList::new(py, [1_000_003i64, 2_000_003, 3_000_003]) else {
            return false;
        };
        let p = probe.as_ptr();
        // SAFETY: `p` is a live list of 3 items and the GIL is held.
        unsafe {
            let raw = p.cast::<RawList>();
            (*raw).ob_base.ob_size == 3
                && (0..3).all(|i| *(*raw).ob_item.add(i) == ffi::PyList_GetItem(p, i as isize))
        }
    })
}

/// True if every item of `list` is an exact `int` (not a bool, not an int subclass).
/// Runs no Python code.
fn all_exact_ints(list: &Bound<'_, PyList>, direct: bool) -> bool {
    exact_ints_in(list, 0, list.len(), direct)
}

/// True if the items `lo..hi` of `list` (within its length) are exact ints.
fn exact_ints_in(list: &Bound<'_, PyList>, lo: usize, hi: usize, direct: bool) -> bool {
    let p = list.as_ptr();
    // SAFETY: the GIL is held and `p` is a list; `hi` is clamped to its current size;
    // with `direct`, its layout was verified.
    unsafe {
        if direct {
            let raw = p.cast::<RawList>();
            let hi = hi.min((*raw).ob_base.ob_size as usize);
            (lo..hi).all(|i| ffi::PyLong_CheckExact(*(*raw).ob_item.add(i)) != 0)
        } else {
            let hi = hi.min(ffi::PyList_Size(p) as usize);
            (lo..hi).all(|i| ffi::PyLong_CheckExact(ffi::PyList_GetItem(p, i as isize)) != 0)
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The items of a sequence argument as a tuple the call owns (so that code run later
/// cannot change them). Refuses what 0.2.0's `Vec` extraction refused: a str, and
/// objects that are not sequences.
pub(crate) fn snapshot<'py>(obj: &Bound<'py, PyAny>, arg: &str) -> PyResult<Bound<'py, PyTuple>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "argument '{arg}': Can't extract `str` to `Vec`"
        )));
    }
    // SAFETY: the GIL is held; PySequence_Tuple returns a new reference or sets an error.
    unsafe {
        if ffi::PySequence_Check(obj.as_ptr()) == 0 {
            return Err(PyTypeError::new_err(format!(
                "argument '{arg}': '{}' object cannot be converted to 'Sequence'",
                type_name(obj)
            )));
        }
        Ok(
            Bound::from_owned_ptr_or_err(obj.py(), ffi::PySequence_Tuple(obj.as_ptr()))?
                .cast_into_unchecked(),
        )
    }
}

/// A new list of exact ints with the values of `row`, converted with `operator.index`
/// (0.2.0 read every value as an int64 the same way: `True` is 1, a numpy int its value,
/// a float a TypeError).
fn converted<'py>(row: &Bound<'py, PyAny>, arg: &str, i: usize) -> PyResult<Bound<'py, PyList>> {
    let py = row.py();
    let items = snapshot(row, arg).map_err(|e| {
        if e.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(format!(
                "argument '{arg}': {arg}[{i}]: {}",
                e.value(py)
                    .to_string()
                    .trim_start_matches(&format!("argument '{arg}': "))
            ))
        } else {
            e
        }
    })?;
    let mut out = Vec::with_capacity(items.len());
    for (j, v) in items.iter().enumerate() {
        // SAFETY: the GIL is held; PyNumber_Index returns a new reference or sets an error.
        let int =
            unsafe { Bound::from_owned_ptr_or_err(row.py(), ffi::PyNumber_Index(v.as_ptr())) };
        match int {
            Ok(int) => out.push(int),
            Err(e) if e.is_instance_of::<PyTypeError>(row.py()) => {
                return Err(PyTypeError::new_err(format!(
                    "argument '{arg}': {arg}[{i}][{j}]: {}",
                    e.value(row.py())
                )))
            }
            Err(e) => return Err(e),
        }
    }
    PyList::new(row.py(), out)
}

/// Every row of the sequence argument `arg` as a list of exact ints.
///
/// Converting a row can run Python code (`__index__`, `__iter__`) that may change a list
/// already checked, so the checks repeat until a pass converts nothing; from then on no
/// Python code runs until the outputs are built.
fn int_rows<'py>(obj: &Bound<'py, PyAny>, arg: &str) -> PyResult<Vec<Bound<'py, PyList>>> {
    let py = obj.py();
    let direct = layout_checked(py);
    let outer = snapshot(obj, arg)?;
    let mut rows = Vec::with_capacity(outer.len());
    let mut own = Vec::with_capacity(outer.len()); // the caller's list, used as it is
    let mut changed = false;
    for (i, row) in outer.iter().enumerate() {
        match row.cast_exact::<PyList>() {
            Ok(list) if all_exact_ints(list, direct) => {
                rows.push(list.clone());
                own.push(true);
            }
            _ => {
                rows.push(converted(&row, arg, i)?);
                own.push(false);
                changed = true;
            }
        }
    }
    while changed {
        changed = false;
        for i in 0..rows.len() {
            if own[i] && !all_exact_ints(&rows[i], direct) {
                rows[i] = converted(rows[i].as_any(), arg, i)?;
                own[i] = false;
                changed = true;
            }
        }
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------- list primitives

fn isz(n: usize) -> PyResult<ffi::Py_ssize_t> {
    ffi::Py_ssize_t::try_from(n)
        .map_err(|_| PyValueError::new_err(format!("{n} items do not fit a Python list")))
}

/// `list[lo:hi]`, a new list.
fn slice<'py>(list: &Bound<'py, PyList>, lo: usize, hi: usize) -> PyResult<Bound<'py, PyList>> {
    // SAFETY: the GIL is held; PyList_GetSlice returns a new reference or sets an error.
    unsafe {
        Ok(Bound::from_owned_ptr_or_err(
            list.py(),
            ffi::PyList_GetSlice(list.as_ptr(), isz(lo)?, isz(hi)?),
        )?
        .cast_into_unchecked())
    }
}

/// `list[lo:hi] = src`.
fn set_slice(
    list: &Bound<'_, PyList>,
    lo: usize,
    hi: usize,
    src: &Bound<'_, PyList>,
) -> PyResult<()> {
    // SAFETY: the GIL is held and both are lists.
    let rc = unsafe { ffi::PyList_SetSlice(list.as_ptr(), isz(lo)?, isz(hi)?, src.as_ptr()) };
    if rc != 0 {
        return Err(PyErr::fetch(list.py()));
    }
    Ok(())
}

/// `a + b` of two lists.
fn concat<'py>(a: &Bound<'py, PyList>, b: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyList>> {
    // SAFETY: the GIL is held; list + list is a new list or an error.
    unsafe {
        Ok(
            Bound::from_owned_ptr_or_err(a.py(), ffi::PySequence_Concat(a.as_ptr(), b.as_ptr()))?
                .cast_into_unchecked(),
        )
    }
}

/// `list += src` (list.extend: the copy CPython's own `+=` on lists makes).
fn extend(list: &Bound<'_, PyList>, src: &Bound<'_, PyList>) -> PyResult<()> {
    // SAFETY: the GIL is held; in-place concat of two lists returns `list` itself (a new
    // reference, dropped here) or NULL with an error set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            list.py(),
            ffi::PySequence_InPlaceConcat(list.as_ptr(), src.as_ptr()),
        )?;
    }
    Ok(())
}

fn append(list: &Bound<'_, PyList>, v: &Bound<'_, PyAny>) -> PyResult<()> {
    // SAFETY: the GIL is held; PyList_Append takes its own reference.
    if unsafe { ffi::PyList_Append(list.as_ptr(), v.as_ptr()) } != 0 {
        return Err(PyErr::fetch(list.py()));
    }
    Ok(())
}

/// `[value] * n` for many `n`: the one-item list is made once per call, not per row.
struct Filler<'py>(Bound<'py, PyList>);

impl<'py> Filler<'py> {
    fn new(value: &Bound<'py, PyAny>) -> PyResult<Self> {
        Ok(Filler(PyList::new(value.py(), [value])?))
    }

    fn times(&self, n: usize) -> PyResult<Bound<'py, PyList>> {
        // SAFETY: the GIL is held; list * n is a new list or an error.
        unsafe {
            Ok(Bound::from_owned_ptr_or_err(
                self.0.py(),
                ffi::PySequence_Repeat(self.0.as_ptr(), isz(n)?),
            )?
            .cast_into_unchecked())
        }
    }
}

fn int<'py>(py: Python<'py>, v: i64) -> PyResult<Bound<'py, PyAny>> {
    Ok(v.into_pyobject(py)?.into_any())
}

fn packed_dict<'py>(
    py: Python<'py>,
    ids: Vec<Bound<'py, PyList>>,
    labels: Vec<Bound<'py, PyList>>,
    mask: Vec<Bound<'py, PyList>>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("input_ids", PyList::new(py, ids)?)?;
    d.set_item("labels", PyList::new(py, labels)?)?;
    d.set_item("attention_mask", PyList::new(py, mask)?)?;
    Ok(d)
}

// ---------------------------------------------------------------------------- the functions

/// The rows of `obj` when every one is a list (items not checked yet), else None.
fn list_rows<'py>(obj: &Bound<'py, PyAny>, arg: &str) -> PyResult<Option<Vec<Bound<'py, PyList>>>> {
    let outer = snapshot(obj, arg)?;
    Ok(outer
        .iter()
        .map(|r| r.cast_into_exact::<PyList>().ok())
        .collect())
}

/// Rows whose items are checked while they are copied (`check`), when the first check
/// after the rows were read is also the cheapest: the row is in cache for the copy. A
/// build returns None as soon as a row holds anything but exact ints; no Python code runs
/// during a build, so a row checked there cannot change before it is copied.
struct Rows<'a, 'py> {
    rows: &'a [Bound<'py, PyList>],
    check: bool,
    direct: bool,
}

impl<'py> Rows<'_, 'py> {
    fn ok(&self, i: usize) -> bool {
        !self.check || all_exact_ints(&self.rows[i], self.direct)
    }
}

/// Defers the cyclic garbage collector while a build runs, and restores its state after.
///
/// A build allocates one list per output row and runs no Python code. With the collector
/// on, every 700 of those allocations start a collection, and the growing pile of young
/// lists soon triggers full collections that walk every token list of the input again:
/// measured, that is most of the time of a large plain-Python padding loop. Deferred, the
/// collector runs at the next allocation after the call, once.
struct GcDeferred(bool);

impl GcDeferred {
    fn new() -> Self {
        // SAFETY: the GIL is held.
        GcDeferred(unsafe { ffi::PyGC_Disable() } != 0)
    }
}

impl Drop for GcDeferred {
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: the GIL is held (the guard lives inside a call that holds it).
            unsafe { ffi::PyGC_Enable() };
        }
    }
}

/// Runs `build` on the rows of each argument as they are, and when a row turns out not to
/// be a list of exact ints, again on rows converted by `int_rows`.
fn with_rows<'py, T>(
    args: &[(&Bound<'py, PyAny>, &str)],
    build: impl Fn(&[Rows<'_, 'py>]) -> PyResult<Option<T>>,
) -> PyResult<T> {
    let py = args[0].0.py();
    let direct = layout_checked(py);
    let mut fast = Vec::with_capacity(args.len());
    for &(obj, arg) in args {
        match list_rows(obj, arg)? {
            Some(rows) => fast.push(rows),
            None => break,
        }
    }
    if fast.len() == args.len() {
        let views: Vec<Rows<'_, 'py>> = fast
            .iter()
            .map(|r| Rows {
                rows: r,
                check: true,
                direct,
            })
            .collect();
        let built = {
            let _gc = GcDeferred::new();
            build(&views)
        };
        match built {
            Ok(Some(out)) => return Ok(out),
            Ok(None) => {}
            // 0.2.0 read every value before anything else: a bad value wins over an error
            // the build found first
            Err(e) => {
                if views.iter().all(|v| (0..v.rows.len()).all(|i| v.ok(i))) {
                    return Err(e);
                }
            }
        }
    }
    let slow = args
        .iter()
        .map(|&(obj, arg)| int_rows(obj, arg))
        .collect::<PyResult<Vec<_>>>()?;
    let views: Vec<Rows<'_, 'py>> = slow
        .iter()
        .map(|r| Rows {
            rows: r,
            check: false,
            direct,
        })
        .collect();
    let _gc = GcDeferred::new();
    build(&views)?.ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err(
            "internal error in fast_axolotl: a converted row failed its check",
        )
    })
}

/// Packs token rows into rows of exactly `max_length` tokens, as fast-axolotl 0.2.0 did.
///
/// Each row is followed by `eos_token_id` and `pad_token_id` (labels: `eos_token_id`,
/// `label_pad_id`; attention mask: 1 for the row and its eos, 0 for the pad); rows go into
/// the current packed row in order while they fit, then the packed row is padded (pad,
/// `label_pad_id`, 0) and a new one starts. Returns a dict of `input_ids`, `labels`,
/// `attention_mask`, each a list of lists of ints.
///
/// Raises ValueError for a row longer than `max_length - 2` (0.2.0 panicked).
#[pyfunction]
#[pyo3(
    signature = (sequences, max_length, pad_token_id, eos_token_id, label_pad_id=-100),
    text_signature = "(sequences, max_length, pad_token_id, eos_token_id, label_pad_id=-100)"
)]
fn pack_sequences<'py>(
    sequences: &Bound<'py, PyAny>,
    max_length: usize,
    pad_token_id: i64,
    eos_token_id: i64,
    label_pad_id: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let py = sequences.py();
    let (pad, eos, label_pad) = (
        int(py, pad_token_id)?,
        int(py, eos_token_id)?,
        int(py, label_pad_id)?,
    );
    let (zero, one) = (int(py, 0)?, int(py, 1)?);
    let (fill_pad, fill_label_pad) = (Filler::new(&pad)?, Filler::new(&label_pad)?);
    let (fill_zero, fill_one) = (Filler::new(&zero)?, Filler::new(&one)?);
    with_rows(&[(sequences, "sequences")], |views| {
        let v = &views[0];
        let rows = v.rows;
        let lengths: Vec<usize> = rows.iter().map(|r| r.len()).collect();
        let plan = pack_plan(&lengths, 2, max_length, |i, n| {
            format!(
                "pack_sequences: sequences[{i}] has {} tokens; with the eos and pad tokens \
                 appended to every row it needs {n} positions, more than \
                 max_length={max_length} (fast-axolotl 0.2.0 panicked with 'capacity \
                 overflow' here)",
                n - 2
            )
        })
        .map_err(to_py)?;
        let (mut ids, mut labels, mut mask) = (vec![], vec![], vec![]);
        for &Packed { start, end } in &plan {
            let (i, l) = (PyList::empty(py), PyList::empty(py));
            let mut m: Option<Bound<'py, PyList>> = None;
            let mut at = 0;
            for r in start..end {
                let (row, n) = (&rows[r], lengths[r]);
                extend(&i, row)?;
                // checked after the copy, while its ints are in cache
                if v.check && !exact_ints_in(&i, at, at + n, v.direct) {
                    return Ok(None);
                }
                append(&i, &eos)?;
                append(&i, &pad)?;
                extend(&l, row)?;
                append(&l, &eos)?;
                append(&l, &label_pad)?;
                let ones = fill_one.times(n + 1)?;
                // the first run of ones becomes the mask row itself: one copy fewer
                let m = match &m {
                    Some(m) => {
                        extend(m, &ones)?;
                        m
                    }
                    None => m.insert(ones),
                };
                append(m, &zero)?;
                at += n + 2;
            }
            let m = m.unwrap_or_else(|| PyList::empty(py));
            let k = max_length - at;
            if k > 0 {
                extend(&i, &fill_pad.times(k)?)?;
                extend(&l, &fill_label_pad.times(k)?)?;
                extend(&m, &fill_zero.times(k)?)?;
            }
            ids.push(i);
            labels.push(l);
            mask.push(m);
        }
        packed_dict(py, ids, labels, mask).map(Some)
    })
}

/// Packs rows that already have their labels and attention masks into rows of exactly
/// `max_length`, as fast-axolotl 0.2.0 did: rows go into the current packed row in order
/// while they fit, then it is padded (`pad_token_id`, `label_pad_id`, 0). Returns a dict
/// of `input_ids`, `labels`, `attention_mask`, each a list of lists of ints.
///
/// Raises ValueError where 0.2.0 dropped tokens silently: when the three arguments have
/// different numbers of rows, when a row's three lists differ in length, or when a row is
/// longer than `max_length`.
#[pyfunction]
#[pyo3(
    signature = (input_ids, labels, attention_masks, max_length, pad_token_id, label_pad_id=-100),
    text_signature = "(input_ids, labels, attention_masks, max_length, pad_token_id, label_pad_id=-100)"
)]
fn concatenate_and_pack<'py>(
    input_ids: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    attention_masks: &Bound<'py, PyAny>,
    max_length: usize,
    pad_token_id: i64,
    label_pad_id: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let py = input_ids.py();
    let fill_pad = Filler::new(&int(py, pad_token_id)?)?;
    let fill_label_pad = Filler::new(&int(py, label_pad_id)?)?;
    let fill_zero = Filler::new(&int(py, 0)?)?;
    let args = [
        (input_ids, "input_ids"),
        (labels, "labels"),
        (attention_masks, "attention_masks"),
    ];
    with_rows(&args, |views| {
        let (a, b, c) = (&views[0], &views[1], &views[2]);
        if a.rows.len() != b.rows.len() || a.rows.len() != c.rows.len() {
            return Err(PyValueError::new_err(format!(
                "concatenate_and_pack: input_ids has {} rows, labels {} and attention_masks \
                 {}; they must have one row each per sequence (fast-axolotl 0.2.0 dropped the \
                 extra rows silently)",
                a.rows.len(),
                b.rows.len(),
                c.rows.len()
            )));
        }
        let mut lengths = Vec::with_capacity(a.rows.len());
        for i in 0..a.rows.len() {
            let (n, nl, nm) = (a.rows[i].len(), b.rows[i].len(), c.rows[i].len());
            if n != nl || n != nm {
                return Err(PyValueError::new_err(format!(
                    "concatenate_and_pack: row {i} has {n} input_ids, {nl} labels and {nm} \
                     attention_masks values; they must be equally long (fast-axolotl 0.2.0 \
                     misaligned or cut them silently)"
                )));
            }
            lengths.push(n);
        }
        let plan = pack_plan(&lengths, 0, max_length, |i, n| {
            format!(
                "concatenate_and_pack: input_ids[{i}] has {n} tokens, more than \
                 max_length={max_length} (fast-axolotl 0.2.0 dropped the tokens past \
                 max_length silently and emitted a row of padding)"
            )
        })
        .map_err(to_py)?;
        let (mut ids, mut labs, mut mask) = (vec![], vec![], vec![]);
        for &Packed { start, end } in &plan {
            let (i, l, m) = (PyList::empty(py), PyList::empty(py), PyList::empty(py));
            let mut at = 0;
            for (r, n) in (start..end).zip(&lengths[start..end]) {
                extend(&i, &a.rows[r])?;
                extend(&l, &b.rows[r])?;
                extend(&m, &c.rows[r])?;
                // checked after the copy, while its ints are in cache
                if a.check
                    && !(exact_ints_in(&i, at, at + n, a.direct)
                        && exact_ints_in(&l, at, at + n, a.direct)
                        && exact_ints_in(&m, at, at + n, a.direct))
                {
                    return Ok(None);
                }
                at += n;
            }
            let k = max_length - at;
            if k > 0 {
                extend(&i, &fill_pad.times(k)?)?;
                extend(&l, &fill_label_pad.times(k)?)?;
                extend(&m, &fill_zero.times(k)?)?;
            }
            ids.push(i);
            labs.push(l);
            mask.push(m);
        }
        packed_dict(py, ids, labs, mask).map(Some)
    })
}

/// Pads every row to one length, as fast-axolotl 0.2.0 did: `target_length`, or the
/// longest row when None, rounded up to a multiple of `pad_to_multiple_of` when that is
/// given and not 0; `pad_value` goes on the `padding_side` ("right" or "left"). Returns
/// a new list of new lists of ints.
///
/// Raises ValueError for a row longer than that length (0.2.0 cut it silently).
#[pyfunction]
#[pyo3(signature = (sequences, target_length=None, pad_value=0, padding_side="right", pad_to_multiple_of=None))]
fn pad_sequences<'py>(
    sequences: &Bound<'py, PyAny>,
    target_length: Option<usize>,
    pad_value: i64,
    padding_side: &str,
    pad_to_multiple_of: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let py = sequences.py();
    let fill_pad = Filler::new(&int(py, pad_value)?)?;
    let right = match padding_side {
        "right" => Some(true),
        "left" => Some(false),
        _ => None,
    };
    with_rows(&[(sequences, "sequences")], |views| {
        let v = &views[0];
        // 0.2.0 read every row before it looked at padding_side
        let Some(right) = right else {
            return Err(PyValueError::new_err(
                "padding_side must be 'right' or 'left'",
            ));
        };
        let lengths: Vec<usize> = v.rows.iter().map(|r| r.len()).collect();
        if lengths.is_empty() {
            return Ok(Some(PyList::empty(py)));
        }
        let target = pad_target(&lengths, target_length, pad_to_multiple_of)
            .map_err(|e| PyValueError::new_err(format!("pad_sequences: {e}")))?;
        let mut out = Vec::with_capacity(lengths.len());
        for (row, &n) in v.rows.iter().zip(&lengths) {
            let k = target - n;
            let padded = if k == 0 {
                slice(row, 0, n)?
            } else if right {
                concat(row, &fill_pad.times(k)?)?
            } else {
                concat(&fill_pad.times(k)?, row)?
            };
            // checked after the copy, while its ints are in cache (the pad is an int too)
            if v.check && !all_exact_ints(&padded, v.direct) {
                return Ok(None);
            }
            out.push(padded);
        }
        PyList::new(py, out).map(Some)
    })
}

/// The ints `0 .. max(target_length - current_length, 0)` shared by every call, up to this
/// many: building them costs more than copying references to them.
const RANGE_CACHE_MAX: usize = 1 << 16;

static RANGE_CACHE: Mutex<Option<Py<PyList>>> = Mutex::new(None);

fn cached_range(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyList>> {
    let mut slot = RANGE_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let cache = match slot.as_ref().map(|l| l.bind(py).clone()) {
        Some(l) if l.len() >= n => l,
        have => {
            let had = have.map_or(0, |l| l.len());
            let size = n.max(2 * had).clamp(256, RANGE_CACHE_MAX);
            let l = PyList::new(py, 0..size as i64)?;
            *slot = Some(l.clone().unbind());
            l
        }
    };
    drop(slot);
    slice(&cache, 0, n)
}

/// `list(range(target_length - current_length))`, or `[]` when `current_length >=
/// target_length`: the position ids of the padding of a row (fast-axolotl 0.2.0's
/// `create_padding_mask`).
#[pyfunction]
fn create_padding_mask(
    py: Python<'_>,
    current_length: usize,
    target_length: usize,
) -> PyResult<Bound<'_, PyList>> {
    let n = target_length.saturating_sub(current_length);
    if n > (isize::MAX as usize) / std::mem::size_of::<usize>() {
        return Err(PyValueError::new_err(format!(
            "create_padding_mask: target_length - current_length = {n} is more items than a \
             Python list can hold (fast-axolotl 0.2.0 panicked with 'capacity overflow')"
        )));
    }
    let head = n.min(RANGE_CACHE_MAX);
    let out = cached_range(py, head)?;
    if n > head {
        let tail = PyList::new(py, head as i64..n as i64)?;
        set_slice(&out, head, head, &tail)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pack_sequences, m)?)?;
    m.add_function(wrap_pyfunction!(concatenate_and_pack, m)?)?;
    m.add_function(wrap_pyfunction!(pad_sequences, m)?)?;
    m.add_function(wrap_pyfunction!(create_padding_mask, m)?)?;
    Ok(())
}
