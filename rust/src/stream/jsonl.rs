//! JSON Lines. Like `datasets`' json builder, the file is read in chunks of
//! `CHUNK_BYTES` (its default `chunksize`) completed to the end of a line, and each chunk's
//! column types are inferred from that chunk alone; rows are then decoded `batch_size` at a
//! time, so at most one chunk and one batch are held.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::reader::{infer_json_schema, Decoder, ReaderBuilder};
use arrow_schema::SchemaRef;

use super::json_infer::infer_chunk_schema;
use super::{BatchSource, Result, StreamError};

/// `datasets.packaged_modules.json.JsonConfig.chunksize`.
pub const CHUNK_BYTES: usize = 10 << 20;

pub struct JsonlSource {
    path: PathBuf,
    input: BufReader<Box<dyn Read + Send>>,
    /// What a record is called in errors: "line" (JSON Lines) or "array element".
    unit: &'static str,
    batch_size: usize,
    chunk_bytes: usize,
    chunk: Vec<u8>,
    pos: usize,
    /// 1-based number of the chunk's first record, and of the first undecoded record of
    /// the batch being built (for error messages).
    chunk_first_line: usize,
    bytes_before_chunk: u64,
    schema: Option<SchemaRef>,
    decoder: Option<Decoder>,
    eof: bool,
    failed: bool,
}

impl JsonlSource {
    pub fn new(path: &Path, input: Box<dyn Read + Send>, batch_size: usize) -> JsonlSource {
        Self::with_unit(path, input, batch_size, "line", CHUNK_BYTES)
    }

    pub fn with_unit(
        path: &Path,
        input: Box<dyn Read + Send>,
        batch_size: usize,
        unit: &'static str,
        chunk_bytes: usize,
    ) -> JsonlSource {
        JsonlSource {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(256 * 1024, input),
            unit,
            batch_size,
            chunk_bytes,
            chunk: Vec::new(),
            pos: 0,
            chunk_first_line: 1,
            bytes_before_chunk: 0,
            schema: None,
            decoder: None,
            eof: false,
            failed: false,
        }
    }

    /// Reads the next chunk; false at the end of the input.
    fn fill_chunk(&mut self) -> Result<bool> {
        self.chunk_first_line += count_newlines(&self.chunk);
        self.bytes_before_chunk += self.chunk.len() as u64;
        self.chunk.clear();
        self.pos = 0;
        if self.eof {
            return Ok(false);
        }
        let want = self.chunk_bytes;
        self.chunk.reserve(want);
        let mut limited = (&mut self.input).take(want as u64);
        limited
            .read_to_end(&mut self.chunk)
            .map_err(|e| StreamError::io(&self.path, &e))?;
        if self.chunk.len() < want {
            self.eof = true;
        } else {
            // Finish the current line, as `datasets` does with `f.readline()`.
            let n = self
                .input
                .read_until(b'\n', &mut self.chunk)
                .map_err(|e| StreamError::io(&self.path, &e))?;
            if n == 0 {
                self.eof = true;
            }
        }
        fix_surrogate_escapes(&mut self.chunk);
        Ok(!self.chunk.is_empty())
    }

    fn infer_chunk(&self) -> Result<SchemaRef> {
        if let Some(schema) = infer_chunk_schema(&self.chunk) {
            return Ok(Arc::new(schema));
        }
        // Invalid or conflicting input: arrow-json's own inference names the failure.
        match infer_json_schema(std::io::Cursor::new(&self.chunk), None) {
            Ok((schema, _)) => Ok(Arc::new(schema)),
            Err(e) => Err(self.locate(&format!("{e}"))),
        }
    }

    /// The error for a chunk that failed to infer or decode: finds the first record of the
    /// chunk that is not valid JSON, or does not fit the chunk's column types, and names it.
    fn locate(&self, fallback: &str) -> StreamError {
        let mut line_no = self.chunk_first_line;
        let mut offset = self.bytes_before_chunk;
        for line in self.chunk.split_inclusive(|&b| b == b'\n') {
            let text = line.trim_ascii();
            if !text.is_empty() {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(text) {
                    return StreamError::data(
                        &self.path,
                        format!(
                            "{} {line_no} (byte offset {offset}): invalid JSON: {e}",
                            self.unit
                        ),
                    );
                }
                if let Some(schema) = &self.schema {
                    if let Err(e) = decode_one(schema, text) {
                        return StreamError::data(
                            &self.path,
                            format!(
                                "{} {line_no} (byte offset {offset}): value does not fit the \
                                 column types inferred for its chunk: {e}",
                                self.unit
                            ),
                        );
                    }
                }
            }
            line_no += 1;
            offset += line.len() as u64;
        }
        StreamError::data(
            &self.path,
            format!(
                "{}s {}-{} (byte offset {}): {fallback}",
                self.unit, self.chunk_first_line, line_no, self.bytes_before_chunk
            ),
        )
    }

