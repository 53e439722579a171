//! Re-cuts a file's own record batches (Arrow IPC files keep the writer's batch sizes)
//! into batches of exactly `batch_size` rows, the last one shorter. Slices are views; rows
//! are copied only where a batch is stitched from two of the file's batches. A batch whose
//! schema differs from the one before it starts a new batch (JSON chunks of other column
//! types), so the one before it may be shorter too.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::Result;

pub struct Rebatcher<I> {
    inner: I,
    batch_size: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    /// A batch of another schema than `pending`'s, for the next call.
    held: Option<RecordBatch>,
    done: bool,
}

impl<I: Iterator<Item = Result<RecordBatch>>> Rebatcher<I> {
    pub fn new(inner: I, batch_size: usize) -> Self {
        Rebatcher {
            inner,
            batch_size,
            pending: Vec::new(),
            pending_rows: 0,
            held: None,
            done: false,
        }
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for Rebatcher<I> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.pending_rows == 0 {
            if let Some(b) = self.held.take() {
                self.pending_rows = b.num_rows();
                self.pending.push(b);
            }
        }
        while !self.done && self.pending_rows < self.batch_size {
            match self.inner.next() {
                Some(Ok(b)) => {
                    if self
                        .pending
                        .first()
                        .is_some_and(|p| p.schema() != b.schema())
                    {
                        self.held = Some(b);
                        break;
                    }
                    if b.num_rows() > 0 {
                        self.pending_rows += b.num_rows();
                        self.pending.push(b);
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    self.pending.clear();
                    return Some(Err(e));
                }
                None => self.done = true,
            }
        }
        if self.pending_rows == 0 {
            return self.held.take().map(Ok);
        }
        let take = self.batch_size.min(self.pending_rows);
        let schema: SchemaRef = self.pending[0].schema();
        let mut parts = Vec::new();
        let mut need = take;
        while need > 0 {
            let first = &self.pending[0];
            if first.num_rows() <= need {
                need -= first.num_rows();
                parts.push(self.pending.remove(0));
            } else {
                parts.push(first.slice(0, need));
                let rest = first.slice(need, first.num_rows() - need);
                self.pending[0] = rest;
                need = 0;
            }
        }
        self.pending_rows -= take;
        if parts.len() == 1 {
            return parts.pop().map(Ok);
        }
        Some(
            arrow_select::concat::concat_batches(&schema, &parts)
                .map_err(|e| super::StreamError::Data(format!("cannot join record batches: {e}"))),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};

    use super::Rebatcher;

    fn ints(n: i64) -> RecordBatch {
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
        RecordBatch::try_from_iter([("a", a)]).unwrap()
    }

    fn floats(n: usize) -> RecordBatch {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![0.5; n]));
        RecordBatch::try_from_iter([("a", a)]).unwrap()
    }

    #[test]
    fn batches_are_stitched_to_batch_size_and_cut_where_the_schema_changes() {
        let input = vec![ints(2), ints(3), floats(2), floats(4), floats(1), ints(1)];
        let out: Vec<RecordBatch> = Rebatcher::new(input.into_iter().map(Ok), 4)
            .map(|b| b.unwrap())
            .collect();
        let shape: Vec<(usize, String)> = out
            .iter()
            .map(|b| (b.num_rows(), b.schema().field(0).data_type().to_string()))
            .collect();
        let expected = [
            (4, "Int64"),
            (1, "Int64"),
            (4, "Float64"),
            (3, "Float64"),
            (1, "Int64"),
        ];
        let expected: Vec<(usize, String)> =
            expected.iter().map(|(n, t)| (*n, t.to_string())).collect();
        assert_eq!(shape, expected);
    }
}
