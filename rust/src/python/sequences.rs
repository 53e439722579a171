//! Bindings of fast-axolotl 0.2.0's list-of-lists API: `pack_sequences`,
//! `concatenate_and_pack`, `pad_sequences`, `create_padding_mask`.
//!
//! Inputs and outputs are Python lists of Python ints (0.2.0's types). Converting every
//! token to an i64 and back costs more than Python's own list concatenation (0.2.0 lost to
//! plain Python that way: 0.42x packing, 0.53x padding in its own benchmark), so the
//! kernels move the int objects themselves. Every output row is allocated once at its final
//! length and its slots are written directly: a row's items are copied, type-checked and
//! referenced in one pass, and a run of padding is one pointer fill plus one reference-count
//! update, where plain Python (and CPython's list primitives) build a temporary `[pad] * k`,
//! reference every slot twice and free it again. A row that is not a list of exact ints (a
//! tuple, bools, numpy ints) is first converted to a list of ints with `operator.index`, as
//! 0.2.0's extraction did; a 1-D integer numpy array with its `tolist()`, which gives the
//! same ints without a numpy scalar per item.
//!
//! Everything here holds the GIL: it creates Python objects throughout.

use std::ptr::addr_of_mut;
use std::sync::Mutex;

use numpy::{npyffi, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::errors::to_py;
use crate::sequences::{pack_plan, pad_target, Packed};

// ---------------------------------------------------------------------------- raw access

/// CPython's object header (GIL builds, which are the only ones an abi3 module loads
/// into): the reference count comes first, then the type.
#[repr(C)]
struct RawObject {
    ob_refcnt: ffi::Py_ssize_t,
    ob_type: *mut ffi::PyTypeObject,
}

/// CPython's list object. The limited API hides it, but its layout has not changed since
/// Python 2; `Raw::checked` still compares it with `PyList_GetItem` once before any read
/// relies on it.
#[repr(C)]
struct RawList {
    ob_base: ffi::PyVarObject,
    ob_item: *mut *mut ffi::PyObject,
    allocated: ffi::Py_ssize_t,
}

/// How a new reference is taken. The limited API's `Py_INCREF` is a call into the
/// interpreter for every reference (`_Py_IncRef`), which costs more than the copy it
/// belongs to; version-specific builds, and CPython's own list code, update the count
/// inline. These modes do the same, for the interpreter the module was loaded into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refs {
    /// 3.10, 3.11: `ob_refcnt` is a plain count.
    Plain,
    /// 3.12, 3.13 on 64-bit (the releases CI tests): the low 32 bits are the count; an
    /// object whose low half is negative as an i32 is immortal and left alone (CPython's
    /// `_Py_IsImmortal`).
    Low32,
    /// Any other interpreter: `Py_IncRef` per reference.
    Calls,
}

const PLAIN: u8 = 0;
const LOW32: u8 = 1;
const CALLS: u8 = 2;

/// Takes `k` new references to `op`.
///
/// # Safety
/// The GIL is held, `op` is a live object, and `R` is the code of the mode `Raw::checked`
/// chose for this interpreter.
#[inline(always)]
unsafe fn add_refs<const R: u8>(op: *mut ffi::PyObject, k: usize) {
    if R == CALLS {
        for _ in 0..k {
            ffi::Py_IncRef(op);
        }
        return;
    }
    let rc = &mut (*op.cast::<RawObject>()).ob_refcnt;
    if R == PLAIN {
        *rc += k as ffi::Py_ssize_t;
        return;
    }
    let low = *rc as u32;
    if (low as i32) < 0 {
        return; // immortal
    }
    if u64::from(low) + k as u64 <= i32::MAX as u64 {
        *rc += k as ffi::Py_ssize_t; // no carry out of the low half
    } else {
        for _ in 0..k {
            ffi::Py_IncRef(op); // the interpreter's own rule near the immortal range
        }
    }
}

/// What this interpreter lets the builders do directly, checked once per process.
#[derive(Clone, Copy, Debug)]
struct Raw {
    /// The list layout is `RawList`: items are read and written in place.
    direct: bool,
    refs: Refs,
}

