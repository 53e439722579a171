//! Row access to a chunked Arrow column, the shape `datasets` keeps its data in.
//!
//! A `datasets.Dataset` is a table of many record batches (1000 rows each when written
//! by `datasets`), optionally viewed through an indices mapping after `select`,
//! `filter` or `shuffle`. The kernels work on logical rows: `ChunkedColumn` maps a row
//! number to (chunk, row in chunk), and `RowSelection` is either every row in order or
//! an explicit list of row numbers (the indices mapping).

use arrow_array::{Array, ArrayRef};

use crate::error::KernelError;

/// A column as a sequence of Arrow arrays of one data type.
pub struct ChunkedColumn {
    chunks: Vec<ArrayRef>,
    /// `starts[i]` is the logical row number of the first row of `chunks[i]`;
    /// the last element is the total number of rows.
    starts: Vec<usize>,
}

impl ChunkedColumn {
    pub fn new(chunks: Vec<ArrayRef>) -> Result<Self, KernelError> {
        if let Some(first) = chunks.first() {
            let dt = first.data_type();
            if let Some(other) = chunks.iter().find(|c| c.data_type() != dt) {
                return Err(KernelError::invalid(format!(
                    "column chunks disagree on their type: {dt} and {}",
                    other.data_type()
                )));
            }
        }
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        let mut total = 0usize;
        for c in &chunks {
            starts.push(total);
            total += c.len();
        }
        starts.push(total);
        Ok(Self { chunks, starts })
    }

    pub fn len(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn chunks(&self) -> &[ArrayRef] {
        &self.chunks
    }

    pub fn null_count(&self) -> usize {
        self.chunks.iter().map(|c| c.null_count()).sum()
    }

    /// (chunk index, row within chunk) of a logical row; `row` must be `< len()`.
    pub fn locate(&self, row: usize) -> (usize, usize) {
        // partition_point gives the first chunk whose start is > row.
        let chunk = self.starts.partition_point(|&s| s <= row) - 1;
        (chunk, row - self.starts[chunk])
    }
}

/// Which logical rows of a column a dataset shows, in which order.
pub enum RowSelection<'a> {
    All,
    Indices(&'a [u64]),
}

impl RowSelection<'_> {
    pub fn len(&self, column_len: usize) -> usize {
        match self {
            RowSelection::All => column_len,
            RowSelection::Indices(ix) => ix.len(),
        }
    }

    /// Checks every index against the column length before any kernel reads a row.
    pub fn validate(&self, column_len: usize) -> Result<(), KernelError> {
        if let RowSelection::Indices(ix) = self {
            if let Some((pos, &bad)) = ix.iter().enumerate().find(|(_, &i)| i >= column_len as u64)
            {
                return Err(KernelError::invalid(format!(
                    "indices mapping entry {pos} is {bad}, but the table has only {column_len} rows"
                )));
            }
        }
        Ok(())
    }
}

/// Applies `per_chunk_row(chunk, row_in_chunk)` to every selected row, in order.
///
/// Without an indices mapping the chunks are walked sequentially (no search per row).
pub fn map_rows<T, F>(
    column: &ChunkedColumn,
    selection: &RowSelection<'_>,
    mut per_row: F,
) -> Result<Vec<T>, KernelError>
where
    F: FnMut(usize, usize) -> Result<T, KernelError>,
{
    selection.validate(column.len())?;
    let mut out = Vec::with_capacity(selection.len(column.len()));
    match selection {
        RowSelection::All => {
            for (ci, chunk) in column.chunks().iter().enumerate() {
                for r in 0..chunk.len() {
                    out.push(per_row(ci, r)?);
                }
            }
        }
        RowSelection::Indices(ix) => {
            for &i in ix.iter() {
                let (ci, r) = column.locate(i as usize);
                out.push(per_row(ci, r)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use std::sync::Arc;

    fn col(parts: &[&[i64]]) -> ChunkedColumn {
        ChunkedColumn::new(
            parts
                .iter()
                .map(|p| Arc::new(Int64Array::from(p.to_vec())) as ArrayRef)
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn locate_maps_rows_across_chunks_including_empty_ones() {
        let c = col(&[&[1, 2], &[], &[3, 4, 5]]);
        assert_eq!(c.len(), 5);
        assert_eq!(c.locate(0), (0, 0));
        assert_eq!(c.locate(1), (0, 1));
        assert_eq!(c.locate(2), (2, 0));
        assert_eq!(c.locate(4), (2, 2));
    }

    #[test]
    fn out_of_range_index_is_an_error_not_a_panic() {
        let c = col(&[&[1, 2]]);
        let ix = [0u64, 2];
        let err = map_rows(&c, &RowSelection::Indices(&ix), |_, r| Ok(r)).unwrap_err();
        assert!(err.to_string().contains("entry 1 is 2"), "{err}");
    }

    #[test]
    fn selection_order_is_kept() {
        let c = col(&[&[10, 11], &[12]]);
        let ix = [2u64, 0, 2, 1];
        let rows = map_rows(&c, &RowSelection::Indices(&ix), |ci, r| Ok((ci, r))).unwrap();
        assert_eq!(rows, vec![(1, 0), (0, 0), (1, 0), (0, 1)]);
    }
}