    fn step(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.pos >= self.chunk.len() {
                // A chunk with other column types starts a new batch, as in `datasets`
                // where each chunk is its own table.
                let had = self.fill_chunk()?;
                if !had {
                    return self.flush();
                }
                let schema = self.infer_chunk()?;
                if self.schema.as_ref() != Some(&schema) {
                    let done = self.flush()?;
                    self.schema = Some(schema.clone());
                    self.decoder = Some(
                        ReaderBuilder::new(schema)
                            .with_batch_size(self.batch_size)
                            .with_strict_mode(true)
                            .build_decoder()
                            .map_err(|e| StreamError::data(&self.path, e))?,
                    );
                    if let Some(b) = done {
                        return Ok(Some(b));
                    }
                }
            }
            let decoder = self.decoder.as_mut().expect("a chunk sets the decoder");
            let consumed = match decoder.decode(&self.chunk[self.pos..]) {
                Ok(n) => n,
                Err(e) => return Err(self.locate(&e.to_string())),
            };
            self.pos += consumed;
            let decoder = self.decoder.as_mut().expect("a chunk sets the decoder");
            if decoder.len() >= self.batch_size {
                return self.flush();
            }
        }
    }

    fn flush(&mut self) -> Result<Option<RecordBatch>> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(None);
        };
        match decoder.flush() {
            Ok(b) => Ok(b),
            Err(e) => {
                // The chunk is fully consumed or mid-way; either way name its first bad record.
                Err(self.locate(&e.to_string()))
            }
        }
    }
}

fn decode_one(schema: &SchemaRef, text: &[u8]) -> std::result::Result<(), String> {
    let mut d = ReaderBuilder::new(schema.clone())
        .with_strict_mode(true)
        .build_decoder()
        .map_err(|e| e.to_string())?;
    d.decode(text).map_err(|e| e.to_string())?;
    d.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// Replaces each `\\uD8xx\\uDCxx` escape (a character outside the Basic Multilingual Plane,
/// as Python's `json.dumps` writes it) by the character's UTF-8 bytes. arrow-json 60's
/// decoder combines such pairs with `|` instead of `+` (`char_from_surrogate_pair`), which
/// silently turns U+20000 into U+10000; after this rewrite it never sees a pair.
pub fn fix_surrogate_escapes(buf: &mut Vec<u8>) {
    fn hex4(b: &[u8]) -> Option<u32> {
        if b.len() < 4 {
            return None;
        }
        let s = std::str::from_utf8(&b[..4]).ok()?;
        u32::from_str_radix(s, 16).ok()
    }
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    // Jump from backslash to backslash (text with many escaped quotes or newlines is common).
    while let Some(at) = memchr::memchr(b'\\', &buf[i.min(buf.len())..]) {
        i += at;
        if buf.get(i + 1) == Some(&b'u') {
            if let Some(high @ 0xD800..=0xDBFF) = hex4(&buf[i + 2..]) {
                if buf.get(i + 6) == Some(&b'\\') && buf.get(i + 7) == Some(&b'u') {
                    if let Some(low @ 0xDC00..=0xDFFF) = hex4(&buf[i + 8..]) {
                        let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        if let Some(ch) = char::from_u32(c) {
                            let o = out.get_or_insert_with(|| Vec::with_capacity(buf.len()));
                            o.extend_from_slice(&buf[copied..i]);
                            let mut t = [0u8; 4];
                            o.extend_from_slice(ch.encode_utf8(&mut t).as_bytes());
                            i += 12;
                            copied = i;
                            continue;
                        }
                    }
                }
            }
        }
        // Any other escape: skip the backslash and the escaped byte (`\\\\` included).
        i += 2;
    }
    if let Some(mut o) = out {
        o.extend_from_slice(&buf[copied.min(buf.len())..]);
        *buf = o;
    }
}

fn count_newlines(buf: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', buf).count()
}

impl BatchSource for JsonlSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.failed {
            return None;
        }
        loop {
            match self.step() {
                Ok(Some(b)) if b.num_rows() == 0 => continue,
                Ok(Some(b)) => return Some(Ok(b)),
                Ok(None) => {
                    if self.eof && self.pos >= self.chunk.len() {
                        return None;
                    }
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fix_surrogate_escapes;

    #[test]
    fn surrogate_pair_escapes_become_utf8_and_other_escapes_stay() {
        let mut b = br#"{"a": "\ud840\udc00 \\ud840\udc00 \u00e9 \ud83d\ude00"}"#.to_vec();
        fix_surrogate_escapes(&mut b);
        let s = String::from_utf8(b).unwrap();
        assert_eq!(
            s,
            "{\"a\": \"\u{20000} \\\\ud840\\udc00 \\u00e9 \u{1F600}\"}"
        );
    }
}