impl Raw {
    fn checked(py: Python<'_>) -> Raw {
        static RAW: PyOnceLock<Raw> = PyOnceLock::new();
        *RAW.get_or_init(py, || {
            let direct = list_layout_ok(py);
            let refs = match refs_for(py) {
                Refs::Calls => Refs::Calls,
                r if direct && refs_ok(py, r) => r,
                _ => Refs::Calls,
            };
            Raw { direct, refs }
        })
    }
}

fn list_layout_ok(py: Python<'_>) -> bool {
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
}

/// The mode the running interpreter's version calls for.
fn refs_for(py: Python<'_>) -> Refs {
    let v = py.version_info();
    match (v.major, v.minor) {
        (3, 10 | 11) => Refs::Plain,
        (3, 12 | 13) if cfg!(target_pointer_width = "64") => Refs::Low32,
        _ => Refs::Calls,
    }
}

/// True if `refs` counts as this interpreter does: `sys.getrefcount` sees 3 references
/// taken by hand on a new object (and none on `None`, immortal from 3.12), and the
/// interpreter's `Py_DecRef` gives them back.
fn refs_ok(py: Python<'_>, refs: Refs) -> bool {
    let count = |o: &Bound<'_, PyAny>| -> Option<isize> {
        py.import("sys")
            .and_then(|s| s.getattr("getrefcount"))
            .and_then(|f| f.call1((o,)))
            .and_then(|n| n.extract())
            .ok()
    };
    let take = |o: &Bound<'_, PyAny>| {
        // SAFETY: the GIL is held, `o` is live; `refs` is being checked, and the
        // references are given back right after the count is read.
        unsafe {
            match refs {
                Refs::Plain => add_refs::<PLAIN>(o.as_ptr(), 3),
                Refs::Low32 => add_refs::<LOW32>(o.as_ptr(), 3),
                Refs::Calls => add_refs::<CALLS>(o.as_ptr(), 3),
            }
        }
    };
    let give_back = |o: &Bound<'_, PyAny>| {
        for _ in 0..3 {
            // SAFETY: as above; Py_DecRef leaves immortal objects alone.
            unsafe { ffi::Py_DecRef(o.as_ptr()) };
        }
    };
    let probe = PyList::empty(py).into_any();
    let none = py.None().into_bound(py);
    let (Some(p0), Some(n0)) = (count(&probe), count(&none)) else {
        return false;
    };
    take(&probe);
    take(&none);
    let (p1, n1) = (count(&probe), count(&none));
    give_back(&probe);
    give_back(&none);
    let immortal_none = refs == Refs::Low32;
    p1 == Some(p0 + 3)
        && n1 == Some(if immortal_none { n0 } else { n0 + 3 })
        && count(&probe) == Some(p0)
        && count(&none) == Some(n0)
}

/// True if every item of `list` is an exact `int` (not a bool, not an int subclass).
/// Runs no Python code.
fn all_exact_ints(list: &Bound<'_, PyList>, direct: bool) -> bool {
    let p = list.as_ptr();
    // SAFETY: the GIL is held and `p` is a list; with `direct`, its layout was verified.
    unsafe {
        if direct {
            let raw = p.cast::<RawList>();
            let n = (*raw).ob_base.ob_size as usize;
            (0..n).all(|i| ffi::PyLong_CheckExact(*(*raw).ob_item.add(i)) != 0)
        } else {
            let n = ffi::PyList_Size(p) as usize;
            (0..n).all(|i| ffi::PyLong_CheckExact(ffi::PyList_GetItem(p, i as isize)) != 0)
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
    if let Some(list) = numpy_ints(row)? {
        return Ok(list);
    }
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

/// `row.tolist()` when `row` is a 1-D numpy array (the ndarray type itself, not a subclass)
/// of a signed or unsigned integer dtype: the ints `operator.index` reads item by item,
/// made in numpy's own C loop instead of through one numpy scalar per item.
fn numpy_ints<'py>(row: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyList>>> {
    let py = row.py();
    if row.is_instance_of::<PyList>() || row.is_instance_of::<PyTuple>() {
        return Ok(None);
    }
    // an ndarray exists only once numpy is imported: never import it for another row type
    // SAFETY: the GIL is held; PyImport_GetModule returns a new reference, or NULL with or
    // without an error set.
    let numpy = unsafe {
        Bound::from_owned_ptr_or_opt(
            py,
            ffi::PyImport_GetModule(pyo3::intern!(py, "numpy").as_ptr()),
        )
    };
    if numpy.is_none() {
        return match PyErr::take(py) {
            Some(e) => Err(e),
            None => Ok(None),
        };
    }
    // SAFETY: the GIL is held and numpy is imported, so its C API loads without an import.
    if unsafe { npyffi::PyArray_CheckExact(py, row.as_ptr()) } == 0 {
        return Ok(None);
    }
    let array = row.cast::<PyUntypedArray>()?;
    if array.ndim() != 1 || !matches!(array.dtype().kind(), b'i' | b'u') {
        return Ok(None);
    }
    Ok(Some(
        row.call_method0(pyo3::intern!(py, "tolist"))?
            .cast_into::<PyList>()?,
    ))
}

/// Every row of the sequence argument `arg` as a list of exact ints.
///
/// Converting a row can run Python code (`__index__`, `__iter__`) that may change a list
/// already checked, so the checks repeat until a pass converts nothing; from then on no
/// Python code runs until the outputs are built.
fn int_rows<'py>(obj: &Bound<'py, PyAny>, arg: &str) -> PyResult<Vec<Bound<'py, PyList>>> {
    let py = obj.py();
    let direct = Raw::checked(py).direct;
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

// ---------------------------------------------------------------------------- output rows

/// A new list of exactly `len` slots, written front to back. Until every slot is written
/// it holds NULLs, which only `Drop` may see (`list_dealloc` skips them): it is never
/// handed to Python code before `finish`, and no Python code runs while it is built.
struct Out<'py> {
    list: Bound<'py, PyList>,
    items: *mut *mut ffi::PyObject,
    len: usize,
    at: usize,
    raw: Raw,
}

