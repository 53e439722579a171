//! Padding a batch of token sequences the way Axolotl's `DataCollatorForSeq2Seq` and
//! `tokenizer.pad` do together, written in one pass into caller-provided int64 buffers.
//!
//! A batch is a set of columns (one per feature key). Each column has one row per output
//! row, and each row is the concatenation of one or more pieces (the items of a packed bin).
//! Where a value comes from is abstracted by [`Segment`], so this file knows nothing of
//! Python: the binding layer reads Python lists and numpy arrays, the tests read `Vec`s.
//!
//! The padding rules reproduced (Axolotl 0.19 + transformers 5):
//! - `labels` / `position_ids` ([`Role::PrePadded`]) are padded by Axolotl itself, before the
//!   tokenizer runs, to the longest row rounded up to `pad_to_multiple_of`, whatever the
//!   padding strategy; `position_ids` are padded with `0..k`, not with a constant.
//! - `input_ids` ([`Role::Main`]) is padded by the tokenizer to the strategy's target
//!   (rounded up to `pad_to_multiple_of`); a row longer than the target stays as it is.
//! - `attention_mask` / `token_type_ids` ([`Role::Companion`]) get the same amount of padding
//!   as the `input_ids` of their row.
//! - A row Axolotl sees as a numpy array and that needs no padding goes through
//!   `np.concatenate([row, []])`, i.e. through float64 and back (exact below 2**53).

use crate::error::KernelError;

/// One source sequence of integers.
pub trait Segment {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether Axolotl sees this value as a numpy array (not a Python list).
    fn is_array(&self) -> bool;
    /// Writes the values, each multiplied by `factor` with the wrap-around of the source's
    /// own integer type, into `out` (exactly `len()` long).
    fn write(&self, out: &mut [i64], factor: i64) -> Result<(), KernelError>;
}

