//! CSV. `datasets`' csv builder reads with pandas (`read_csv`, 10,000-row chunks, default
//! NA strings, no date parsing); here the column types are inferred from the first
//! 10,000 rows with the same rules as far as they can be reproduced: pandas' NA strings are
//! nulls, dates stay strings, and an integer column with a missing value is a float column.
//! Later rows must fit those types; a value that does not is an error naming its line.

use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_csv::reader::{BufReader as CsvReader, Format, ReaderBuilder};
use arrow_schema::{DataType, Field, Schema};

use super::compress::Input;
use super::{BatchSource, Result, StreamError};

/// `datasets.packaged_modules.csv.CsvConfig.chunksize`: pandas infers types per chunk.
pub const INFER_ROWS: usize = 10_000;
/// The prefix read for inference stops here even if it holds fewer rows.
const INFER_MAX_BYTES: usize = 64 << 20;

/// pandas' default `na_values` (`pandas._libs.parsers.STR_NA_VALUES`), matched whole.
const PANDAS_NA: &str = r"^(|#N/A|#N/A N/A|#NA|-1\.#IND|-1\.#QNAN|-NaN|-nan|1\.#IND|1\.#QNAN|<NA>|N/A|NA|NULL|NaN|None|n/a|nan|null)$";

type Chained = std::io::Chain<Cursor<Vec<u8>>, BufReader<Box<dyn Read + Send>>>;

pub struct CsvSource {
    path: PathBuf,
    reader: CsvReader<BufReader<Chained>>,
    failed: bool,
}

fn format() -> Format {
    Format::default()
        .with_header(true)
        .with_null_regex(regex::Regex::new(PANDAS_NA).expect("valid regex"))
        // pandas fills missing trailing fields with NaN.
        .with_truncated_rows(true)
}

impl CsvSource {
    pub fn open(path: &Path, input: Input, batch_size: usize) -> Result<CsvSource> {
        let mut input = BufReader::with_capacity(256 * 1024, input.into_read());
        let mut prefix = Vec::new();
        let mut lines = 0usize;
        while lines <= INFER_ROWS && prefix.len() < INFER_MAX_BYTES {
            let n = input
                .read_until(b'\n', &mut prefix)
                .map_err(|e| StreamError::io(path, &e))?;
            if n == 0 {
                break;
            }
            lines += 1;
        }
        if prefix.starts_with(b"\xef\xbb\xbf") {
            // pandas drops a UTF-8 byte-order mark before the header.
            prefix.drain(..3);
        }
        if prefix.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(StreamError::data(
                path,
                "line 1: empty CSV file (no header)",
            ));
        }
        let (schema, _) = format()
            .infer_schema(Cursor::new(&prefix), Some(INFER_ROWS))
            .map_err(|e| StreamError::data(path, format!("cannot infer column types: {e}")))?;
        let mut schema = pandas_types(schema);
        // pandas holds an integer column with a missing value as float64 (NaN).
        let probe = ReaderBuilder::new(Arc::new(schema.clone()))
            .with_format(format())
            .with_batch_size(INFER_ROWS)
            .build(Cursor::new(&prefix))
            .map_err(|e| StreamError::data(path, e))?
            .next()
            .transpose()
            .map_err(|e| StreamError::data(path, csv_position(&e.to_string())))?;
        if let Some(probe) = probe {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if f.data_type() == &DataType::Int64 && probe.column(i).null_count() > 0 {
                        Field::new(f.name(), DataType::Float64, true)
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect();
            schema = Schema::new(fields);
        }
        let chained = Cursor::new(prefix).chain(input);
        let reader = ReaderBuilder::new(Arc::new(schema))
            .with_format(format())
            .with_batch_size(batch_size)
            .build_buffered(BufReader::with_capacity(256 * 1024, chained))
            .map_err(|e| StreamError::data(path, e))?;
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            failed: false,
        })
    }
}

/// pandas reads dates and times as strings unless asked to parse them.
fn pandas_types(schema: Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Null => Field::new(f.name(), DataType::Utf8, true),
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new(fields)
}

fn csv_position(msg: &str) -> String {
    msg.to_string()
}

impl BatchSource for CsvSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.failed {
            return None;
        }
        match self.reader.next()? {
            Ok(b) => Some(Ok(b)),
            Err(e) => {
                self.failed = true;
                Some(Err(StreamError::data(
                    &self.path,
                    csv_position(&e.to_string()),
                )))
            }
        }
    }
}
