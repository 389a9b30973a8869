//! What the capture thread hands its items to: the [`Flow`] itself, or, with `--middleware`,
//! the middleware program in front of it.
//!
//! ```text
//! input ─▶ MiddlewareIntake ─▶ program ─▶ Behind (reader thread) ─▶ Flow (stages, outputs)
//! ```
//!
//! With a middleware the flow runs on the thread that reads the program's answers: nothing on
//! the capture thread waits for the program ([`MessageSender::send`] never blocks). Requests
//! are sent as GoReplay's type-1 messages, production's responses as type 2, record files'
//! type-2 and type-3 records as they are; what comes back is framed again ([`Framer`]), so
//! the safe-method rule and every other stage apply to what the program returns.

use super::Flow;
use crate::capture::CaptureStats;
use crate::middleware::{MessageSender, Returned};
use crate::outputs::{write_record, write_response_record};
use crate::records::framer::{Framer, REMEMBERED};
use crate::records::{Kind, Record, SEPARATOR};
use crate::request::Request;
use crate::response::Response;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Where the input's items go on the capture thread.
pub trait Intake {
    /// A request, framed (captured, or read from a record file).
    fn request(&mut self, request: Request);
    /// Production's response, captured (`--input-raw-track-response`, `--diff`).
    fn response(&mut self, response: &Response);
    /// A type-2 or type-3 record from a record file, with the flow's id of its request.
    fn record(&mut self, request_id: Option<u64>, record: Record);
}

impl Intake for Flow {
    fn request(&mut self, request: Request) {
        Flow::request(self, request);
    }
    fn response(&mut self, response: &Response) {
        Flow::response(self, response);
    }
    fn record(&mut self, request_id: Option<u64>, record: Record) {
        Flow::record(self, request_id, &record);
    }
}

/// The capture side of a middleware: each item encoded as GoReplay's message and queued.
pub struct MiddlewareIntake {
    sender: MessageSender,
    /// With response tracking: each request's capture time by id (a response's message id
    /// is made from it), the oldest forgotten first.
    captured_at: Option<(HashMap<u64, u64>, VecDeque<u64>)>,
    buf: Vec<u8>,
}

impl MiddlewareIntake {
    /// An intake sending to `sender`; `track_responses` when production's responses come too.
    pub fn new(sender: MessageSender, track_responses: bool) -> MiddlewareIntake {
        MiddlewareIntake {
            sender,
            captured_at: track_responses.then(Default::default),
            buf: Vec::new(),
        }
    }

    /// The message in `buf` (a record less its separator), sent.
    fn send_buf(&mut self) {
        let len = self.buf.len().saturating_sub(SEPARATOR.len());
        self.buf.truncate(len);
        self.sender.send(std::mem::take(&mut self.buf));
    }
}

impl Intake for MiddlewareIntake {
    fn request(&mut self, request: Request) {
        if let Some((by_id, order)) = &mut self.captured_at {
            if order.len() == REMEMBERED {
                if let Some(old) = order.pop_front() {
                    by_id.remove(&old);
                }
            }
            order.push_back(request.id);
            by_id.insert(request.id, request.captured_at_ns);
        }
        // Writing to memory cannot fail.
        let _ = write_record(&mut self.buf, &request);
        self.send_buf();
    }

    fn response(&mut self, response: &Response) {
        let Some((by_id, _)) = &self.captured_at else {
            return;
        };
        let Some(at) = response.request_id.and_then(|id| by_id.get(&id)).copied() else {
            return;
        };
        let _ = write_response_record(&mut self.buf, at, response);
        self.send_buf();
    }

    fn record(&mut self, _request_id: Option<u64>, record: Record) {
        let _ = record.write_to(&mut self.buf);
        self.send_buf();
    }
}

/// The flow behind a middleware: what the program writes back, framed and run through it.
pub struct Behind {
    /// The flow, handed back by [`crate::middleware::Middleware::finish`].
    pub flow: Flow,
    framer: Framer,
    from_file: bool,
}

impl Behind {
    /// `flow` behind a middleware; `from_file` when the input is record files (the requests
    /// coming back keep that origin: see [`Request::from_record_file`]).
    pub fn new(flow: Flow, from_file: bool) -> Behind {
        Behind {
            flow,
            // Its own counters: the input counted these requests once already.
            framer: Framer::new(Arc::new(CaptureStats::default())),
            from_file,
        }
    }
}

impl Returned for Behind {
    fn returned(&mut self, record: Record) {
        match record.kind {
            Kind::Request => {
                if let Some(request) = self.framer.request(&record, self.from_file) {
                    self.flow.request(request);
                }
            }
            Kind::Response | Kind::Replayed => {
                let id = self.framer.request_id(&record.id);
                self.flow.record(id, &record);
            }
        }
    }
}
