//! Binding of the `chat_labels` kernel: one call per batch of conversations.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::errors::run;
use super::tokenize::{id_values_to_py, EncodedBatch};
use crate::chat_labels::{self, Options, Row, Train, Turn, Warning};
use crate::encode::Encoded;
use crate::error::KernelError;
use crate::tokenize::IdValues;

/// (content start, content end, should_train, unlocatable) of every turn of a row.
type TurnSpec = (usize, usize, bool, bool);

/// (sentinels, eos ids, eot ids, train_on_eos code, train_on_eot code, ignore id).
type LabelRules = (Vec<String>, Vec<i64>, Vec<i64>, u8, u8, i64);

/// The tokens of each row's one encode: the extension's own encodings (encoded with
/// char offsets), or what the tokenizer call returned (`input_ids`, `offset_mapping`).
#[derive(FromPyObject)]
enum Tokens<'py> {
    Native(Bound<'py, EncodedBatch>),
    Lists(Vec<Vec<i64>>, Vec<Vec<(i64, i64)>>),
}

/// The lists flattened as the extension's encodings are.
fn flatten(ids: Vec<Vec<i64>>, offsets: Vec<Vec<(i64, i64)>>) -> Result<Encoded, KernelError> {
    if ids.len() != offsets.len() {
        return Err(KernelError::invalid(format!(
            "chat_template_labels: {} rows of input_ids but {} of offsets",
            ids.len(),
            offsets.len()
        )));
    }
    let mut out = Encoded {
        offsets: vec![0],
        ..Encoded::default()
    };
    for (row, (row_ids, row_offsets)) in ids.into_iter().zip(offsets).enumerate() {
        if row_ids.len() != row_offsets.len() {
            return Err(KernelError::invalid(format!(
                "row {row}: offsets: expected {} token offsets (one per input id), got {}",
                row_ids.len(),
                row_offsets.len()
            )));
        }
        out.ids.extend(row_ids);
        for (start, end) in row_offsets {
            out.starts.push(start);
            out.ends.push(end);
        }
        out.offsets.push(out.ids.len());
    }
    Ok(out)
}

/// `rules` as the kernel's options, and each row's labels (`Row`) from its encoding.
fn label_rows(
    texts: &[String],
    turns: &[Vec<TurnSpec>],
    encoded: &Encoded,
    rules: &LabelRules,
) -> Result<Vec<Row>, KernelError> {
    let rows = texts.len();
    if turns.len() != rows || encoded.texts() != rows {
        return Err(KernelError::invalid(format!(
            "chat_template_labels: expected {rows} rows in texts, turns and tokens, got \
             {} and {}",
            turns.len(),
            encoded.texts()
        )));
    }
    if encoded.starts.len() != encoded.ids.len() || encoded.ends.len() != encoded.ids.len() {
        return Err(KernelError::invalid(
            "chat_template_labels: the encodings carry no char offsets \
             (encode with char_offsets=True)"
                .to_string(),
        ));
    }
    let (sentinels, eos_ids, eot_ids, train_on_eos, train_on_eot, ignore) = rules;
    let sentinels: Vec<Vec<char>> = sentinels.iter().map(|s| s.chars().collect()).collect();
    let opt = Options {
        sentinels: &sentinels,
        eos_ids,
        eot_ids,
        train_on_eos: Train::from_code(*train_on_eos)?,
        train_on_eot: Train::from_code(*train_on_eot)?,
        ignore: *ignore,
    };
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let text: Vec<char> = texts[row].chars().collect();
        let row_turns: Vec<Turn> = turns[row]
            .iter()
            .map(|&(start, end, should_train, unlocatable)| Turn {
                start,
                end,
                should_train,
                unlocatable,
            })
            .collect();
        let span = encoded.offsets[row]..encoded.offsets[row + 1];
        let labelled = chat_labels::row_labels(
            &text,
            &row_turns,
            &encoded.ids[span.clone()],
            &encoded.starts[span.clone()],
            &encoded.ends[span],
            &opt,
        )
        .map_err(|e| match e {
            KernelError::Invalid(m) => KernelError::invalid(format!("row {row}: {m}")),
            other => other,
        })?;
        out.push(labelled);
    }
    Ok(out)
}

