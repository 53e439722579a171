//! Plain text: one `{"text": line}` row per line, as `datasets`' text builder: the file is
//! decoded as UTF-8 with universal newlines (`\r\n`, `\r` and `\n` end a line; no other
//! character does, since it splits with `StringIO.readlines`), line breaks dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::compress::Input;
use super::{BatchSource, Result, StreamError};

const BLOCK_BYTES: usize = 1 << 20;

pub struct TextSource {
    path: PathBuf,
    input: BufReader<Box<dyn std::io::Read + Send>>,
    schema: SchemaRef,
    batch_size: usize,
    /// Decoded text not yet cut into rows (always ends at a `\n` unless at EOF).
    block: String,
    block_pos: usize,
    /// Bytes of the file before `block`, and its line number, for error messages.
    offset: u64,
    line: u64,
    eof: bool,
    failed: bool,
}

impl TextSource {
    pub fn new(path: &Path, input: Input, batch_size: usize) -> TextSource {
        TextSource {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(256 * 1024, input.into_read()),
            schema: Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, true)])),
            batch_size,
            block: String::new(),
            block_pos: 0,
            offset: 0,
            line: 1,
            eof: false,
            failed: false,
        }
    }

    fn fill(&mut self) -> Result<bool> {
        let used = &self.block.as_bytes()[..self.block_pos];
        self.line += used.iter().filter(|&&b| b == b'\n').count() as u64;
        self.offset += self.block_pos as u64;
        if self.eof {
            return Ok(false);
        }
        let mut raw = Vec::with_capacity(BLOCK_BYTES + 4096);
        let mut limited = std::io::Read::take(&mut self.input, BLOCK_BYTES as u64);
        std::io::Read::read_to_end(&mut limited, &mut raw)
            .map_err(|e| StreamError::io(&self.path, &e))?;
        // A short read is the end; otherwise finish the line, and nothing left is the end.
        if raw.len() < BLOCK_BYTES
            || self
                .input
                .read_until(b'\n', &mut raw)
                .map_err(|e| StreamError::io(&self.path, &e))?
                == 0
        {
            self.eof = true;
        }
        let text = match String::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                let good = e.utf8_error().valid_up_to();
                let bytes = e.as_bytes();
                let line = self.line + bytes[..good].iter().filter(|&&b| b == b'\n').count() as u64;
                return Err(StreamError::data(
                    &self.path,
                    format!(
                        "line {line} (byte offset {}): invalid UTF-8 (byte 0x{:02x})",
                        self.offset + good as u64,
                        bytes[good]
                    ),
                ));
            }
        };
        self.block = text;
        self.block_pos = 0;
        Ok(!self.block.is_empty())
    }

    fn next_rows(&mut self) -> Result<Option<RecordBatch>> {
        let mut builder = StringBuilder::with_capacity(self.batch_size, self.batch_size * 64);
        let mut rows = 0;
        while rows < self.batch_size {
            if self.block_pos >= self.block.len() && !self.fill()? {
                break;
            }
            let rest = &self.block[self.block_pos..];
            let (line, used) = split_line(rest);
            builder.append_value(line);
            self.block_pos += used;
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let col: ArrayRef = Arc::new(builder.finish());
        RecordBatch::try_new(self.schema.clone(), vec![col])
            .map(Some)
            .map_err(|e| StreamError::data(&self.path, e))
    }
}

/// The first line of `s` (without its break) and the bytes it spans including the break.
fn split_line(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                let used = if b.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                return (&s[..i], used);
            }
            b'\n' => return (&s[..i], i + 1),
            _ => i += 1,
        }
    }
    (s, s.len())
}

impl BatchSource for TextSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.failed {
            return None;
        }
        match self.next_rows() {
            Ok(b) => b.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_line;

    #[test]
    fn split_line_treats_crlf_as_one_break_and_keeps_empty_lines() {
        assert_eq!(split_line("a\r\nb"), ("a", 3));
        assert_eq!(split_line("\nb"), ("", 1));
        assert_eq!(split_line("a\u{2028}b\x1e"), ("a\u{2028}b\x1e", 6));
        assert_eq!(split_line("a\rb"), ("a", 2));
        assert_eq!(split_line("tail"), ("tail", 4));
    }
}
