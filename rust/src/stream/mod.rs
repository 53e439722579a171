//! A lazy reader of dataset files: one file per format, every one yielding Arrow record
//! batches of at most `batch_size` rows while holding a bounded amount of the file.
//!
//! The rows, their order and the column order follow `datasets.load_dataset(<builder>,
//! data_files=..., streaming=True)`; where type inference differs that is listed in
//! docs/compatibility.md. Nothing here knows about Python (`cargo test` covers it).

pub mod compress;
pub mod csv;
pub mod dataset_dir;
pub mod ipc;
pub mod json;
pub mod json_infer;
pub mod jsonl;
pub mod parquet;
pub mod rebatch;
pub mod text;

use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

pub use compress::Compression;

/// The file formats of `datasets`' packaged builders that the reader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Parquet,
    /// Arrow IPC, file or stream layout (told apart by the file's magic bytes).
    Arrow,
    Feather,
    Csv,
    Json,
    Jsonl,
    Text,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Parquet,
        Format::Arrow,
        Format::Feather,
        Format::Csv,
        Format::Json,
        Format::Jsonl,
        Format::Text,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
            Format::Feather => "feather",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Text => "text",
        }
    }

    /// Accepts the names of 0.2.0's `dataset_type` and of `datasets`' builders.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Format::Parquet,
            "arrow" | "ipc" => Format::Arrow,
            "feather" => Format::Feather,
            "csv" | "tsv" => Format::Csv,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "text" | "txt" => Format::Text,
            _ => return None,
        })
    }

    fn from_extension(ext: &str) -> Option<Format> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Format::Parquet,
            "arrow" | "ipc" => Format::Arrow,
            "feather" => Format::Feather,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "txt" | "text" => Format::Text,
            _ => return None,
        })
    }
}

/// An error of the reader. `Io` is a file that cannot be opened or read; `Data` is content
/// that is not valid for its format; both messages name the file and, for data, the line
/// or byte offset.
#[derive(Debug)]
pub enum StreamError {
    NotFound(String),
    Io(String),
    Data(String),
    Usage(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::NotFound(m)
            | StreamError::Io(m)
            | StreamError::Data(m)
            | StreamError::Usage(m) => f.write_str(m),
        }
    }
}

impl StreamError {
    pub fn io(path: &Path, err: &std::io::Error) -> StreamError {
        let msg = format!("{}: {}", path.display(), err);
        if err.kind() == std::io::ErrorKind::NotFound {
            StreamError::NotFound(msg)
        } else if err.kind() == std::io::ErrorKind::InvalidData
            || err.kind() == std::io::ErrorKind::UnexpectedEof
        {
            // Decompressors report corrupt input as InvalidData / UnexpectedEof.
            StreamError::Data(msg)
        } else {
            StreamError::Io(msg)
        }
    }

    pub fn data(path: &Path, msg: impl fmt::Display) -> StreamError {
        StreamError::Data(format!("{}: {}", path.display(), msg))
    }
}

pub type Result<T> = std::result::Result<T, StreamError>;

/// What one opened file yields.
pub trait BatchSource: Send {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>>;
}

/// Base format and compression of a path, from its extensions (`data.jsonl.zst`), the way
/// 0.2.0's `detect_format` names them. A directory is `hf_dataset`.
pub fn detect_format(path: &Path) -> (String, Option<Compression>) {
    if path.is_dir() {
        return ("hf_dataset".to_string(), None);
    }
    let (fmt, comp) = detect_by_name(path);
    let fmt = fmt.map(Format::name).unwrap_or("unknown");
    (fmt.to_string(), comp)
}

fn detect_by_name(path: &Path) -> (Option<Format>, Option<Compression>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts: Vec<&str> = name.split('.').skip(1).collect();
    let mut comp = None;
    if let Some(last) = parts.last() {
        if let Some(c) = Compression::from_extension(last) {
            comp = Some(c);
            parts.pop();
        }
    }
    let fmt = parts.last().and_then(|e| Format::from_extension(e));
    (fmt, comp)
}

/// Every format name `list_supported_formats` reports: base formats, each compressed
/// variant, and `hf_dataset` (a `save_to_disk` directory).
pub fn supported_formats() -> Vec<String> {
    let mut out: Vec<String> = Format::ALL.iter().map(|f| f.name().to_string()).collect();
    for f in Format::ALL {
        for c in Compression::ALL {
            out.push(format!("{}.{}", f.name(), c.extension()));
        }
    }
    out.push("hf_dataset".to_string());
    out
}

/// Options of one read.
#[derive(Clone, Debug)]
pub struct Options {
    pub format: Option<Format>,
    pub batch_size: usize,
    /// `save_to_disk` DatasetDict: which split to read (default "train").
    pub split: Option<String>,
}

