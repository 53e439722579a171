//! Parquet: row groups are decoded one at a time, `batch_size` rows per batch.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::compress::Input;
use super::{BatchSource, Result, StreamError};

pub struct ParquetSource {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    rows: usize,
}

impl ParquetSource {
    pub fn open(path: &Path, input: Input, batch_size: usize) -> Result<ParquetSource> {
        let file = input.into_file(path)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(batch_size).build())
            .map_err(|e| StreamError::data(path, format!("not a readable parquet file: {e}")))?;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            reader,
            rows: 0,
        })
    }
}

impl BatchSource for ParquetSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        match self.reader.next()? {
            Ok(b) => {
                self.rows += b.num_rows();
                Some(Ok(b))
            }
            Err(e) => Some(Err(StreamError::data(
                &self.path,
                format!("corrupt parquet data after row {}: {e}", self.rows),
            ))),
        }
    }
}
