//! Binding of the `chat_labels` kernel: one call per batch of conversations.

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::errors::run;
use crate::chat_labels::{self, Options, Row, Train, Turn, Warning};
use crate::error::KernelError;

/// (content start, content end, should_train, unlocatable) of every turn of a row.
type TurnSpec = (usize, usize, bool, bool);

/// Labels of a batch of chat_template conversations (see `chat_labels.rs`).
///
/// Per row: the rendered text, its turns, the token ids and (start, end) char offsets of
/// its one encode. Returns, per row, `(labels, warnings)` with warnings as
/// `(kind, turn)` pairs (kind 0: last turn untrained, 1: end before start, 2: empty span),
/// or `None` where Axolotl would leave the char-span path for that row.
#[pyfunction]
#[pyo3(signature = (texts, turns, input_ids, offsets, sentinels, eos_ids, eot_ids, train_on_eos, train_on_eot, ignore))]
#[allow(clippy::too_many_arguments)]
fn chat_template_labels<'py>(
    py: Python<'py>,
    texts: Vec<String>,
    turns: Vec<Vec<TurnSpec>>,
    input_ids: Vec<Vec<i64>>,
    offsets: Vec<Vec<(i64, i64)>>,
    sentinels: Vec<String>,
    eos_ids: Vec<i64>,
    eot_ids: Vec<i64>,
    train_on_eos: u8,
    train_on_eot: u8,
    ignore: i64,
) -> PyResult<Bound<'py, PyList>> {
    let rows = texts.len();
    let results = run(py, "chat_template_labels", rows, move || {
        if turns.len() != rows || input_ids.len() != rows || offsets.len() != rows {
            return Err(KernelError::invalid(format!(
                "chat_template_labels: expected {rows} rows in texts, turns, input_ids and \
                 offsets, got {}, {}, {}",
                turns.len(),
                input_ids.len(),
                offsets.len()
            )));
        }
        let sentinels: Vec<Vec<char>> = sentinels.iter().map(|s| s.chars().collect()).collect();
        let opt = Options {
            sentinels: &sentinels,
            eos_ids: &eos_ids,
            eot_ids: &eot_ids,
            train_on_eos: Train::from_code(train_on_eos)?,
            train_on_eot: Train::from_code(train_on_eot)?,
            ignore,
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
            let starts: Vec<i64> = offsets[row].iter().map(|o| o.0).collect();
            let ends: Vec<i64> = offsets[row].iter().map(|o| o.1).collect();
            let labelled =
                chat_labels::row_labels(&text, &row_turns, &input_ids[row], &starts, &ends, &opt)
                    .map_err(|e| match e {
                    KernelError::Invalid(m) => KernelError::invalid(format!("row {row}: {m}")),
                    other => other,
                })?;
            out.push(labelled);
        }
        Ok(out)
    })?;
    let list = PyList::empty(py);
    for row in results {
        match row {
            Row::Fallback => list.append(py.None())?,
            Row::Labels(labels, warnings) => {
                let warnings: Vec<(u8, usize)> = warnings
                    .into_iter()
                    .map(|w| match w {
                        Warning::LastTurnUntrained => (0, 0),
                        Warning::EndBeforeStart(t) => (1, t),
                        Warning::EmptySpan(t) => (2, t),
                    })
                    .collect();
                list.append((labels, warnings))?;
            }
        }
    }
    Ok(list)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(chat_template_labels, m)?)?;
    Ok(())
}
