//! Where passed requests go: [`replay`] to staging over HTTP(S) (with its hand-written
//! HTTP/1 writer, `wire`, and its adaptive worker count, [`concurrency`]), or written as
//! GoReplay records ([`record`]) by [`file`](mod@file) (stdout, a file, or nowhere); a file's
//! disk work is its own thread's (`file_writer`, naming in [`file_name`]).

pub mod concurrency;
pub mod file;
pub mod file_name;
mod file_writer;
#[cfg(test)]
mod file_tests;
pub mod record;
pub mod replay;
mod wire;

pub use file::{
    FileOutput, FileOutputStats, NullOutput, Output, OutputError, RecordSender, StdoutOutput,
};
pub use record::{write_record, write_response_record};
