//! Binding of the instruction-prompt assembly kernel.

use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::PyArray1;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::errors::{panic_to_py, run, to_py};
use crate::encode::{Encoded, Encoder, TOKENIZERS_VERSION};
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

type ColumnsOut<'py> = (
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
);

/// `input_ids` values as the numpy array of their width.
pub(super) fn id_values_to_py(py: Python<'_>, ids: IdValues) -> Bound<'_, PyAny> {
    match ids {
        IdValues::I32(v) => PyArray1::from_vec(py, v).into_any(),
        IdValues::I64(v) => PyArray1::from_vec(py, v).into_any(),
    }
}

/// `_tokenize`'s rules as the bindings take them: (eos_token_id, bos_token_id,
/// max_length, train_on_inputs).
type Rules = (i64, Option<i64>, usize, bool);

/// Runs the assembly kernel on flattened encodings and hands the columns to numpy.
fn assemble<'py>(
    py: Python<'py>,
    enc: Encodings<'_>,
    prompt: Vec<i64>,
    response: Vec<i64>,
    rules: Rules,
) -> PyResult<ColumnsOut<'py>> {
    let (prompt, response) = (indices(prompt), indices(response));
    let (eos_token_id, bos_token_id, max_length, train_on_inputs) = rules;
    let params = InstructParams {
        eos_token_id,
        bos_token_id,
        max_length,
        train_on_inputs,
    };
    let rows = prompt.len();
    let out = run(py, "instruct_columns", rows, || {
        tokenize::assemble_instruct(&enc, &prompt, &response, &params)
    })?;
    let ids = id_values_to_py(py, out.input_ids);
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

/// Rows of Axolotl's instruction strategies from one batched tokenizer call.
///
/// `input_ids` / `attention_mask`: the call's lists of lists; `prompt` / `response`: per
/// row, the index of its text in them, or -1 for an empty text; `rules`: (eos_token_id,
/// bos_token_id, max_length, train_on_inputs). Returns (int32 offsets, input_ids values
/// (int32, or int64 if one does not fit), attention_mask values (int8, or int64), int64
/// labels values).
#[pyfunction]
fn instruct_columns<'py>(
    py: Python<'py>,
    input_ids: &Bound<'py, PyAny>,
    attention_mask: &Bound<'py, PyAny>,
    prompt: Vec<i64>,
    response: Vec<i64>,
    rules: Rules,
) -> PyResult<ColumnsOut<'py>> {
    let (offsets, ids) = flatten(input_ids, "input_ids")?;
    let (mask_offsets, mask) = flatten(attention_mask, "attention_mask")?;
    if mask_offsets != offsets {
        return Err(PyTypeError::new_err(
            "attention_mask: row lengths differ from input_ids",
        ));
    }
    let enc = Encodings {
        offsets: &offsets,
        ids: &ids,
        mask: &mask,
    };
    assemble(py, enc, prompt, response, rules)
}

/// A tokenizer loaded into the extension from its `tokenizers` JSON (see
/// `crate::encode`). Raises `UnsupportedInput` for what it does not reproduce.
#[pyclass(frozen, module = "fast_axolotl._native")]
struct NativeTokenizer {
    inner: Encoder,
}

#[pymethods]
impl NativeTokenizer {
    #[new]
    fn new(py: Python<'_>, json: String, encode_special_tokens: bool) -> PyResult<Self> {
        let inner = py
            .detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    Encoder::from_json(&json, encode_special_tokens)
                }))
            })
            .map_err(|panic| panic_to_py("NativeTokenizer", panic))?
            .map_err(to_py)?;
        Ok(NativeTokenizer { inner })
    }

    /// Encodes `texts` with the tokenizer's truncation without the GIL, on the extension's
    /// thread pool: `encode_batch(texts, add_special_tokens)`, with char offsets if asked.
    #[pyo3(signature = (texts, add_special_tokens = true, char_offsets = false))]
    fn encode(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        add_special_tokens: bool,
        char_offsets: bool,
    ) -> PyResult<EncodedBatch> {
        let inner = py
            .detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    self.inner.encode(&texts, add_special_tokens, char_offsets)
                }))
            })
            .map_err(|panic| panic_to_py("NativeTokenizer.encode", panic))?
            .map_err(to_py)?;
        Ok(EncodedBatch { inner })
    }
}

/// The encodings of one `NativeTokenizer.encode` call, kept in Rust.
#[pyclass(frozen, module = "fast_axolotl._native")]
pub(super) struct EncodedBatch {
    pub(super) inner: Encoded,
}

impl EncodedBatch {
    fn text(&self, t: usize) -> PyResult<std::ops::Range<usize>> {
        if t >= self.inner.texts() {
            return Err(PyIndexError::new_err(format!(
                "text {t} out of range for {} encodings",
                self.inner.texts()
            )));
        }
        Ok(self.inner.offsets[t]..self.inner.offsets[t + 1])
    }
}

#[pymethods]
impl EncodedBatch {
    fn __len__(&self) -> usize {
        self.inner.texts()
    }

    /// Tokens per text.
    fn lengths<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let n = self.inner.texts();
        PyArray1::from_iter(py, (0..n).map(|t| self.inner.len_of(t) as i64))
    }

    /// The ids of text `t`, as the tokenizer call's `input_ids[t]`.
    fn ids(&self, t: usize) -> PyResult<Vec<i64>> {
        Ok(self.inner.ids[self.text(t)?].to_vec())
    }

    /// The attention mask of text `t`.
    fn mask(&self, t: usize) -> PyResult<Vec<i64>> {
        Ok(self.inner.mask[self.text(t)?].to_vec())
    }

    /// The char offsets of text `t`'s tokens, as the tokenizer call's
    /// `offset_mapping[t]`; empty unless encoded with `char_offsets=True`.
    fn char_offsets(&self, t: usize) -> PyResult<Vec<(i64, i64)>> {
        let range = self.text(t)?;
        if self.inner.starts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.inner.starts[range.clone()]
            .iter()
            .copied()
            .zip(self.inner.ends[range].iter().copied())
            .collect())
    }

    /// Every text's ids, as the tokenizer call's `input_ids`.
    fn id_lists<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let e = &self.inner;
        PyList::new(
            py,
            (0..e.texts()).map(|t| &e.ids[e.offsets[t]..e.offsets[t + 1]]),
        )
    }

    /// `instruct_columns` on these encodings.
    fn instruct_columns<'py>(
        &self,
        py: Python<'py>,
        prompt: Vec<i64>,
        response: Vec<i64>,
        rules: Rules,
    ) -> PyResult<ColumnsOut<'py>> {
        let e = &self.inner;
        let enc = Encodings {
            offsets: &e.offsets,
            ids: &e.ids,
            mask: &e.mask,
        };
        assemble(py, enc, prompt, response, rules)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(instruct_columns, m)?)?;
    m.add_class::<NativeTokenizer>()?;
    m.add_class::<EncodedBatch>()?;
    m.add("TOKENIZERS_VERSION", TOKENIZERS_VERSION)
}
