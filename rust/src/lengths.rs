//! Sequence lengths of a tokenized dataset: the kernels behind
//! `axolotl.utils.samplers.utils.get_dataset_lengths`.
//!
//! Axolotl materialises every row as a Python list to take `len(row)` or `row[-1] + 1`.
//! Here the same numbers come from the list offsets and one value per row.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::Array;
use arrow_schema::DataType;

use crate::column::{map_rows, ChunkedColumn, RowSelection};
use crate::error::KernelError;

/// Offsets of one list chunk, whatever its list flavour.
pub(crate) enum ListOffsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
    Fixed(&'a arrow_array::FixedSizeListArray),
}

impl ListOffsets<'_> {
    /// The half-open range of child values that row `r` covers.
    #[inline]
    pub(crate) fn range(&self, r: usize) -> (usize, usize) {
        match self {
            ListOffsets::Small(o) => (o[r] as usize, o[r + 1] as usize),
            ListOffsets::Large(o) => (o[r] as usize, o[r + 1] as usize),
            ListOffsets::Fixed(a) => {
                let start = a.value_offset_at(r);
                (start, start + a.value_length() as usize)
            }
        }
    }
}

pub(crate) fn list_offsets<'a>(
    array: &'a dyn Array,
    what: &str,
) -> Result<ListOffsets<'a>, KernelError> {
    match array.data_type() {
        DataType::List(_) => Ok(ListOffsets::Small(array.as_list::<i32>().value_offsets())),
        DataType::LargeList(_) => Ok(ListOffsets::Large(array.as_list::<i64>().value_offsets())),
        DataType::FixedSizeList(_, _) => Ok(ListOffsets::Fixed(array.as_fixed_size_list())),
        other => Err(KernelError::unsupported(format!(
            "{what} is of type {other}, not a list"
        ))),
    }
}

pub(crate) fn list_child(array: &dyn Array) -> &dyn Array {
    match array.data_type() {
        DataType::List(_) => array.as_list::<i32>().values().as_ref(),
        DataType::LargeList(_) => array.as_list::<i64>().values().as_ref(),
        DataType::FixedSizeList(_, _) => array.as_fixed_size_list().values().as_ref(),
        _ => unreachable!("list_offsets accepted only list types"),
    }
}

/// Integer values of one chunk, read as i128 so every Arrow integer type fits.
pub(crate) enum IntValues<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
}

impl IntValues<'_> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> i128 {
        match self {
            IntValues::I8(v) => v[i] as i128,
            IntValues::I16(v) => v[i] as i128,
            IntValues::I32(v) => v[i] as i128,
            IntValues::I64(v) => v[i] as i128,
            IntValues::U8(v) => v[i] as i128,
            IntValues::U16(v) => v[i] as i128,
            IntValues::U32(v) => v[i] as i128,
            IntValues::U64(v) => v[i] as i128,
        }
    }
}

pub(crate) fn int_values<'a>(
    array: &'a dyn Array,
    what: &str,
) -> Result<IntValues<'a>, KernelError> {
    Ok(match array.data_type() {
        DataType::Int8 => IntValues::I8(array.as_primitive::<Int8Type>().values()),
        DataType::Int16 => IntValues::I16(array.as_primitive::<Int16Type>().values()),
        DataType::Int32 => IntValues::I32(array.as_primitive::<Int32Type>().values()),
        DataType::Int64 => IntValues::I64(array.as_primitive::<Int64Type>().values()),
        DataType::UInt8 => IntValues::U8(array.as_primitive::<UInt8Type>().values()),
        DataType::UInt16 => IntValues::U16(array.as_primitive::<UInt16Type>().values()),
        DataType::UInt32 => IntValues::U32(array.as_primitive::<UInt32Type>().values()),
        DataType::UInt64 => IntValues::U64(array.as_primitive::<UInt64Type>().values()),
        other => {
            return Err(KernelError::unsupported(format!(
                "{what} holds {other} values, not integers"
            )))
        }
    })
}

/// Converts a Python-int result to the int64 that numpy would store, refusing values
/// numpy would store in another dtype.
#[inline]
fn to_i64(v: i128, what: &str) -> Result<i64, KernelError> {
    i64::try_from(v)
        .map_err(|_| KernelError::unsupported(format!("{what} value {v} does not fit in int64")))
}

fn null_row(what: &str) -> KernelError {
    KernelError::unsupported(format!("{what} has a null row"))
}

/// `len(row)` for every selected row of a list column.
pub fn list_lengths(
    column: &ChunkedColumn,
    selection: &RowSelection<'_>,
) -> Result<Vec<i64>, KernelError> {
    let what = "input_ids";
    let offsets = column
        .chunks()
        .iter()
        .map(|c| list_offsets(c.as_ref(), what))
        .collect::<Result<Vec<_>, _>>()?;
    let has_nulls = column.null_count() > 0;
    map_rows(column, selection, |ci, r| {
        if has_nulls && column.chunks()[ci].is_null(r) {
            return Err(null_row(what));
        }
        let (start, end) = offsets[ci].range(r);
        Ok((end - start) as i64)
    })
}

