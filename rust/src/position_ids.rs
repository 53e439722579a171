//! Position ids of unpacked rows: the kernel behind Axolotl's `add_position_ids`.
//!
//! Axolotl builds `list(range(len(row)))` for every row as Python ints. Here the lengths
//! come from the list offsets and the ranges are written straight into one Arrow-shaped
//! buffer (offsets + values) of a `list<int64>` column.

use crate::column::{ChunkedColumn, RowSelection};
use crate::error::KernelError;
use crate::lengths::list_lengths;

/// List offsets, values and row lengths.
pub type PositionIds = (Vec<i32>, Vec<i64>, Vec<i64>);

/// `position_ids` as list offsets (int32, the offsets of Arrow's `list`) and the
/// concatenated `range(len(row))` values, plus each row's length.
pub fn position_ids(column: &ChunkedColumn) -> Result<PositionIds, KernelError> {
    let lengths = list_lengths(column, &RowSelection::All)?;
    let total: i64 = lengths.iter().sum();
    if total > i32::MAX as i64 {
        return Err(KernelError::unsupported(format!(
            "{total} position ids do not fit in one Arrow list array"
        )));
    }
    let mut offsets = Vec::with_capacity(lengths.len() + 1);
    let mut values = Vec::with_capacity(total as usize);
    offsets.push(0i32);
    for &len in &lengths {
        values.extend(0..len);
        offsets.push(values.len() as i32);
    }
    Ok((offsets, values, lengths))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, ListArray};
    use std::sync::Arc;

    #[test]
    fn ranges_follow_row_lengths_including_empty_rows() {
        let a: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(7), Some(7), Some(7)]),
            Some(vec![]),
            Some(vec![Some(1)]),
        ]));
        let c = ChunkedColumn::new(vec![a.clone(), a.slice(2, 1)]).unwrap();
        let (offsets, values, lengths) = position_ids(&c).unwrap();
        assert_eq!(offsets, vec![0, 3, 3, 4, 5]);
        assert_eq!(values, vec![0, 1, 2, 0, 0]);
        assert_eq!(lengths, vec![3, 0, 1, 1]);
    }
}
