//! Binding of the instruction-prompt assembly kernel.

use numpy::PyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::errors::run;
use crate::tokenize::{self, Encodings, IdValues, InstructParams, MaskValues};

/// A list of lists of Python ints (what a tokenizer call returns per key), flattened into
/// offsets and values. `what` names the argument in errors.
fn flatten(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<usize>, Vec<i64>)> {
    let outer = obj.cast_exact::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected a list of lists of ints, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut offsets = Vec::with_capacity(outer.len() + 1);
    offsets.push(0);
    let mut values = Vec::new();
    for (i, row) in outer.iter().enumerate() {
        let row = row
            .cast_exact::<PyList>()
            .map_err(|_| PyTypeError::new_err(format!("{what}[{i}]: expected a list of ints")))?;
        values.reserve(row.len());
        for v in row.iter() {
            values.push(v.extract::<i64>().map_err(|_| {
                PyTypeError::new_err(format!("{what}[{i}]: expected ints, found {v:?}"))
            })?);
        }
        offsets.push(values.len());
    }
    Ok((offsets, values))
}

fn indices(values: Vec<i64>) -> Vec<Option<usize>> {
    values
        .into_iter()
        .map(|v| usize::try_from(v).ok())
        .collect()
}

/// Rows of Axolotl's instruction strategies from one batched tokenizer call.
///
/// `input_ids` / `attention_mask`: the call's lists of lists; `prompt` / `response`: per
/// row, the index of its text in them, or -1 for an empty text. Returns (int32 offsets,
/// input_ids values (int32, or int64 if one does not fit), attention_mask values (int8,
/// or int64), int64 labels values).
#[pyfunction]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
#[pyo3(signature = (input_ids, attention_mask, prompt, response, eos_token_id, bos_token_id, max_length, train_on_inputs))]
fn instruct_columns<'py>(
    py: Python<'py>,
    input_ids: &Bound<'py, PyAny>,
    attention_mask: &Bound<'py, PyAny>,
    prompt: Vec<i64>,
    response: Vec<i64>,
    eos_token_id: i64,
    bos_token_id: Option<i64>,
    max_length: usize,
    train_on_inputs: bool,
) -> PyResult<(
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
)> {
    let (offsets, ids) = flatten(input_ids, "input_ids")?;
    let (mask_offsets, mask) = flatten(attention_mask, "attention_mask")?;
    if mask_offsets != offsets {
        return Err(PyTypeError::new_err(
            "attention_mask: row lengths differ from input_ids",
        ));
    }
    let (prompt, response) = (indices(prompt), indices(response));
    let params = InstructParams {
        eos_token_id,
        bos_token_id,
        max_length,
        train_on_inputs,
    };
    let rows = prompt.len();
    let out = run(py, "instruct_columns", rows, || {
        let enc = Encodings {
            offsets: &offsets,
            ids: &ids,
            mask: &mask,
        };
        tokenize::assemble_instruct(&enc, &prompt, &response, &params)
    })?;
    let ids = match out.input_ids {
        IdValues::I32(v) => PyArray1::from_vec(py, v).into_any(),
        IdValues::I64(v) => PyArray1::from_vec(py, v).into_any(),
    };
    let mask = match out.attention_mask {
        MaskValues::I8(v) => PyArray1::from_vec(py, v).into_any(),
        MaskValues::I64(v) => PyArray1::from_vec(py, v).into_any(),
    };
    Ok((
        PyArray1::from_vec(py, out.offsets),
        ids,
        mask,
        PyArray1::from_vec(py, out.labels),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(instruct_columns, m)?)
}