impl<'py> Out<'py> {
    fn new(py: Python<'py>, raw: Raw, len: usize) -> PyResult<Self> {
        // SAFETY: the GIL is held; PyList_New returns a new list of `len` NULL slots or
        // sets an error (MemoryError for a length no list can have).
        let list = unsafe {
            Bound::from_owned_ptr_or_err(py, ffi::PyList_New(isz(len)?))?.cast_into_unchecked()
        };
        let items = if raw.direct {
            // SAFETY: `list` is a list and its layout was verified.
            unsafe { (*list.as_ptr().cast::<RawList>()).ob_item }
        } else {
            std::ptr::null_mut()
        };
        Ok(Out {
            list,
            items,
            len,
            at: 0,
            raw,
        })
    }

    /// Appends the items of `row`, taking a reference to each. False, with the row only
    /// partly copied, if `row` no longer has `n` items or one of them is not an exact int
    /// (not a bool, not an int subclass); the caller then drops this list.
    fn copy_ints(&mut self, row: &Bound<'py, PyList>, n: usize) -> bool {
        assert!(self.at + n <= self.len, "row overruns its output row");
        let p = row.as_ptr();
        // SAFETY: the GIL is held; `row` is a list, read within its current size; the
        // destination slots `at..at + n` exist (asserted) and are NULL; `Raw::checked`
        // verified the layout (`direct`) and the reference mode.
        unsafe {
            if !self.raw.direct {
                if ffi::PyList_Size(p) as usize != n {
                    return false;
                }
                for i in 0..n {
                    let v = ffi::PyList_GetItem(p, i as isize);
                    if ffi::PyLong_CheckExact(v) == 0 {
                        return false;
                    }
                    ffi::Py_IncRef(v);
                    ffi::PyList_SetItem(self.list.as_ptr(), (self.at + i) as isize, v);
                }
                self.at += n;
                return true;
            }
            let raw = p.cast::<RawList>();
            if (*raw).ob_base.ob_size as usize != n {
                return false;
            }
            let src = (*raw).ob_item;
            let dst = self.items.add(self.at);
            let copied = match self.raw.refs {
                Refs::Plain => copy_exact_ints::<PLAIN>(src, dst, n),
                Refs::Low32 => copy_exact_ints::<LOW32>(src, dst, n),
                Refs::Calls => copy_exact_ints::<CALLS>(src, dst, n),
            };
            self.at += copied;
            copied == n
        }
    }

