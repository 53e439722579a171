//! Row filters and truncation of a tokenized dataset: the kernels behind Axolotl's
//! `filter_sequences_by_length`, `keep_min_len`, `drop_no_trainable_tokens` and
//! `truncate_long_seq`.
//!
//! Axolotl turns every row into a Python list to take its `len()` or to compare each
//! label with -100. Here lengths come from the list offsets and labels are scanned in
//! their Arrow buffer.

use arrow_array::Array;

use crate::column::{ChunkedColumn, RowSelection};
use crate::error::KernelError;
use crate::lengths::{int_values, list_child, list_lengths, list_offsets, IntValues};

/// `min_len <= len(row) <= max_len` for every selected row of a list column, and the
/// position of the first row longer than `max_len` (what `raise_on_drop` reports).
pub fn length_range_mask(
    column: &ChunkedColumn,
    selection: &RowSelection<'_>,
    min_len: i64,
    max_len: i64,
) -> Result<(Vec<bool>, Option<usize>), KernelError> {
    let lengths = list_lengths(column, selection)?;
    let first_too_long = lengths.iter().position(|&l| l > max_len);
    let mask = lengths
        .iter()
        .map(|&l| min_len <= l && l <= max_len)
        .collect();
    Ok((mask, first_too_long))
}

#[inline]
fn any_not<T: Copy + PartialEq>(values: &[T], target: Option<T>) -> bool {
    match target {
        Some(t) => values.iter().any(|&v| v != t),
        // -100 is not representable (unsigned values): every value differs from it.
        None => !values.is_empty(),
    }
}

/// `any(v != -100 for v in row)` for every row of a list-of-integers column.
///
/// A null value inside a row counts as trainable (Python's `None != -100` is true); a null
/// row is `Unsupported` (Axolotl raises TypeError iterating it).
pub fn trainable_mask(column: &ChunkedColumn) -> Result<Vec<bool>, KernelError> {
    let what = "labels";
    let mut out = Vec::with_capacity(column.len());
    for chunk in column.chunks() {
        let offsets = list_offsets(chunk.as_ref(), what)?;
        let child = list_child(chunk.as_ref());
        let values = int_values(child, what)?;
        let child_nulls = child.null_count() > 0;
        for r in 0..chunk.len() {
            if chunk.is_null(r) {
                return Err(KernelError::unsupported(format!("{what} has a null row")));
            }
            let (s, e) = offsets.range(r);
            if child_nulls && (s..e).any(|i| child.is_null(i)) {
                // A null compares unequal to -100: the row is trainable.
                out.push(true);
                continue;
            }
            let keep = match &values {
                IntValues::I8(v) => any_not(&v[s..e], Some(-100)),
                IntValues::I16(v) => any_not(&v[s..e], Some(-100)),
                IntValues::I32(v) => any_not(&v[s..e], Some(-100)),
                IntValues::I64(v) => any_not(&v[s..e], Some(-100)),
                IntValues::U8(v) => any_not(&v[s..e], None),
                IntValues::U16(v) => any_not(&v[s..e], None),
                IntValues::U32(v) => any_not(&v[s..e], None),
                IntValues::U64(v) => any_not(&v[s..e], None),
            };
            out.push(keep);
        }
    }
    Ok(out)
}

/// The values of a truncated integer list column, in the child's own integer type.
#[derive(Debug, PartialEq)]
pub enum IntVec {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl IntVec {
    fn like(values: &IntValues<'_>, capacity: usize) -> Self {
        match values {
            IntValues::I8(_) => IntVec::I8(Vec::with_capacity(capacity)),
            IntValues::I16(_) => IntVec::I16(Vec::with_capacity(capacity)),
            IntValues::I32(_) => IntVec::I32(Vec::with_capacity(capacity)),
            IntValues::I64(_) => IntVec::I64(Vec::with_capacity(capacity)),
            IntValues::U8(_) => IntVec::U8(Vec::with_capacity(capacity)),
            IntValues::U16(_) => IntVec::U16(Vec::with_capacity(capacity)),
            IntValues::U32(_) => IntVec::U32(Vec::with_capacity(capacity)),
            IntValues::U64(_) => IntVec::U64(Vec::with_capacity(capacity)),
        }
    }

