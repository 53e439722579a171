//! Layout of fast-axolotl 0.2.0's public `pack_sequences`, `concatenate_and_pack` and
//! `pad_sequences`: which rows go into which packed row, and how long a padded row is.
//!
//! Only lengths are planned here; the binding layer moves the (Python int) values. The
//! plans reproduce 0.2.0's buffer logic exactly on every input it handled, and return an
//! `Invalid` error where 0.2.0 panicked (`pack_sequences` on a row longer than
//! `max_length - 2`: "capacity overflow") or silently dropped tokens (`concatenate_and_pack`
//! on a row longer than `max_length`, `pad_sequences` on a row longer than the target).

use crate::error::KernelError;

/// One packed row: the input rows `start..end`, laid out back to back from position 0,
/// followed by padding up to `max_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    pub start: usize,
    pub end: usize,
}

/// 0.2.0's packing loop, on lengths. `extra` tokens follow each row (2 for
/// `pack_sequences`: eos and pad; 0 for `concatenate_and_pack`).
///
/// 0.2.0 flushes a buffer that is exactly full when the *next* row arrives, even an empty
/// buffer when `max_length` is 0 (`concatenate_and_pack` then emits one empty packed row
/// per row); it never emits an empty buffer at the end. `describe(i)` names row `i` in the
/// error raised when a row cannot fit into `max_length` at all.
pub fn pack_plan(
    lengths: &[usize],
    extra: usize,
    max_length: usize,
    describe: impl Fn(usize, usize) -> String,
) -> Result<Vec<Packed>, KernelError> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut used = 0usize;
    for (i, &len) in lengths.iter().enumerate() {
        let item = len.saturating_add(extra);
        if item > max_length {
            return Err(KernelError::invalid(describe(i, item)));
        }
        if used == max_length {
            out.push(Packed { start, end: i });
            start = i;
            used = 0;
        }
        if used + item <= max_length {
            used += item;
        } else {
            out.push(Packed { start, end: i });
            start = i;
            used = item;
        }
    }
    if used > 0 {
        out.push(Packed {
            start,
            end: lengths.len(),
        });
    }
    Ok(out)
}

/// The length every row of `pad_sequences` is padded to: `target_length` (the longest row
/// when None), rounded up to a multiple of `pad_to_multiple_of` when that is given and
/// not 0. A row longer than that is an error (0.2.0 cut it silently).
pub fn pad_target(
    lengths: &[usize],
    target_length: Option<usize>,
    pad_to_multiple_of: Option<usize>,
) -> Result<usize, KernelError> {
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let mut target = target_length.unwrap_or(longest);
    if let Some(m) = pad_to_multiple_of.filter(|&m| m > 0) {
        target = target
            .div_ceil(m)
            .checked_mul(m)
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or_else(|| {
                KernelError::invalid(format!(
                    "target_length={target} rounded up to a multiple of \
                     pad_to_multiple_of={m} does not fit a Python list"
                ))
            })?;
    }
    if let Some((i, &len)) = lengths.iter().enumerate().find(|(_, &l)| l > target) {
        let rounded = match pad_to_multiple_of.filter(|&m| m > 0) {
            Some(m) => format!(" (rounded up to a multiple of pad_to_multiple_of={m})"),
            None => String::new(),
        };
        return Err(KernelError::invalid(format!(
            "sequences[{i}] has {len} tokens, more than target_length={target}{rounded}; \
             pass a larger target_length or truncate the rows first (fast-axolotl 0.2.0 \
             cut such rows silently)"
        )));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(lengths: &[usize], extra: usize, max: usize) -> Result<Vec<(usize, usize)>, String> {
        pack_plan(lengths, extra, max, |i, n| format!("row {i} needs {n}"))
            .map(|v| v.into_iter().map(|p| (p.start, p.end)).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn rows_that_fit_share_a_packed_row_in_order() {
        // 0.2.0's docstring example: [[1,2,3],[4,5],[6,7,8,9]] at 10 -> 5+4 | 6
        assert_eq!(plan(&[3, 2, 4], 2, 10), Ok(vec![(0, 2), (2, 3)]));
    }

    #[test]
    fn an_exactly_full_buffer_is_flushed_when_the_next_row_arrives() {
        assert_eq!(plan(&[3, 1], 0, 3), Ok(vec![(0, 1), (1, 2)]));
        assert_eq!(plan(&[3, 0], 0, 3), Ok(vec![(0, 1)]));
    }

    #[test]
    fn max_length_zero_emits_one_empty_row_per_empty_row() {
        assert_eq!(plan(&[0], 0, 0), Ok(vec![(0, 0)]));
        assert_eq!(plan(&[0, 0], 0, 0), Ok(vec![(0, 0), (0, 1)]));
        assert_eq!(plan(&[], 2, 0), Ok(vec![]));
    }

    #[test]
    fn a_row_that_cannot_fit_is_an_error_naming_it() {
        assert_eq!(plan(&[1, 9], 2, 10), Err("row 1 needs 11".into()));
        assert_eq!(plan(&[4], 0, 3), Err("row 0 needs 4".into()));
        assert!(plan(&[usize::MAX], 2, 10).is_err());
    }

    #[test]
    fn pad_target_rounds_up_and_rejects_longer_rows() {
        assert_eq!(pad_target(&[3, 1], None, Some(4)), Ok(4));
        assert_eq!(pad_target(&[3, 1], None, Some(0)), Ok(3));
        assert_eq!(pad_target(&[3, 1], Some(2), Some(4)), Ok(4));
        assert_eq!(pad_target(&[], Some(7), None), Ok(7));
        assert!(pad_target(&[3], Some(2), None).is_err());
        assert!(pad_target(&[1], Some(usize::MAX), Some(2)).is_err());
    }
}
