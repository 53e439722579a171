//! The one error type of the kernels, free of Python so that `cargo test` can use it.
//!
//! The binding layer maps `Unsupported` to `fast_axolotl._native.UnsupportedInput`, on which
//! a replacement calls Axolotl's original function instead, and `Invalid` to `ValueError`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// The input is legal, but the kernel does not reproduce Axolotl exactly for it.
    Unsupported(String),
    /// The input is malformed; the message says which input and what was found.
    Invalid(String),
}

impl KernelError {
    pub fn unsupported(msg: impl Into<String>) -> Self {
        KernelError::Unsupported(msg.into())
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        KernelError::Invalid(msg.into())
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::Unsupported(m) | KernelError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for KernelError {}
