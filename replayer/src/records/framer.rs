//! Type-1 payloads → requests, through the capture side's HTTP/1 framer, so a request read
//! from a record (a file, or what a middleware sends back) reaches the stages exactly as a
//! captured one would; and, for the response records that follow, which request each
//! answers.

use super::Record;
use crate::capture::CaptureStats;
use crate::request::{Connection, Request};
use crate::stream::http::{Emitter, RequestParser};
use crate::stream::reassemble::Consumer;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Request ids remembered elsewhere for the responses that follow them (the middleware's
/// capture side).
pub const REMEMBERED: usize = 100_000;
/// Requests a response record may come after and still find its own: GoReplay writes a
/// response when it ends, so at 10,000 requests/s this is 1.6 s of answers in flight. A
/// response record that finds none is not written (its request's outputs are unknown).
pub const RECENT: usize = 16_384;

/// Type-1 payloads → requests, through the capture side's HTTP/1 framer.
pub struct Framer {
    stats: Arc<CaptureStats>,
    next_id: u64,
    /// Record id → request id, for the responses that follow; the oldest forgotten first.
    /// The last requests' record ids and flow ids, newest last. A response record follows
    /// its request closely, so it is looked for from the newest back: no hashing per request
    /// (a map's insert and evicting remove were a sixth of a fast replay).
    recent: VecDeque<(Bytes, u64)>,
}

impl Framer {
    /// A framer counting into `stats` (`requests`, and `requests_cut` for a payload that is
    /// not one whole request).
    pub fn new(stats: Arc<CaptureStats>) -> Framer {
        Framer {
            stats,
            next_id: 1,
            recent: VecDeque::new(),
        }
    }

    /// The record's request, if its payload is one complete request (the first, if more).
    /// `from_file`: the record was read from a record file (see
    /// [`Request::from_record_file`]), not made from a capture.
    pub fn request(&mut self, record: &Record, from_file: bool) -> Option<Request> {
        // Records carry no addresses: the connection is the unspecified one.
        let connection = Connection {
            client: ([0, 0, 0, 0], 0).into(),
            server: ([0, 0, 0, 0], 0).into(),
        };
        let mut framed = None;
        let mut keep = |request: Request| {
            framed.get_or_insert(request);
        };
        let mut emitter = Emitter {
            stats: &self.stats,
            next_id: self.next_id,
            on_request: &mut keep,
            pairing: None,
        };
        let cut_before = self.stats.requests_cut.load(Relaxed);
        let mut parser = RequestParser::default();
        let ts = record.timestamp_ns;
        parser.data(&mut emitter, &connection, &record.payload, ts, usize::MAX);
        parser.end(&mut emitter, &connection);
        self.next_id = emitter.next_id;
        let Some(mut request) = framed else {
            // Not one whole request: counted as cut (once), never sent.
            if self.stats.requests_cut.load(Relaxed) == cut_before {
                self.stats.requests_cut.fetch_add(1, Relaxed);
            }
            return None;
        };
        request.captured_at_ns = ts;
        request.record_id = Some(record.id.clone());
        request.from_record_file = from_file;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((record.id.clone(), request.id));
        Some(request)
    }

    /// The flow's id of the request a response record answers, if it was read recently.
    pub fn request_id(&self, record_id: &Bytes) -> Option<u64> {
        let (_, id) = self.recent.iter().rev().find(|(id, _)| id == record_id)?;
        Some(*id)
    }
}
