//! Assembly of Axolotl's instruction-prompt rows from batched tokenizer output.
//!
//! Axolotl's `InstructionPromptTokenizingStrategy.tokenize_prompt` tokenizes the user
//! prompt (`_tokenize(prompt, add_eos_token=False)`) and the response
//! (`_tokenize(response, strip_bos_token=True, add_eos_token=True)`) one row at a time and
//! concatenates them. Here every text of a batch has been encoded in one tokenizer call;
//! this kernel applies `_tokenize`'s EOS/BOS rules and the label rule to each row and
//! writes the three columns as Arrow list layouts (offsets + values).

use crate::error::KernelError;

/// The encodings of one tokenizer call, flattened: text `t` has ids
/// `ids[offsets[t]..offsets[t + 1]]` and the attention mask at the same positions.
pub struct Encodings<'a> {
    pub offsets: &'a [usize],
    pub ids: &'a [i64],
    pub mask: &'a [i64],
}

impl Encodings<'_> {
    fn get(&self, text: usize) -> Result<(&[i64], &[i64]), KernelError> {
        if text + 1 >= self.offsets.len() {
            return Err(KernelError::invalid(format!(
                "text index {text} out of range for {} encodings",
                self.offsets.len().saturating_sub(1)
            )));
        }
        let (a, b) = (self.offsets[text], self.offsets[text + 1]);
        if a > b || b > self.ids.len() || b > self.mask.len() {
            return Err(KernelError::invalid(format!(
                "encoding {text}: offsets {a}..{b} outside the {} ids / {} mask values",
                self.ids.len(),
                self.mask.len()
            )));
        }
        Ok((&self.ids[a..b], &self.mask[a..b]))
    }
}

/// What `_tokenize` compares against and the strategy's label choice.
#[derive(Clone, Copy, Debug)]
pub struct InstructParams {
    pub eos_token_id: i64,
    pub bos_token_id: Option<i64>,
    pub max_length: usize,
    pub train_on_inputs: bool,
}