    fn extend(&mut self, values: &IntValues<'_>, s: usize, e: usize) -> Result<(), KernelError> {
        match (self, values) {
            (IntVec::I8(o), IntValues::I8(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::I16(o), IntValues::I16(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::I32(o), IntValues::I32(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::I64(o), IntValues::I64(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::U8(o), IntValues::U8(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::U16(o), IntValues::U16(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::U32(o), IntValues::U32(v)) => o.extend_from_slice(&v[s..e]),
            (IntVec::U64(o), IntValues::U64(v)) => o.extend_from_slice(&v[s..e]),
            _ => {
                return Err(KernelError::invalid(
                    "column chunks disagree on their value type",
                ))
            }
        }
        Ok(())
    }
}

/// A list column with the rows marked in `cut` shortened to their first `max_len` values
/// (Python's `row[:max_len]`, `max_len >= 0`), as new offsets (starting at 0) and values.
///
/// Null rows and null values are `Unsupported`: Axolotl slices Python lists, and the
/// rebuilt column carries no validity.
pub fn truncate_rows(
    column: &ChunkedColumn,
    cut: &[bool],
    max_len: usize,
    what: &str,
) -> Result<(Vec<i64>, IntVec), KernelError> {
    if cut.len() != column.len() {
        return Err(KernelError::invalid(format!(
            "{what} has {} rows but the truncation mask has {}",
            column.len(),
            cut.len()
        )));
    }
    let mut offsets = Vec::with_capacity(column.len() + 1);
    offsets.push(0i64);
    let mut out: Option<IntVec> = None;
    let mut row = 0usize;
    let mut total = 0i64;
    for chunk in column.chunks() {
        let list = list_offsets(chunk.as_ref(), what)?;
        let child = list_child(chunk.as_ref());
        let values = int_values(child, what)?;
        if chunk.null_count() > 0 {
            return Err(KernelError::unsupported(format!("{what} has a null row")));
        }
        let out = out.get_or_insert_with(|| IntVec::like(&values, child.len()));
        for r in 0..chunk.len() {
            let (s, mut e) = list.range(r);
            if cut[row] {
                e = e.min(s + max_len);
            }
            if child.null_count() > 0 && (s..e).any(|i| child.is_null(i)) {
                return Err(KernelError::unsupported(format!("{what} has a null value")));
            }
            out.extend(&values, s, e)?;
            total += (e - s) as i64;
            offsets.push(total);
            row += 1;
        }
    }
    let values = match out {
        Some(v) => v,
        None => {
            return Err(KernelError::unsupported(format!(
                "{what} has no chunks to take its value type from"
            )))
        }
    };
    Ok((offsets, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::{Int32Type, Int64Type};
    use arrow_array::{ArrayRef, ListArray, UInt8Array};
    use arrow_buffer::OffsetBuffer;
    use arrow_schema::{DataType, Field};
    use std::sync::Arc;

    fn list_i64(rows: &[Option<Vec<Option<i64>>>]) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            rows.to_vec(),
        ))
    }

    fn rows(v: &[&[i64]]) -> ArrayRef {
        list_i64(
            &v.iter()
                .map(|r| Some(r.iter().map(|&x| Some(x)).collect()))
                .collect::<Vec<_>>(),
        )
    }

    fn col(chunks: Vec<ArrayRef>) -> ChunkedColumn {
        ChunkedColumn::new(chunks).unwrap()
    }

    #[test]
    fn range_mask_is_inclusive_at_both_ends_and_reports_the_first_long_row() {
        let c = col(vec![
            rows(&[&[1], &[1, 2], &[]]),
            rows(&[&[1, 2, 3, 4], &[1, 2, 3]]),
        ]);
        let (mask, first) = length_range_mask(&c, &RowSelection::All, 1, 3).unwrap();
        assert_eq!(mask, vec![true, true, false, false, true]);
        assert_eq!(first, Some(3));
        let (_, first) = length_range_mask(&c, &RowSelection::All, 1, 4).unwrap();
        assert_eq!(first, None);
    }

    #[test]
    fn trainable_rows_have_a_label_other_than_minus_100() {
        let c = col(vec![list_i64(&[
            Some(vec![Some(-100), Some(-100)]),
            Some(vec![Some(-100), Some(5)]),
            Some(vec![]),
            Some(vec![Some(-100), None]),
        ])]);
        assert_eq!(trainable_mask(&c).unwrap(), vec![false, true, false, true]);
        let c = col(vec![list_i64(&[None])]);
        assert!(matches!(
            trainable_mask(&c),
            Err(KernelError::Unsupported(_))
        ));
    }

    #[test]
    fn unsigned_labels_are_always_trainable_unless_empty() {
        let values = Arc::new(UInt8Array::from(vec![156u8, 0]));
        let field = Arc::new(Field::new("item", DataType::UInt8, true));
        let a = ListArray::new(field, OffsetBuffer::from_lengths([2, 0]), values, None);
        let c = col(vec![Arc::new(a)]);
        assert_eq!(trainable_mask(&c).unwrap(), vec![true, false]);
    }

    #[test]
    fn truncation_cuts_only_marked_rows_and_keeps_the_value_type() {
        let mut b =
            arrow_array::builder::ListBuilder::new(arrow_array::builder::Int32Builder::new());
        for r in [&[1, 2, 3][..], &[4, 5, 6, 7], &[8]] {
            b.values().append_slice(r);
            b.append(true);
        }
        let a: ArrayRef = Arc::new(b.finish());
        let c = col(vec![a.slice(1, 2), a.slice(0, 1)]);
        let (offsets, values) = truncate_rows(&c, &[true, true, false], 2, "x").unwrap();
        assert_eq!(offsets, vec![0, 2, 3, 6]);
        assert_eq!(values, IntVec::I32(vec![4, 5, 8, 1, 2, 3]));
        let _ = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
    }

    #[test]
    fn truncation_mask_of_the_wrong_length_is_an_error() {
        let c = col(vec![rows(&[&[1]])]);
        assert!(matches!(
            truncate_rows(&c, &[], 1, "x"),
            Err(KernelError::Invalid(_))
        ));
    }
}