/// `row[-1] + 1` for every selected row of a list-of-integers column.
///
/// An empty row is `Unsupported`: Axolotl raises IndexError there, and the caller lets
/// Axolotl's own code raise it.
pub fn last_plus_one(
    column: &ChunkedColumn,
    selection: &RowSelection<'_>,
) -> Result<Vec<i64>, KernelError> {
    let what = "position_ids";
    let offsets = column
        .chunks()
        .iter()
        .map(|c| list_offsets(c.as_ref(), what))
        .collect::<Result<Vec<_>, _>>()?;
    let children: Vec<&dyn Array> = column
        .chunks()
        .iter()
        .map(|c| list_child(c.as_ref()))
        .collect();
    let values = children
        .iter()
        .map(|c| int_values(*c, what))
        .collect::<Result<Vec<_>, _>>()?;
    let row_nulls = column.null_count() > 0;
    let value_nulls = children.iter().any(|c| c.null_count() > 0);
    let empty_row = || KernelError::unsupported(format!("{what} has an empty row"));

    if matches!(selection, RowSelection::All) && !row_nulls && !value_nulls {
        // The common case, in two tight passes per chunk: where each row's last value
        // sits (sequential over the offsets), then one typed gather, which lets the CPU
        // keep many cache misses in flight instead of one per row.
        // Blocks bound the scratch space whatever the chunk size.
        const BLOCK: usize = 4096;
        let mut out = Vec::with_capacity(column.len());
        let mut last = Vec::with_capacity(BLOCK);
        for (ci, chunk) in column.chunks().iter().enumerate() {
            for block_start in (0..chunk.len()).step_by(BLOCK) {
                last.clear();
                for r in block_start..chunk.len().min(block_start + BLOCK) {
                    let (start, end) = offsets[ci].range(r);
                    if end == start {
                        return Err(empty_row());
                    }
                    last.push(end - 1);
                }
                gather_plus_one(&values[ci], &last, &mut out, what)?;
            }
        }
        return Ok(out);
    }

    map_rows(column, selection, |ci, r| {
        if row_nulls && column.chunks()[ci].is_null(r) {
            return Err(null_row(what));
        }
        let (start, end) = offsets[ci].range(r);
        if end == start {
            return Err(empty_row());
        }
        let last = end - 1;
        if value_nulls && children[ci].is_null(last) {
            return Err(KernelError::unsupported(format!(
                "{what} has a row whose last value is null"
            )));
        }
        to_i64(values[ci].get(last) + 1, what)
    })
}

/// Appends `values[i] + 1` for each `i` in `at`, refusing results outside int64.
fn gather_plus_one(
    values: &IntValues<'_>,
    at: &[usize],
    out: &mut Vec<i64>,
    what: &str,
) -> Result<(), KernelError> {
    fn typed<T: Copy + Into<i128>>(
        v: &[T],
        at: &[usize],
        out: &mut Vec<i64>,
        what: &str,
    ) -> Result<(), KernelError> {
        let base = out.len();
        out.extend(at.iter().map(|&i| {
            let x: i128 = v[i].into();
            (x + 1) as i64
        }));
        // Widening cannot overflow except at the very top of int64 / uint64: check after
        // the gather so the loop above stays branch-free.
        if let Some(pos) = at
            .iter()
            .position(|&i| i64::try_from(v[i].into() + 1).is_err())
        {
            out.truncate(base);
            return Err(KernelError::unsupported(format!(
                "{what} value {} does not fit in int64",
                v[at[pos]].into() + 1
            )));
        }
        Ok(())
    }
    match values {
        IntValues::I8(v) => typed(v, at, out, what),
        IntValues::I16(v) => typed(v, at, out, what),
        IntValues::I32(v) => typed(v, at, out, what),
        IntValues::I64(v) => {
            let base = out.len();
            out.extend(at.iter().map(|&i| v[i].wrapping_add(1)));
            if out[base..].contains(&i64::MIN) {
                return Err(KernelError::unsupported(format!(
                    "{what} value {} does not fit in int64",
                    i64::MAX as i128 + 1
                )));
            }
            Ok(())
        }
        IntValues::U8(v) => typed(v, at, out, what),
        IntValues::U16(v) => typed(v, at, out, what),
        IntValues::U32(v) => typed(v, at, out, what),
        IntValues::U64(v) => typed(v, at, out, what),
    }
}