fn warning_code(w: Warning) -> (u8, usize) {
    match w {
        Warning::LastTurnUntrained => (0, 0),
        Warning::EndBeforeStart(t) => (1, t),
        Warning::EmptySpan(t) => (2, t),
    }
}

/// Labels of a batch of chat_template conversations (see `chat_labels.rs`).
///
/// Per row: the rendered text, its turns, and the token ids and (start, end) char offsets
/// of its one encode, given as `tokens`: an `EncodedBatch` encoded with char offsets, or
/// the pair (`input_ids`, `offset_mapping`) of a tokenizer call. Returns, per row,
/// `(labels, warnings)` with warnings as `(kind, turn)` pairs (kind 0: last turn
/// untrained, 1: end before start, 2: empty span), or `None` where Axolotl would leave the
/// char-span path for that row.
#[pyfunction]
fn chat_template_labels<'py>(
    py: Python<'py>,
    texts: Vec<String>,
    turns: Vec<Vec<TurnSpec>>,
    tokens: Tokens<'py>,
    rules: LabelRules,
) -> PyResult<Bound<'py, PyList>> {
    let (batch, ids, offsets) = match tokens {
        Tokens::Native(batch) => (Some(batch), Vec::new(), Vec::new()),
        Tokens::Lists(ids, offsets) => (None, ids, offsets),
    };
    let native: Option<&Encoded> = batch.as_ref().map(|b| &b.get().inner);
    let results = run(py, "chat_template_labels", texts.len(), move || {
        let owned;
        let encoded = match native {
            Some(encoded) => encoded,
            None => {
                owned = flatten(ids, offsets)?;
                &owned
            }
        };
        label_rows(&texts, &turns, encoded, &rules)
    })?;
    let list = PyList::empty(py);
    for row in results {
        match row {
            Row::Fallback => list.append(py.None())?,
            Row::Labels(labels, warnings) => {
                let warnings: Vec<(u8, usize)> = warnings.into_iter().map(warning_code).collect();
                list.append((labels, warnings))?;
            }
        }
    }
    Ok(list)
}

/// (int32 list offsets, input_ids values (int32, or int64 if an id does not fit),
/// int64 labels values, warnings as (row, kind, turn)).
type ChatColumns<'py> = (
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
    Vec<(usize, u8, usize)>,
);

/// `chat_template_labels` on the extension's encodings, as Arrow-ready columns: every
/// row's ids and labels flattened in row order, with `datasets`' writer's types for the
/// lists Axolotl returns. `None` when a row would leave the char-span path (the caller
/// then takes the per-row lists) or the batch has more tokens than int32 offsets hold.
#[pyfunction]
fn chat_template_columns<'py>(
    py: Python<'py>,
    texts: Vec<String>,
    turns: Vec<Vec<TurnSpec>>,
    tokens: Bound<'py, EncodedBatch>,
    rules: LabelRules,
) -> PyResult<Option<ChatColumns<'py>>> {
    let encoded = &tokens.get().inner;
    let results = run(py, "chat_template_columns", texts.len(), move || {
        let rows = label_rows(&texts, &turns, encoded, &rules)?;
        let Some(&total) = encoded.offsets.last() else {
            return Ok(None);
        };
        if i32::try_from(total).is_err() {
            return Ok(None);
        }
        let mut labels = Vec::with_capacity(total);
        let mut warnings = Vec::new();
        for (row, labelled) in rows.into_iter().enumerate() {
            match labelled {
                Row::Fallback => return Ok(None),
                Row::Labels(row_labels, row_warnings) => {
                    labels.extend(row_labels);
                    warnings.extend(row_warnings.into_iter().map(|w| {
                        let (kind, turn) = warning_code(w);
                        (row, kind, turn)
                    }));
                }
            }
        }
        let offsets: Vec<i32> = encoded.offsets.iter().map(|&o| o as i32).collect();
        let ids = IdValues::new(encoded.ids.clone());
        Ok(Some((offsets, ids, labels, warnings)))
    })?;
    let Some((offsets, ids, labels, warnings)) = results else {
        return Ok(None);
    };
    Ok(Some((
        PyArray1::from_vec(py, offsets),
        id_values_to_py(py, ids),
        PyArray1::from_vec(py, labels),
        warnings,
    )))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(chat_template_labels, m)?)?;
    m.add_function(wrap_pyfunction!(chat_template_columns, m)?)?;
    Ok(())
}
