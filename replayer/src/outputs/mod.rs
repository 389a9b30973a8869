//! Where passed requests go: [`replay`] to staging over HTTP(S) (with its hand-written
//! HTTP/1 writer, `wire`, and its adaptive worker count, [`concurrency`]), or written as GoReplay records by [`file`](mod@file) (stdout, a file,
//! or nowhere).

pub mod concurrency;
pub mod file;
pub mod replay;
mod wire;

pub use file::{
    write_record, write_response_record, FileOutput, NullOutput, Output, OutputError, StdoutOutput,
};