/// The selected values of an integer column (Axolotl's precomputed `length`).
pub fn integer_values(
    column: &ChunkedColumn,
    selection: &RowSelection<'_>,
) -> Result<Vec<i64>, KernelError> {
    let what = "length";
    let values = column
        .chunks()
        .iter()
        .map(|c| int_values(c.as_ref(), what))
        .collect::<Result<Vec<_>, _>>()?;
    let has_nulls = column.null_count() > 0;
    map_rows(column, selection, |ci, r| {
        if has_nulls && column.chunks()[ci].is_null(r) {
            return Err(null_row(what));
        }
        to_i64(values[ci].get(r), what)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{ArrayRef, Int64Array, LargeListArray, ListArray, UInt64Array};
    use std::sync::Arc;

    fn list_i64(rows: &[Option<Vec<Option<i64>>>]) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            rows.to_vec(),
        ))
    }

    fn col(chunks: Vec<ArrayRef>) -> ChunkedColumn {
        ChunkedColumn::new(chunks).unwrap()
    }

    #[test]
    fn lengths_follow_offsets_across_chunks_and_slices() {
        let a = list_i64(&[
            Some(vec![Some(1), Some(2)]),
            Some(vec![]),
            Some(vec![Some(3)]),
        ]);
        let sliced = a.slice(1, 2);
        let c = col(vec![a, sliced]);
        assert_eq!(
            list_lengths(&c, &RowSelection::All).unwrap(),
            vec![2, 0, 1, 0, 1]
        );
        let ix = [4u64, 0];
        assert_eq!(
            list_lengths(&c, &RowSelection::Indices(&ix)).unwrap(),
            vec![1, 2]
        );
    }

    #[test]
    fn large_and_fixed_size_lists_are_measured() {
        let large = LargeListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1)]),
            Some(vec![Some(1), Some(2), Some(3)]),
        ]);
        let c = col(vec![Arc::new(large)]);
        assert_eq!(list_lengths(&c, &RowSelection::All).unwrap(), vec![1, 3]);
        let fixed = arrow_array::FixedSizeListArray::from_iter_primitive::<Int64Type, _, _>(
            vec![Some(vec![Some(1), Some(2)]), Some(vec![Some(3), Some(4)])],
            2,
        );
        let c = col(vec![Arc::new(fixed.slice(1, 1))]);
        assert_eq!(list_lengths(&c, &RowSelection::All).unwrap(), vec![2]);
        assert_eq!(last_plus_one(&c, &RowSelection::All).unwrap(), vec![5]);
    }

    #[test]
    fn a_null_row_is_unsupported_only_when_selected() {
        let a = list_i64(&[Some(vec![Some(1)]), None]);
        let c = col(vec![a]);
        assert!(matches!(
            list_lengths(&c, &RowSelection::All),
            Err(KernelError::Unsupported(_))
        ));
        let ix = [0u64];
        assert_eq!(
            list_lengths(&c, &RowSelection::Indices(&ix)).unwrap(),
            vec![1]
        );
    }

    #[test]
    fn last_plus_one_reads_the_last_value_of_each_row() {
        let a = list_i64(&[
            Some(vec![Some(0), Some(1), Some(2)]),
            Some(vec![Some(0), Some(1), Some(0), Some(1)]),
            Some(vec![Some(-5)]),
        ]);
        let c = col(vec![a]);
        assert_eq!(
            last_plus_one(&c, &RowSelection::All).unwrap(),
            vec![3, 2, -4]
        );
    }

    #[test]
    fn last_plus_one_refuses_empty_rows_null_values_and_overflow() {
        for rows in [
            vec![Some(vec![])],
            vec![Some(vec![Some(1), None])],
            vec![Some(vec![Some(i64::MAX)])],
        ] {
            let c = col(vec![list_i64(&rows)]);
            assert!(matches!(
                last_plus_one(&c, &RowSelection::All),
                Err(KernelError::Unsupported(_))
            ));
        }
    }

    #[test]
    fn int32_position_ids_are_widened() {
        let mut b = ListBuilder::new(Int32Builder::new());
        b.values().append_slice(&[0, 1, 7]);
        b.append(true);
        let c = col(vec![Arc::new(b.finish())]);
        assert_eq!(last_plus_one(&c, &RowSelection::All).unwrap(), vec![8]);
    }

    #[test]
    fn integer_values_refuse_floats_and_huge_unsigned() {
        let c = col(vec![Arc::new(Int64Array::from(vec![3, 4]))]);
        assert_eq!(integer_values(&c, &RowSelection::All).unwrap(), vec![3, 4]);
        let c = col(vec![Arc::new(UInt64Array::from(vec![u64::MAX]))]);
        assert!(integer_values(&c, &RowSelection::All).is_err());
        let c = col(vec![Arc::new(arrow_array::Float64Array::from(vec![1.0]))]);
        assert!(matches!(
            integer_values(&c, &RowSelection::All),
            Err(KernelError::Unsupported(_))
        ));
    }
}