    /// Appends `k` references to `v`.
    fn fill(&mut self, v: &Bound<'py, PyAny>, k: usize) {
        assert!(self.at + k <= self.len, "padding overruns its output row");
        let v = v.as_ptr();
        // SAFETY: the GIL is held, `v` is live, the slots `at..at + k` exist and are NULL.
        unsafe {
            if !self.raw.direct {
                for i in 0..k {
                    ffi::Py_IncRef(v);
                    ffi::PyList_SetItem(self.list.as_ptr(), (self.at + i) as isize, v);
                }
            } else {
                std::slice::from_raw_parts_mut(self.items.add(self.at), k).fill(v);
                match self.raw.refs {
                    Refs::Plain => add_refs::<PLAIN>(v, k),
                    Refs::Low32 => add_refs::<LOW32>(v, k),
                    Refs::Calls => add_refs::<CALLS>(v, k),
                }
            }
        }
        self.at += k;
    }

    fn push(&mut self, v: &Bound<'py, PyAny>) {
        self.fill(v, 1);
    }

    /// The filled list.
    fn finish(self) -> Bound<'py, PyList> {
        assert_eq!(self.at, self.len, "output row left with empty slots");
        self.list
    }
}

/// Copies `src[..n]` to `dst[..n]` with a new reference to each item, up to the first that
/// is not an exact int; returns how many were copied.
///
/// # Safety
/// The GIL is held; `src` and `dst` hold `n` slots and do not overlap; `R` is the mode
/// `Raw::checked` chose.
#[inline(always)]
unsafe fn copy_exact_ints<const R: u8>(
    src: *const *mut ffi::PyObject,
    dst: *mut *mut ffi::PyObject,
    n: usize,
) -> usize {
    let long = addr_of_mut!(ffi::PyLong_Type);
    for i in 0..n {
        let v = *src.add(i);
        if (*v.cast::<RawObject>()).ob_type != long {
            return i;
        }
        add_refs::<R>(v, 1);
        *dst.add(i) = v;
    }
    n
}

/// Python ints of the given values, made once per call.
fn ints<'py, const N: usize>(
    py: Python<'py>,
    values: [i64; N],
) -> PyResult<[Bound<'py, PyAny>; N]> {
    let mut out = Vec::with_capacity(N);
    for v in values {
        out.push(v.into_pyobject(py)?.into_any());
    }
    Ok(out
        .try_into()
        .unwrap_or_else(|_| unreachable!("N values make N ints")))
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

// ---------------------------------------------------------------------------- reading arguments

/// The rows of `obj` when every one is a list (items not checked yet), else None.
fn list_rows<'py>(obj: &Bound<'py, PyAny>, arg: &str) -> PyResult<Option<Vec<Bound<'py, PyList>>>> {
    let outer = snapshot(obj, arg)?;
    Ok(outer
        .iter()
        .map(|r| r.cast_into_exact::<PyList>().ok())
        .collect())
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