/// `input_ids` values: int32 when every value fits (what `datasets`' writer makes of an
/// `input_ids` column of Python ints), int64 otherwise.
#[derive(Debug, PartialEq, Eq)]
pub enum IdValues {
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl IdValues {
    /// `ids` as that writer stores them: narrowed to int32 when every value fits.
    pub fn new(ids: Vec<i64>) -> Self {
        if ids.iter().all(|&v| i32::try_from(v).is_ok()) {
            IdValues::I32(ids.iter().map(|&v| v as i32).collect())
        } else {
            IdValues::I64(ids)
        }
    }
}

/// `attention_mask` values: int8 when every value fits (the writer's choice for that
/// column name), int64 otherwise.
#[derive(Debug, PartialEq, Eq)]
pub enum MaskValues {
    I8(Vec<i8>),
    I64(Vec<i64>),
}

/// The three columns of a batch; all share `offsets` (int32, Arrow `list` layout).
#[derive(Debug, PartialEq, Eq)]
pub struct InstructColumns {
    pub offsets: Vec<i32>,
    pub input_ids: IdValues,
    pub attention_mask: MaskValues,
    pub labels: Vec<i64>,
}

const IGNORE_INDEX: i64 = -100;

/// Builds the rows. `prompt[r]` / `response[r]` is the index of row `r`'s text in `enc`,
/// or `None` when the text was empty (Axolotl's `_tokenize` returns no tokens for it and
/// does not call the tokenizer).
///
/// The caller has established that no row takes the `KeyError('labels')` branch (an empty
/// prompt encoding with `train_on_inputs`): such a row is reported as invalid input here.
pub fn assemble_instruct(
    enc: &Encodings<'_>,
    prompt: &[Option<usize>],
    response: &[Option<usize>],
    p: &InstructParams,
) -> Result<InstructColumns, KernelError> {
    if prompt.len() != response.len() {
        return Err(KernelError::invalid(format!(
            "prompt and response indices differ in length ({} != {})",
            prompt.len(),
            response.len()
        )));
    }
    let rows = prompt.len();
    let total_hint = enc.ids.len() + rows;
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0i32);
    let mut ids: Vec<i64> = Vec::with_capacity(total_hint);
    let mut mask: Vec<i64> = Vec::with_capacity(total_hint);
    let mut labels: Vec<i64> = Vec::with_capacity(total_hint);
    for r in 0..rows {
        let (p_ids, p_mask) = match prompt[r] {
            Some(t) => enc.get(t)?,
            None => (&[][..], &[][..]),
        };
        if p_ids.is_empty() && p.train_on_inputs {
            return Err(KernelError::invalid(format!(
                "row {r}: empty prompt encoding with train_on_inputs (Axolotl raises \
                 KeyError('labels'); the caller handles that row)"
            )));
        }
        ids.extend_from_slice(p_ids);
        mask.extend_from_slice(p_mask);
        if p.train_on_inputs {
            labels.extend_from_slice(p_ids);
        } else {
            labels.resize(labels.len() + p_ids.len(), IGNORE_INDEX);
        }
        if let Some(t) = response[r] {
            let (r_ids, r_mask) = enc.get(t)?;
            if !r_ids.is_empty() {
                // `_tokenize`: EOS is appended when the last id is not EOS and the
                // truncated encoding left room, then a leading BOS is stripped.
                let append_eos =
                    *r_ids.last().unwrap_or(&0) != p.eos_token_id && r_ids.len() < p.max_length;
                let strip_bos = p.bos_token_id == Some(r_ids[0]);
                let start = usize::from(strip_bos);
                let body_ids = &r_ids[start.min(r_ids.len())..];
                let body_mask = &r_mask[start.min(r_mask.len())..];
                ids.extend_from_slice(body_ids);
                mask.extend_from_slice(body_mask);
                labels.extend_from_slice(body_ids);
                if append_eos {
                    ids.push(p.eos_token_id);
                    mask.push(1);
                    labels.push(p.eos_token_id);
                }
            }
        }
        let end = i32::try_from(ids.len()).map_err(|_| {
            KernelError::unsupported("more than 2^31 token ids in one batch".to_string())
        })?;
        offsets.push(end);
    }
    let input_ids = IdValues::new(ids);
    let attention_mask = if mask.iter().all(|&v| i8::try_from(v).is_ok()) {
        MaskValues::I8(mask.iter().map(|&v| v as i8).collect())
    } else {
        MaskValues::I64(mask)
    };
    Ok(InstructColumns {
        offsets,
        input_ids,
        attention_mask,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_of(texts: &[&[i64]]) -> (Vec<usize>, Vec<i64>, Vec<i64>) {
        let mut offsets = vec![0];
        let mut ids = vec![];
        for t in texts {
            ids.extend_from_slice(t);
            offsets.push(ids.len());
        }
        let mask = vec![1; ids.len()];
        (offsets, ids, mask)
    }

    fn params(train_on_inputs: bool) -> InstructParams {
        InstructParams {
            eos_token_id: 2,
            bos_token_id: Some(1),
            max_length: 4,
            train_on_inputs,
        }
    }

    fn run(
        texts: &[&[i64]],
        prompt: &[Option<usize>],
        response: &[Option<usize>],
        p: &InstructParams,
    ) -> InstructColumns {
        let (offsets, ids, mask) = enc_of(texts);
        let enc = Encodings {
            offsets: &offsets,
            ids: &ids,
            mask: &mask,
        };
        assemble_instruct(&enc, prompt, response, p).unwrap()
    }

    #[test]
    fn response_gets_eos_and_loses_bos_and_prompt_is_masked() {
        let out = run(
            &[&[1, 5, 6], &[1, 7]],
            &[Some(0)],
            &[Some(1)],
            &params(false),
        );
        assert_eq!(out.offsets, vec![0, 5]);
        assert_eq!(out.input_ids, IdValues::I32(vec![1, 5, 6, 7, 2]));
        assert_eq!(out.labels, vec![-100, -100, -100, 7, 2]);
        assert_eq!(out.attention_mask, MaskValues::I8(vec![1; 5]));
    }

    #[test]
    fn truncated_response_gets_no_eos() {
        let out = run(
            &[&[5], &[1, 7, 8, 9]],
            &[Some(0)],
            &[Some(1)],
            &params(true),
        );
        assert_eq!(out.input_ids, IdValues::I32(vec![5, 7, 8, 9]));
        assert_eq!(out.labels, vec![5, 7, 8, 9]);
    }

    #[test]
    fn response_ending_in_eos_gets_no_second_eos() {
        let out = run(&[&[5], &[7, 2]], &[Some(0)], &[Some(1)], &params(true));
        assert_eq!(out.input_ids, IdValues::I32(vec![5, 7, 2]));
    }

    #[test]
    fn lone_bos_response_becomes_eos() {
        let out = run(&[&[5], &[1]], &[Some(0)], &[Some(1)], &params(false));
        assert_eq!(out.input_ids, IdValues::I32(vec![5, 2]));
        assert_eq!(out.labels, vec![-100, 2]);
    }

    #[test]
    fn empty_texts_add_nothing() {
        let out = run(&[&[5]], &[Some(0), None], &[None, None], &params(false));
        assert_eq!(out.offsets, vec![0, 1, 1]);
        assert_eq!(out.labels, vec![-100]);
    }

    #[test]
    fn empty_prompt_with_train_on_inputs_is_reported() {
        let (offsets, ids, mask) = enc_of(&[&[], &[7]]);
        let enc = Encodings {
            offsets: &offsets,
            ids: &ids,
            mask: &mask,
        };
        let err = assemble_instruct(&enc, &[Some(0)], &[Some(1)], &params(true)).unwrap_err();
        assert!(matches!(err, KernelError::Invalid(_)));
    }

    #[test]
    fn ids_beyond_int32_stay_int64() {
        let big = i64::from(i32::MAX) + 1;
        let out = run(&[&[big]], &[Some(0)], &[None], &params(true));
        assert_eq!(out.input_ids, IdValues::I64(vec![big]));
    }

    #[test]
    fn out_of_range_text_index_is_invalid() {
        let (offsets, ids, mask) = enc_of(&[&[5]]);
        let enc = Encodings {
            offsets: &offsets,
            ids: &ids,
            mask: &mask,
        };
        assert!(assemble_instruct(&enc, &[Some(3)], &[None], &params(false)).is_err());
    }
}
