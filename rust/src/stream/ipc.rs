//! Arrow IPC: the file layout (`ARROW1` magic; `.arrow`, `.feather` v2) and the stream
//! layout (`save_to_disk` shards, `pa.ipc.new_stream`), told apart by the content.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::reader::{FileReader, StreamReader};

use super::compress::Input;
use super::rebatch::Rebatcher;
use super::{BatchSource, Result, StreamError};

type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

pub struct IpcSource {
    batches: Rebatcher<Batches>,
}

impl BatchSource for IpcSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        self.batches.next()
    }
}

pub fn open(path: &Path, input: Input, batch_size: usize) -> Result<IpcSource> {
    let owned: PathBuf = path.to_path_buf();
    let batches: Batches = match input {
        Input::File(mut file) => {
            let mut magic = [0u8; 6];
            let is_file_layout = file.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(0))
                .map_err(|e| StreamError::io(path, &e))?;
            if is_file_layout {
                file_batches(owned, file)?
            } else {
                stream_batches(owned, Box::new(file))?
            }
        }
        Input::Stream(mut s) => {
            // A compressed file: peek at the decompressed head; the file layout needs
            // seeking, so it is spilled to a temporary file.
            let mut head = Vec::with_capacity(6);
            (&mut s)
                .take(6)
                .read_to_end(&mut head)
                .map_err(|e| StreamError::io(path, &e))?;
            let rest: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head.clone()).chain(s));
            if head == b"ARROW1" {
                let file = Input::Stream(rest).into_file(path)?;
                file_batches(owned, file)?
            } else {
                stream_batches(owned, rest)?
            }
        }
    };
    Ok(IpcSource {
        batches: Rebatcher::new(batches, batch_size),
    })
}

fn file_batches(path: PathBuf, file: std::fs::File) -> Result<Batches> {
    let reader = FileReader::try_new(BufReader::new(file), None)
        .map_err(|e| StreamError::data(&path, format!("not a readable Arrow IPC file: {e}")))?;
    let mut index = 0usize;
    Ok(Box::new(reader.map(move |r| {
        index += 1;
        r.map_err(|e| {
            StreamError::data(
                &path,
                format!("corrupt Arrow IPC record batch #{index}: {e}"),
            )
        })
    })))
}

fn stream_batches(path: PathBuf, read: Box<dyn Read + Send>) -> Result<Batches> {
    let reader =
        StreamReader::try_new(BufReader::with_capacity(256 * 1024, read), None).map_err(|e| {
            StreamError::data(
                &path,
                format!("not a readable Arrow IPC file or stream: {e}"),
            )
        })?;
    let mut index = 0usize;
    Ok(Box::new(reader.map(move |r| {
        index += 1;
        r.map_err(|e| {
            StreamError::data(
                &path,
                format!("corrupt Arrow IPC record batch #{index}: {e}"),
            )
        })
    })))
}
