//! `.json` files: JSON Lines, or one top-level array. `datasets` turns an array of objects
//! into JSON Lines (an array of anything else into `{"text": element}` rows) and reads that;
//! here the array is rewritten into JSON Lines while it streams, so it is never held whole.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::compress::Input;
use super::jsonl::{JsonlSource, CHUNK_BYTES};
use super::{Result, StreamError};

pub fn open(path: &Path, input: Input, batch_size: usize) -> Result<JsonlSource> {
    let mut read = BufReader::with_capacity(256 * 1024, input.into_read());
    let first = loop {
        let buf = read.fill_buf().map_err(|e| StreamError::io(path, &e))?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                read.consume(i);
                break Some(b);
            }
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                read.consume(n);
            }
        }
    };
    if first == Some(b'[') {
        let lines = ArrayToLines::new(path, Box::new(read));
        return Ok(JsonlSource::with_unit(
            path,
            Box::new(lines),
            batch_size,
            "array element",
            CHUNK_BYTES,
        ));
    }
    Ok(JsonlSource::new(path, Box::new(read), batch_size))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    Start,
    /// Inside the array, between elements (after `[` or `,`).
    BeforeElement,
    /// Inside an element, outside strings.
    InElement,
    InString,
    InStringEscape,
    Done,
}

/// Streams a top-level JSON array as one element per line: the array's brackets and
/// separating commas go, whitespace outside strings inside elements becomes spaces, and
/// non-object elements are wrapped as `{"text": element}` when the first element is not an
/// object (the rule `datasets` applies). Structural errors name the byte offset.
pub struct ArrayToLines {
    input: Box<dyn BufRead + Send>,
    state: State,
    depth: usize,
    offset: u64,
    wrap_text: Option<bool>,
    out: Vec<u8>,
    out_pos: usize,
    elements: u64,
}

impl ArrayToLines {
    pub fn new(path: &Path, input: Box<dyn BufRead + Send>) -> ArrayToLines {
        let _ = path;
        ArrayToLines {
            input,
            state: State::Start,
            depth: 0,
            offset: 0,
            wrap_text: None,
            out: Vec::new(),
            out_pos: 0,
            elements: 0,
        }
    }

    fn err(&self, msg: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "byte offset {}: {msg} (in the top-level JSON array, element {})",
                self.offset, self.elements
            ),
        )
    }

    fn end_element(&mut self) {
        if self.wrap_text == Some(true) {
            self.out.push(b'}');
        }
        self.out.push(b'\n');
    }

    /// Converts the next block of input into `self.out`.
    fn pump(&mut self) -> io::Result<bool> {
        let buf = self.input.fill_buf()?;
        if buf.is_empty() {
            return match self.state {
                State::Done => Ok(false),
                _ => Err(self.err("the file ends inside the array (truncated?)")),
            };
        }
        let buf = buf.to_vec();
        let n = buf.len();
        for &b in &buf {
            match self.state {
                State::Start => match b {
                    b'[' => self.state = State::BeforeElement,
                    b if b.is_ascii_whitespace() => {}
                    _ => return Err(self.err("expected '['")),
                },
                State::BeforeElement => match b {
                    b if b.is_ascii_whitespace() => {}
                    b']' if self.elements == 0 => self.state = State::Done,
                    b']' | b',' => return Err(self.err("expected an array element")),
                    _ => {
                        self.elements += 1;
                        if self.wrap_text.is_none() {
                            self.wrap_text = Some(b != b'{');
                        }
                        if self.wrap_text == Some(true) {
                            self.out.extend_from_slice(b"{\"text\": ");
                        }
                        self.state = State::InElement;
                        self.depth = 0;
                        self.element_byte(b)?;
                    }
                },
                State::InElement => self.element_byte(b)?,
                State::InString => {
                    self.out.push(b);
                    match b {
                        b'\\' => self.state = State::InStringEscape,
                        b'"' => self.state = State::InElement,
                        _ => {}
                    }
                }
                State::InStringEscape => {
                    self.out.push(b);
                    self.state = State::InString;
                }
                State::Done => {
                    if !b.is_ascii_whitespace() {
                        return Err(self.err("data after the end of the top-level array"));
                    }
                }
            }
            self.offset += 1;
        }
        self.input.consume(n);
        Ok(true)
    }

    fn element_byte(&mut self, b: u8) -> io::Result<()> {
        match b {
            b'"' => {
                self.out.push(b);
                self.state = State::InString;
            }
            b'{' | b'[' => {
                self.depth += 1;
                self.out.push(b);
            }
            b'}' | b']' if self.depth > 0 => {
                self.depth -= 1;
                self.out.push(b);
            }
            b']' => {
                self.end_element();
                self.state = State::Done;
            }
            b'}' => return Err(self.err("unbalanced '}'")),
            b',' if self.depth == 0 => {
                self.end_element();
                self.state = State::BeforeElement;
            }
            b'\n' | b'\r' | b'\t' => self.out.push(b' '),
            _ => self.out.push(b),
        }
        Ok(())
    }
}

impl Read for ArrayToLines {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if !self.pump()? {
                return Ok(0);
            }
        }
        let n = dst.len().min(self.out.len() - self.out_pos);
        dst[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}