/// Reads the sequence arguments once and runs `build` on their rows.
///
/// The rows are first used as they are, every argument's rows as the caller's own lists;
/// `build` copies and checks their items in one pass and returns None as soon as one is
/// not an exact int. Then (and only then) every row is converted by `int_rows` and `build`
/// runs again. No Python code runs during a build, so a row checked there cannot change
/// before it is copied.
fn with_rows<'py, T>(
    args: &[(&Bound<'py, PyAny>, &str)],
    build: impl Fn(Raw, &[Vec<Bound<'py, PyList>>]) -> PyResult<Option<T>>,
) -> PyResult<T> {
    let py = args[0].0.py();
    let raw = Raw::checked(py);
    let mut given = Vec::with_capacity(args.len());
    for &(obj, arg) in args {
        match list_rows(obj, arg)? {
            Some(rows) => given.push(rows),
            None => break,
        }
    }
    if given.len() == args.len() {
        let built = {
            let _gc = GcDeferred::new();
            build(raw, &given)
        };
        match built {
            Ok(Some(out)) => return Ok(out),
            Ok(None) => {}
            // 0.2.0 read every value before anything else: a bad value wins over an error
            // the build found first
            Err(e) => {
                if given
                    .iter()
                    .all(|rows| rows.iter().all(|r| all_exact_ints(r, raw.direct)))
                {
                    return Err(e);
                }
            }
        }
    }
    drop(given);
    let converted = args
        .iter()
        .map(|&(obj, arg)| int_rows(obj, arg))
        .collect::<PyResult<Vec<_>>>()?;
    let _gc = GcDeferred::new();
    build(raw, &converted)?.ok_or_else(|| {
        PyRuntimeError::new_err("internal error in fast_axolotl: a converted row failed its check")
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
    let [pad, eos, label_pad, zero, one] =
        ints(py, [pad_token_id, eos_token_id, label_pad_id, 0, 1])?;
    with_rows(&[(sequences, "sequences")], |raw, args| {
        let rows = &args[0];
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
        let mut ids = Vec::with_capacity(plan.len());
        let mut labels = Vec::with_capacity(plan.len());
        let mut mask = Vec::with_capacity(plan.len());
        for &Packed { start, end } in &plan {
            let mut i = Out::new(py, raw, max_length)?;
            let mut l = Out::new(py, raw, max_length)?;
            let mut m = Out::new(py, raw, max_length)?;
            for (row, &n) in rows[start..end].iter().zip(&lengths[start..end]) {
                if !(i.copy_ints(row, n) && l.copy_ints(row, n)) {
                    return Ok(None);
                }
                i.push(&eos);
                i.push(&pad);
                l.push(&eos);
                l.push(&label_pad);
                m.fill(&one, n + 1);
                m.push(&zero);
            }
            let k = max_length - i.at;
            i.fill(&pad, k);
            l.fill(&label_pad, k);
            m.fill(&zero, k);
            ids.push(i.finish());
            labels.push(l.finish());
            mask.push(m.finish());
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
    let [pad, label_pad, zero] = ints(py, [pad_token_id, label_pad_id, 0])?;
    let args = [
        (input_ids, "input_ids"),
        (labels, "labels"),
        (attention_masks, "attention_masks"),
    ];
    with_rows(&args, |raw, args| {
        let (a, b, c) = (&args[0], &args[1], &args[2]);
        if a.len() != b.len() || a.len() != c.len() {
            return Err(PyValueError::new_err(format!(
                "concatenate_and_pack: input_ids has {} rows, labels {} and attention_masks \
                 {}; they must have one row each per sequence (fast-axolotl 0.2.0 dropped the \
                 extra rows silently)",
                a.len(),
                b.len(),
                c.len()
            )));
        }
        let mut lengths = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            let (n, nl, nm) = (a[i].len(), b[i].len(), c[i].len());
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
        let mut ids = Vec::with_capacity(plan.len());
        let mut labs = Vec::with_capacity(plan.len());
        let mut mask = Vec::with_capacity(plan.len());
        for &Packed { start, end } in &plan {
            let mut i = Out::new(py, raw, max_length)?;
            let mut l = Out::new(py, raw, max_length)?;
            let mut m = Out::new(py, raw, max_length)?;
            for r in start..end {
                let n = lengths[r];
                if !(i.copy_ints(&a[r], n) && l.copy_ints(&b[r], n) && m.copy_ints(&c[r], n)) {
                    return Ok(None);
                }
            }
            let k = max_length - i.at;
            i.fill(&pad, k);
            l.fill(&label_pad, k);
            m.fill(&zero, k);
            ids.push(i.finish());
            labs.push(l.finish());
            mask.push(m.finish());
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
    let [pad] = ints(py, [pad_value])?;
    let right = match padding_side {
        "right" => Some(true),
        "left" => Some(false),
        _ => None,
    };
    with_rows(&[(sequences, "sequences")], |raw, args| {
        let rows = &args[0];
        // 0.2.0 read every row before it looked at padding_side
        let Some(right) = right else {
            return Err(PyValueError::new_err(
                "padding_side must be 'right' or 'left'",
            ));
        };
        let lengths: Vec<usize> = rows.iter().map(|r| r.len()).collect();
        if lengths.is_empty() {
            return Ok(Some(PyList::empty(py)));
        }
        let target = pad_target(&lengths, target_length, pad_to_multiple_of)
            .map_err(|e| PyValueError::new_err(format!("pad_sequences: {e}")))?;
        let mut out = Out::new(py, raw, lengths.len())?;
        for (row, &n) in rows.iter().zip(&lengths) {
            let mut padded = Out::new(py, raw, target)?;
            if !right {
                padded.fill(&pad, target - n);
            }
            if !padded.copy_ints(row, n) {
                return Ok(None);
            }
            if right {
                padded.fill(&pad, target - n);
            }
            out.push(padded.finish().as_any());
        }
        Ok(Some(out.finish()))
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
