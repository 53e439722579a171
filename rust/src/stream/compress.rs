//! Compressed inputs: gzip, zstd, bz2 and xz, recognised by their magic bytes (the file
//! name's extension is checked against them), decompressed as a stream.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::{Result, StreamError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Bz2,
    Xz,
}

impl Compression {
    pub const ALL: [Compression; 4] = [
        Compression::Zstd,
        Compression::Gzip,
        Compression::Bz2,
        Compression::Xz,
    ];

    /// The names 0.2.0's `detect_format` returns ("gzip", "zstd") and fsspec's ("bz2", "xz").
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bz2 => "bz2",
            Compression::Xz => "xz",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
            Compression::Bz2 => "bz2",
            Compression::Xz => "xz",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Compression> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Compression::Gzip,
            "zst" | "zstd" => Compression::Zstd,
            "bz2" => Compression::Bz2,
            "xz" => Compression::Xz,
            _ => return None,
        })
    }

    pub fn from_magic(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bz2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }
}

/// An opened input: the plain file (seekable, for parquet and Arrow IPC files) or a
/// decompressing stream.
pub enum Input {
    File(File),
    Stream(Box<dyn Read + Send>),
}

impl Input {
    pub fn into_read(self) -> Box<dyn Read + Send> {
        match self {
            Input::File(f) => Box::new(f),
            Input::Stream(s) => s,
        }
    }

    /// A seekable file with the (decompressed) content: the file itself, or an unnamed
    /// temporary file the stream is spilled to (memory stays bounded; the disk holds it).
    pub fn into_file(self, path: &Path) -> Result<File> {
        match self {
            Input::File(f) => Ok(f),
            Input::Stream(mut s) => {
                let mut tmp = spill_file(path)?;
                io::copy(&mut s, &mut tmp).map_err(|e| StreamError::io(path, &e))?;
                tmp.seek(SeekFrom::Start(0))
                    .map_err(|e| StreamError::io(path, &e))?;
                Ok(tmp)
            }
        }
    }
}

fn spill_file(path: &Path) -> Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "fast-axolotl-{}-{}.spill",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let tmp_path = std::env::temp_dir().join(name);
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .map_err(|e| StreamError::io(&tmp_path, &e))?;
    // Unlinked at once: the space is freed when the handle is dropped, even on a crash.
    let _ = std::fs::remove_file(&tmp_path);
    let _ = path;
    Ok(file)
}

/// Opens `path`, recognising its compression by magic bytes. `by_name` is the compression
/// the file name claims; a claim the content contradicts is an error, never a guess.
pub fn open(path: &Path, by_name: Option<Compression>) -> Result<(Input, Option<Compression>)> {
    let mut file = File::open(path).map_err(|e| StreamError::io(path, &e))?;
    let mut head = [0u8; 6];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::io(path, &e)),
        }
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| StreamError::io(path, &e))?;
    let by_magic = Compression::from_magic(&head[..n]);
    if let Some(claimed) = by_name {
        if by_magic != Some(claimed) {
            return Err(StreamError::data(
                path,
                format!(
                    "byte 0: the file name says {} but the content is not {}-compressed",
                    claimed.name(),
                    claimed.name()
                ),
            ));
        }
    }
    let input = match by_magic {
        None => Input::File(file),
        Some(c) => Input::Stream(decoder(c, file, path)?),
    };
    Ok((input, by_magic))
}

fn decoder(c: Compression, file: File, path: &Path) -> Result<Box<dyn Read + Send>> {
    let buffered = BufReader::with_capacity(256 * 1024, file);
    Ok(match c {
        // Multi-member/-stream decoders: concatenated archives are read whole, like Python's.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| StreamError::io(path, &e))?,
        ),
        Compression::Bz2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered)),
    })
}