impl Segment for Vec<i64> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn is_array(&self) -> bool {
        false
    }
    fn write(&self, out: &mut [i64], factor: i64) -> Result<(), KernelError> {
        for (o, v) in out.iter_mut().zip(self.iter()) {
            *o = v.wrapping_mul(factor);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Longest,
    MaxLength(usize),
    DoNotPad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pad {
    Constant(i64),
    /// `0, 1, ..., k - 1` (Axolotl's padding of `position_ids`).
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The tokenizer's main input (`input_ids`): its row lengths decide the padding.
    Main,
    /// Padded by the tokenizer alongside `Main`; must have the same row lengths.
    Companion,
    /// Padded by Axolotl before the tokenizer, to its own longest row.
    PrePadded,
}

/// One piece of a row: the index of the item it came from (counting the items that lack
/// this key too) and its values.
pub struct Piece<S> {
    pub item: usize,
    pub seg: S,
}

pub struct Column<S> {
    pub role: Role,
    pub pad: Pad,
    /// Multiply the piece of item `i` by `i + 1` (V2 / pretraining attention-mask segment ids).
    pub scale_by_item: bool,
    /// Replace the values by `0..len` (`squash_position_ids`).
    pub squash: bool,
    pub rows: Vec<Vec<Piece<S>>>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub side: Side,
    pub strategy: Strategy,
    pub multiple: Option<usize>,
    /// Axolotl's base collator sees every row as a numpy array (packed bins, pretraining).
    pub rows_are_arrays: bool,
}

fn round_up(n: usize, multiple: Option<usize>) -> usize {
    match multiple {
        Some(m) if m > 0 && !n.is_multiple_of(m) => (n / m + 1) * m,
        _ => n,
    }
}

fn row_len<S: Segment>(row: &[Piece<S>]) -> usize {
    row.iter().map(|p| p.seg.len()).sum()
}

/// The width of every column, in order; `Unsupported` where Axolotl's result would not be
/// a rectangular int64 batch (ragged rows, mismatched attention masks).
pub fn plan<S: Segment>(columns: &[Column<S>], opts: &Options) -> Result<Vec<usize>, KernelError> {
    let main_lens: Option<Vec<usize>> = columns
        .iter()
        .find(|c| c.role == Role::Main)
        .map(|c| c.rows.iter().map(|r| row_len(r)).collect());
    let main_width = match &main_lens {
        None => None,
        Some(lens) => {
            let target = match opts.strategy {
                Strategy::Longest => Some(round_up(
                    lens.iter().copied().max().unwrap_or(0),
                    opts.multiple,
                )),
                Strategy::MaxLength(m) => Some(round_up(m, opts.multiple)),
                Strategy::DoNotPad => None,
            };
            let finals: Vec<usize> = lens
                .iter()
                .map(|&n| target.map_or(n, |t| t.max(n)))
                .collect();
            match finals.first() {
                Some(&w) if finals.iter().all(|&f| f == w) => Some(w),
                Some(_) => {
                    return Err(KernelError::unsupported(
                        "input_ids rows of different lengths after padding (ragged batch)",
                    ))
                }
                None => return Err(KernelError::unsupported("empty batch")),
            }
        }
    };
    columns
        .iter()
        .map(|c| {
            if c.rows.is_empty() {
                return Err(KernelError::unsupported("empty batch"));
            }
            match c.role {
                Role::PrePadded => Ok(round_up(
                    c.rows.iter().map(|r| row_len(r)).max().unwrap_or(0),
                    opts.multiple,
                )),
                Role::Main => Ok(main_width.unwrap_or(0)),
                Role::Companion => {
                    let (Some(lens), Some(w)) = (&main_lens, main_width) else {
                        return Err(KernelError::unsupported("attention_mask without input_ids"));
                    };
                    if lens.len() != c.rows.len()
                        || c.rows.iter().zip(lens).any(|(r, &n)| row_len(r) != n)
                    {
                        return Err(KernelError::unsupported(
                            "a row whose attention_mask/token_type_ids length differs from its input_ids",
                        ));
                    }
                    Ok(w)
                }
            }
        })
        .collect()
}

/// `np.concatenate([int_row, []]).astype(np.int64)`: through float64 and back. A value that
/// rounds up to 2**63 makes numpy warn ("invalid value encountered in cast"): Unsupported,
/// so that the original runs and warns.
fn float_round_trip(v: i64) -> Result<i64, KernelError> {
    let f = v as f64;
    if f >= 9_223_372_036_854_775_808.0 {
        Err(KernelError::unsupported(
            "a value numpy's float64 round trip overflows",
        ))
    } else {
        Ok(f as i64)
    }
}

/// Fills `out` (`rows × width`, row-major) with the padded column.
pub fn fill<S: Segment>(
    column: &Column<S>,
    width: usize,
    opts: &Options,
    out: &mut [i64],
) -> Result<(), KernelError> {
    if out.len() != column.rows.len() * width {
        return Err(KernelError::invalid(format!(
            "output buffer has {} elements, expected {} rows × {width}",
            out.len(),
            column.rows.len()
        )));
    }
    if width == 0 {
        return Ok(());
    }
    for (row, dest) in column.rows.iter().zip(out.chunks_exact_mut(width)) {
        let len = row_len(row);
        let pad_n = width.saturating_sub(len);
        if len + pad_n != width {
            return Err(KernelError::invalid(
                "a row is longer than its column's width",
            ));
        }
        let (data, pad) = match opts.side {
            Side::Right => {
                let (d, p) = dest.split_at_mut(len);
                (d, p)
            }
            Side::Left => {
                let (p, d) = dest.split_at_mut(pad_n);
                (d, p)
            }
        };
        if column.squash {
            for (i, o) in data.iter_mut().enumerate() {
                *o = i as i64;
            }
        } else {
            let mut at = 0;
            for piece in row {
                let n = piece.seg.len();
                let factor = if column.scale_by_item {
                    piece.item as i64 + 1
                } else {
                    1
                };
                piece.seg.write(&mut data[at..at + n], factor)?;
                at += n;
            }
            let seen_as_array = opts.rows_are_arrays || row.iter().any(|p| p.seg.is_array());
            if column.role == Role::PrePadded && pad_n == 0 && seen_as_array {
                for o in data.iter_mut() {
                    *o = float_round_trip(*o)?;
                }
            }
        }
        match column.pad {
            Pad::Constant(c) => pad.fill(c),
            Pad::Range => {
                for (i, o) in pad.iter_mut().enumerate() {
                    *o = i as i64;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(role: Role, pad: Pad, rows: Vec<Vec<Vec<i64>>>) -> Column<Vec<i64>> {
        Column {
            role,
            pad,
            scale_by_item: false,
            squash: false,
            rows: rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .enumerate()
                        .map(|(item, seg)| Piece { item, seg })
                        .collect()
                })
                .collect(),
        }
    }

    fn opts(side: Side, strategy: Strategy, multiple: Option<usize>) -> Options {
        Options {
            side,
            strategy,
            multiple,
            rows_are_arrays: false,
        }
    }

    fn run(cols: &[Column<Vec<i64>>], o: &Options) -> Result<Vec<Vec<i64>>, KernelError> {
        let widths = plan(cols, o)?;
        cols.iter()
            .zip(widths)
            .map(|(c, w)| {
                let mut out = vec![7777; c.rows.len() * w];
                fill(c, w, o, &mut out)?;
                Ok(out)
            })
            .collect()
    }

    #[test]
    fn longest_right_pads_input_ids_and_mask() {
        let cols = [
            col(
                Role::Main,
                Pad::Constant(9),
                vec![vec![vec![1, 2, 3]], vec![vec![4]]],
            ),
            col(
                Role::Companion,
                Pad::Constant(0),
                vec![vec![vec![1, 1, 1]], vec![vec![1]]],
            ),
        ];
        let out = run(&cols, &opts(Side::Right, Strategy::Longest, None)).unwrap();
        assert_eq!(out[0], vec![1, 2, 3, 4, 9, 9]);
        assert_eq!(out[1], vec![1, 1, 1, 1, 0, 0]);
    }

    #[test]
    fn left_side_and_multiple_and_position_range() {
        let cols = [
            col(Role::Main, Pad::Constant(0), vec![vec![vec![5, 6, 7]]]),
            col(Role::PrePadded, Pad::Range, vec![vec![vec![0, 1, 2]]]),
        ];
        let out = run(&cols, &opts(Side::Left, Strategy::Longest, Some(4))).unwrap();
        assert_eq!(out[0], vec![0, 5, 6, 7]);
        assert_eq!(out[1], vec![0, 0, 1, 2]);
    }

    #[test]
    fn labels_ignore_max_length_strategy() {
        let cols = [
            col(Role::Main, Pad::Constant(0), vec![vec![vec![1, 2]]]),
            col(Role::PrePadded, Pad::Constant(-100), vec![vec![vec![1, 2]]]),
        ];
        let widths = plan(&cols, &opts(Side::Right, Strategy::MaxLength(5), None)).unwrap();
        assert_eq!(widths, vec![5, 2]);
    }

    #[test]
    fn ragged_and_mismatched_rows_are_unsupported() {
        let ragged = [col(
            Role::Main,
            Pad::Constant(0),
            vec![vec![vec![1, 2]], vec![vec![1]]],
        )];
        assert!(matches!(
            plan(&ragged, &opts(Side::Right, Strategy::DoNotPad, None)),
            Err(KernelError::Unsupported(_))
        ));
        let mismatch = [
            col(Role::Main, Pad::Constant(0), vec![vec![vec![1, 2]]]),
            col(Role::Companion, Pad::Constant(0), vec![vec![vec![1]]]),
        ];
        assert!(matches!(
            plan(&mismatch, &opts(Side::Right, Strategy::Longest, None)),
            Err(KernelError::Unsupported(_))
        ));
    }

    #[test]
    fn scale_by_item_counts_items_and_squash_uses_total_length() {
        let mut mask = col(
            Role::Companion,
            Pad::Constant(0),
            vec![vec![vec![1, 1], vec![1]]],
        );
        mask.scale_by_item = true;
        mask.rows[0][1].item = 2; // item 1 lacked the key
        let mut pos = col(Role::PrePadded, Pad::Range, vec![vec![vec![0, 1], vec![0]]]);
        pos.squash = true;
        let cols = [
            col(
                Role::Main,
                Pad::Constant(0),
                vec![vec![vec![3, 4], vec![5]]],
            ),
            mask,
            pos,
        ];
        let o = Options {
            rows_are_arrays: true,
            ..opts(Side::Right, Strategy::Longest, Some(4))
        };
        let out = run(&cols, &o).unwrap();
        assert_eq!(out[1], vec![1, 1, 3, 0]);
        assert_eq!(out[2], vec![0, 1, 2, 0]);
    }

    #[test]
    fn unpadded_array_rows_go_through_float64() {
        let big = (1i64 << 53) + 1;
        let cols = [col(
            Role::PrePadded,
            Pad::Constant(-100),
            vec![vec![vec![big]]],
        )];
        let o = Options {
            rows_are_arrays: true,
            ..opts(Side::Right, Strategy::Longest, None)
        };
        assert_eq!(run(&cols, &o).unwrap()[0], vec![1i64 << 53]);
        assert!(float_round_trip(i64::MAX).is_err());
    }
}