/// The files a path names: a file, a directory of data files (sorted, as `datasets`
/// resolves `data_files`), a `save_to_disk` directory, or a glob pattern.
pub fn resolve(path: &str, opts: &Options) -> Result<Vec<(PathBuf, Option<Format>)>> {
    let p = Path::new(path);
    if p.is_dir() {
        if let Some(files) = dataset_dir::arrow_files(p, opts.split.as_deref())? {
            return Ok(files
                .into_iter()
                .map(|f| (f, Some(Format::Arrow)))
                .collect());
        }
        let mut files = Vec::new();
        collect_dir(p, &mut files)?;
        files.sort();
        let files: Vec<_> = files
            .into_iter()
            .filter(|f| opts.format.is_some() || detect_by_name(f).0.is_some())
            .map(|f| (f, opts.format))
            .collect();
        if files.is_empty() {
            return Err(StreamError::NotFound(format!(
                "{path}: directory holds no data file of a supported format"
            )));
        }
        return Ok(files);
    }
    if p.exists() {
        return Ok(vec![(p.to_path_buf(), opts.format)]);
    }
    if path.contains(['*', '?', '[']) {
        // `*` does not match a leading dot: hidden files are skipped as `datasets` does.
        let options = glob::MatchOptions {
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        let entries = glob::glob_with(path, options)
            .map_err(|e| StreamError::Usage(format!("{path}: invalid glob pattern: {e}")))?;
        let mut files = Vec::new();
        for e in entries {
            let f = e.map_err(|e| StreamError::io(e.path(), e.error()))?;
            if f.is_file() {
                files.push(f);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(StreamError::NotFound(format!("{path}: no file matches")));
        }
        return Ok(files.into_iter().map(|f| (f, opts.format)).collect());
    }
    Err(StreamError::NotFound(format!(
        "{path}: no such file or directory"
    )))
}

fn decoder_panic(path: &Path, panic: Box<dyn std::any::Any + Send>) -> StreamError {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    StreamError::data(
        path,
        format!("corrupt or truncated data (the decoder failed: {msg})"),
    )
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| StreamError::io(dir, &e))?;
    for entry in rd {
        let entry = entry.map_err(|e| StreamError::io(dir, &e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // `datasets` skips hidden files and folders, and special folders (`__pycache__`).
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            if name.starts_with("__") {
                continue;
            }
            collect_dir(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Opens one file as a batch source.
pub fn open(
    path: &Path,
    format: Option<Format>,
    batch_size: usize,
) -> Result<Box<dyn BatchSource>> {
    let (by_name, comp_by_name) = detect_by_name(path);
    let (input, comp) = compress::open(path, comp_by_name)?;
    let format = match format.or(by_name) {
        Some(f) => f,
        None => {
            return Err(StreamError::Usage(format!(
                "{}: cannot tell the format from the file name; pass dataset_type \
                 (one of parquet, arrow, feather, csv, json, jsonl, text)",
                path.display()
            )))
        }
    };
    let _ = comp;
    // arrow-json's and arrow-csv's decoders reserve memory for `batch_size` rows up front
    // (about 32 bytes per row and column): a huge batch_size would abort the process on
    // that allocation. They decode at most MAX_DECODER_ROWS rows at a time, re-cut here.
    let decoder_rows = batch_size.min(MAX_DECODER_ROWS);
    let source: Box<dyn BatchSource> = match format {
        Format::Parquet => Box::new(parquet::ParquetSource::open(path, input, batch_size)?),
        Format::Arrow | Format::Feather => Box::new(ipc::open(path, input, batch_size)?),
        Format::Csv => Box::new(csv::CsvSource::open(path, input, decoder_rows)?),
        Format::Json => Box::new(json::open(path, input, decoder_rows)?),
        Format::Jsonl => Box::new(jsonl::JsonlSource::new(
            path,
            input.into_read(),
            decoder_rows,
        )),
        Format::Text => Box::new(text::TextSource::new(path, input, batch_size)),
    };
    if decoder_rows == batch_size {
        return Ok(source);
    }
    Ok(Box::new(Recut(rebatch::Rebatcher::new(
        SourceIter(source),
        batch_size,
    ))))
}

/// Rows per decode of the JSON and CSV decoders (see `open`).
pub const MAX_DECODER_ROWS: usize = 1 << 16;

struct SourceIter(Box<dyn BatchSource>);

impl Iterator for SourceIter {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_batch()
    }
}

struct Recut(rebatch::Rebatcher<SourceIter>);

impl BatchSource for Recut {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        self.0.next()
    }
}

/// The whole read: the files of `path` one after the other, each opened only when the
/// previous one is exhausted.
pub struct StreamReader {
    files: VecDeque<(PathBuf, Option<Format>)>,
    current_path: PathBuf,
    batch_size: usize,
    current: Option<Box<dyn BatchSource>>,
    failed: bool,
}

impl StreamReader {
    pub fn new(path: &str, opts: Options) -> Result<StreamReader> {
        if opts.batch_size == 0 {
            return Err(StreamError::Usage(
                "batch_size must be at least 1, got 0".into(),
            ));
        }
        let files = resolve(path, &opts)?;
        let mut reader = StreamReader {
            files: files.into(),
            batch_size: opts.batch_size,
            current: None,
            current_path: PathBuf::new(),
            failed: false,
        };
        // Open the first file now so that a missing or unreadable file fails at the call.
        reader.open_next()?;
        Ok(reader)
    }

    fn open_next(&mut self) -> Result<bool> {
        match self.files.pop_front() {
            Some((path, fmt)) => {
                self.current_path = path.clone();
                let opened = catch_unwind(AssertUnwindSafe(|| open(&path, fmt, self.batch_size)))
                    .unwrap_or_else(|panic| Err(decoder_panic(&path, panic)));
                self.current = Some(opened?);
                Ok(true)
            }
            None => {
                self.current = None;
                Ok(false)
            }
        }
    }
}

impl Iterator for StreamReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let source = self.current.as_mut()?;
            // A decoder that panics on corrupt input (arrow-ipc does on some bad offsets)
            // is reported as bad input of this file; the source is dropped, never reused.
            let next = catch_unwind(AssertUnwindSafe(|| source.next_batch()))
                .unwrap_or_else(|panic| Some(Err(decoder_panic(&self.current_path, panic))));
            match next {
                Some(Ok(b)) if b.num_rows() == 0 => continue,
                Some(Ok(b)) => return Some(Ok(b)),
                Some(Err(e)) => {
                    self.failed = true;
                    self.current = None;
                    return Some(Err(e));
                }
                None => match self.open_next() {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                },
            }
        }
    }
}
