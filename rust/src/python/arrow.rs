//! Import of Arrow data from Python through the Arrow PyCapsule interface
//! (`__arrow_c_stream__` / `__arrow_c_array__`): no copy, no dependency on pyarrow's
//! Rust bindings, works with any producer (pyarrow, `datasets` tables, polars, ...).

use std::ffi::CStr;

use arrow_array::cast::AsArray;
use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{ArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{make_array, Array, ArrayRef};
use arrow_schema::DataType;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::column::ChunkedColumn;

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";

fn describe(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string())
}

/// The chunks of an Arrow column given as a pyarrow `ChunkedArray`, `Array`, or any object
/// that exports the Arrow PyCapsule interface. `what` names the argument in errors.
pub fn import_column(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ChunkedColumn> {
    let chunks = if obj.hasattr("__arrow_c_stream__")? {
        import_stream(obj, what)?
    } else if obj.hasattr("__arrow_c_array__")? {
        vec![import_array(obj, what)?]
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what}: expected an Arrow array or chunked array (an object with \
             __arrow_c_stream__ or __arrow_c_array__), got {}",
            describe(obj)
        )));
    };
    ChunkedColumn::new(chunks).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn import_stream(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<ArrayRef>> {
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: __arrow_c_stream__ did not return a PyCapsule"
        ))
    })?;
    let ptr = capsule.pointer_checked(Some(STREAM))?;
    // SAFETY: the capsule holds an FFI_ArrowArrayStream (checked by name); `from_raw` moves
    // it out and marks the capsule's copy released, so it is released exactly once.
    let stream =
        unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr() as *mut FFI_ArrowArrayStream) };
    let reader = ArrayStreamReader::try_new(stream)
        .map_err(|e| PyValueError::new_err(format!("{what}: cannot read Arrow stream: {e}")))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("{what}: cannot read Arrow stream: {e}")))
}

fn import_array(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ArrayRef> {
    let pair = obj.call_method0("__arrow_c_array__")?;
    let pair = pair.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err(format!("{what}: __arrow_c_array__ did not return a tuple"))
    })?;
    if pair.len() != 2 {
        return Err(PyTypeError::new_err(format!(
            "{what}: __arrow_c_array__ returned {} items, expected (schema, array)",
            pair.len()
        )));
    }
    let schema_capsule = pair.get_item(0)?;
    let array_capsule = pair.get_item(1)?;
    let schema_capsule = schema_capsule.cast::<PyCapsule>()?;
    let array_capsule = array_capsule.cast::<PyCapsule>()?;
    let schema_ptr = schema_capsule.pointer_checked(Some(SCHEMA))?;
    let array_ptr = array_capsule.pointer_checked(Some(ARRAY))?;
    // SAFETY: capsule names checked above. The schema is only borrowed (its capsule keeps
    // ownership); the array is moved out of its capsule, which is left released.
    let data = unsafe {
        let schema = &*(schema_ptr.as_ptr() as *const FFI_ArrowSchema);
        let array = FFI_ArrowArray::from_raw(array_ptr.as_ptr() as *mut FFI_ArrowArray);
        from_ffi(array, schema)
    }
    .map_err(|e| PyValueError::new_err(format!("{what}: cannot read Arrow array: {e}")))?;
    Ok(make_array(data))
}

/// A `datasets` indices mapping (uint64, or non-negative int64) as row numbers.
pub fn import_indices(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u64>> {
    let column = import_column(obj, what)?;
    let mut out = Vec::with_capacity(column.len());
    for chunk in column.chunks() {
        if chunk.null_count() > 0 {
            return Err(PyValueError::new_err(format!("{what}: contains nulls")));
        }
        match chunk.data_type() {
            DataType::UInt64 => out.extend_from_slice(chunk.as_primitive::<UInt64Type>().values()),
            DataType::Int64 => {
                for &v in chunk.as_primitive::<Int64Type>().values().iter() {
                    if v < 0 {
                        return Err(PyValueError::new_err(format!(
                            "{what}: contains the negative row number {v}"
                        )));
                    }
                    out.push(v as u64);
                }
            }
            other => {
                return Err(PyTypeError::new_err(format!(
                    "{what}: expected uint64 row numbers, got {other}"
                )))
            }
        }
    }
    Ok(out)
}
