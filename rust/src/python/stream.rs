//! Bindings of the streaming reader: an iterator object whose `__next__` decodes the next
//! batch without the GIL, and a batch object that hands its Arrow data to pyarrow (or any
//! consumer of the Arrow PyCapsule interface) without a copy.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;
use std::thread::JoinHandle;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{Array, RecordBatch, StructArray};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::stream::{self, Format, Options, StreamError};

use super::errors::panic_to_py;

fn to_py(err: StreamError) -> PyErr {
    match err {
        StreamError::NotFound(m) => PyFileNotFoundError::new_err(m),
        StreamError::Io(m) => PyOSError::new_err(m),
        StreamError::Data(m) | StreamError::Usage(m) => PyValueError::new_err(m),
    }
}

type Item = stream::Result<RecordBatch>;

/// Where batches come from: decoded on the caller's thread, or by a background thread that
/// decodes the next batch while Python consumes the current one (a channel of one batch
/// bounds the memory; dropping the receiver stops the thread after its current batch).
enum Source {
    Inline(stream::StreamReader),
    Prefetch {
        rx: Receiver<Item>,
        worker: Option<JoinHandle<()>>,
    },
}

impl Source {
    fn next(&mut self) -> Option<Item> {
        match self {
            Source::Inline(r) => r.next(),
            Source::Prefetch { rx, .. } => rx.recv().ok(),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Prefetch { rx, worker } = self {
            // Close the channel first so a worker blocked in `send` returns at once.
            let (_, dead) = sync_channel(0);
            drop(std::mem::replace(rx, dead));
            if let Some(w) = worker.take() {
                let _ = w.join();
            }
        }
    }
}

fn spawn(mut reader: stream::StreamReader) -> Source {
    let (tx, rx) = sync_channel::<Item>(1);
    let worker = std::thread::Builder::new()
        .name("fast-axolotl-reader".into())
        .spawn(move || loop {
            let next = catch_unwind(AssertUnwindSafe(|| reader.next()));
            let item = match next {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Err(StreamError::Io(format!(
                        "internal error in fast_axolotl streaming reader: {msg}"
                    )))
                }
            };
            let stop = item.is_err();
            if tx.send(item).is_err() || stop {
                return;
            }
        });
    match worker {
        Ok(handle) => Source::Prefetch {
            rx,
            worker: Some(handle),
        },
        // No thread available: unreachable in practice; the reader moved into the closure
        // is gone, so report it through the channel-less path.
        Err(e) => {
            let (tx, rx) = sync_channel::<Item>(1);
            let _ = tx.send(Err(StreamError::Io(format!(
                "cannot start the reader thread: {e}"
            ))));
            Source::Prefetch { rx, worker: None }
        }
    }
}

/// Iterator over the record batches of a file, directory or glob.
#[pyclass(module = "fast_axolotl._native", name = "StreamReader")]
pub struct PyStreamReader {
    // A Mutex makes the source Sync for PyO3; only one thread decodes at a time anyway.
    inner: Mutex<Option<Source>>,
}

#[pymethods]
impl PyStreamReader {
    #[new]
    #[pyo3(signature = (path, dataset_type=None, batch_size=1000, split=None, prefetch=true))]
    fn new(
        py: Python<'_>,
        path: String,
        dataset_type: Option<String>,
        batch_size: usize,
        split: Option<String>,
        prefetch: bool,
    ) -> PyResult<Self> {
        let format = match dataset_type.as_deref() {
            None => None,
            Some(name) => match Format::from_name(name) {
                Some(f) => Some(f),
                None => {
                    return Err(PyValueError::new_err(format!(
                        "dataset_type {name:?} is not supported; use one of parquet, arrow, \
                         feather, csv, json, jsonl, text (or None to detect it)"
                    )))
                }
            },
        };
        let opts = Options {
            format,
            batch_size,
            split,
        };
        let outcome =
            py.detach(|| catch_unwind(AssertUnwindSafe(|| stream::StreamReader::new(&path, opts))));
        match outcome {
            Ok(Ok(reader)) => Ok(PyStreamReader {
                inner: Mutex::new(Some(if prefetch {
                    spawn(reader)
                } else {
                    Source::Inline(reader)
                })),
            }),
            Ok(Err(e)) => Err(to_py(e)),
            Err(panic) => Err(panic_to_py("streaming_dataset_reader", panic)),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<ArrowBatch>> {
        let outcome = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let source = guard.as_mut()?;
                let next = source.next();
                if next.is_none() {
                    // Exhausted: drop the reader now to close the file and free its buffers.
                    *guard = None;
                }
                next
            }))
        });
        match outcome {
            Ok(None) => Ok(None),
            Ok(Some(Ok(batch))) => Ok(Some(ArrowBatch {
                batch: Mutex::new(Some(batch)),
            })),
            Ok(Some(Err(e))) => {
                self.close(py);
                Err(to_py(e))
            }
            Err(panic) => {
                self.close(py);
                Err(panic_to_py("streaming_dataset_reader", panic))
            }
        }
    }

    /// Stops reading: closes the file and frees the reader's buffers (waits for a
    /// background decode of at most one batch to end).
    fn close(&self, py: Python<'_>) {
        let source = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(move || drop(source));
    }
}

/// One record batch, exported once through `__arrow_c_array__`.
#[pyclass(module = "fast_axolotl._native", name = "ArrowBatch")]
pub struct ArrowBatch {
    batch: Mutex<Option<RecordBatch>>,
}

#[pymethods]
impl ArrowBatch {
    #[getter]
    fn num_rows(&self) -> usize {
        self.batch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |b| b.num_rows())
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        // The batch's own schema is the only one offered; pyarrow casts if it asked for another.
        let _ = requested_schema;
        let batch = self
            .batch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this Arrow batch was already exported"))?;
        let array = StructArray::from(batch);
        let data = array.to_data();
        let schema = FFI_ArrowSchema::try_from(array.data_type())
            .map_err(|e| PyValueError::new_err(format!("cannot export Arrow schema: {e}")))?;
        let array = FFI_ArrowArray::new(&data);
        let schema = PyCapsule::new_with_value(py, schema, c"arrow_schema")?;
        let array = PyCapsule::new_with_value(py, array, c"arrow_array")?;
        PyTuple::new(py, [schema.into_any(), array.into_any()])
    }
}

/// `(format, compression)` of a path as fast-axolotl 0.2.0 named them.
#[pyfunction]
fn detect_format(path: &str) -> (String, Option<&'static str>) {
    let (fmt, comp) = stream::detect_format(std::path::Path::new(path));
    (fmt, comp.map(|c| c.name()))
}

#[pyfunction]
fn list_supported_formats() -> Vec<String> {
    stream::supported_formats()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStreamReader>()?;
    m.add_class::<ArrowBatch>()?;
    m.add_function(wrap_pyfunction!(detect_format, m)?)?;
    m.add_function(wrap_pyfunction!(list_supported_formats, m)?)?;
    Ok(())
}
