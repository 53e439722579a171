//! Re-cuts a file's own record batches (Arrow IPC files keep the writer's batch sizes)
//! into batches of exactly `batch_size` rows, the last one shorter. Slices are views; rows
//! are copied only where a batch is stitched from two of the file's batches.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::Result;

pub struct Rebatcher<I> {
    inner: I,
    batch_size: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    done: bool,
}

impl<I: Iterator<Item = Result<RecordBatch>>> Rebatcher<I> {
    pub fn new(inner: I, batch_size: usize) -> Self {
        Rebatcher {
            inner,
            batch_size,
            pending: Vec::new(),
            pending_rows: 0,
            done: false,
        }
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for Rebatcher<I> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        while !self.done && self.pending_rows < self.batch_size {
            match self.inner.next() {
                Some(Ok(b)) => {
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
            return None;
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
