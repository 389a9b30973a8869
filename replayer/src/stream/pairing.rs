//! `pairing`: which request each of production's responses answers.
//!
//! HTTP/1.x answers the requests of a connection in order, so pairing is a queue per
//! connection: the request framer ([`super::http`]) queues each request it emits (its id,
//! what kind of request it is, the capture time of its last byte), and the response framer
//! ([`super::response`]) takes the front one when a final (non-1xx) response head completes.
//!
//! Order is only worth something while nothing was lost. A request cut where it is certain
//! that exactly one was lost (a gap inside a body of known length, a head production refused)
//! keeps a place in the queue, so the response to it is recognised and the ones after it
//! still pair. Any other loss — a stream that started mid-connection, a gap that may have
//! swallowed whole messages, junk between responses, a response with no queued request —
//! means the order can no longer be trusted: from then on the connection's responses are
//! counted as unpaired and its requests as missing (`responses_missing`, the comparison's
//! `prod_missing`), rather than pair a response with a request it may not answer.
//!
//! Memory is bounded: at most [`MAX_DEPTH`] requests wait per connection (a client
//! pipelining deeper loses pairing for that connection), entries are capped in number, and an
//! entry ends with its connection.

use crate::capture::CaptureStats;
use crate::request::Connection;
use foldhash::fast::RandomState;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;

/// Most requests that wait for their response on one connection (the pipelining depth).
pub const MAX_DEPTH: usize = 64;

/// What the response framer must know about the request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `HEAD`: the response has no body, whatever its headers say.
    Head,
    /// `CONNECT`: a 2xx response turns the connection into a tunnel.
    Connect,
    /// Any other method.
    Other,
}

impl RequestKind {
    /// The kind of a request by its method (case-sensitive, as methods are).
    pub fn of(method: &str) -> RequestKind {
        match method {
            "HEAD" => RequestKind::Head,
            "CONNECT" => RequestKind::Connect,
            _ => RequestKind::Other,
        }
    }
}

/// A request waiting for its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The request's id ([`crate::request::Request::id`]).
    pub id: u64,
    /// What framing its response needs to know.
    pub kind: RequestKind,
    /// Capture time of the packet that carried its last byte.
    pub last_byte_ns: u64,
}

/// A place in a connection's queue.
#[derive(Debug)]
enum Slot {
    Request(Pending),
    /// Exactly one request was lost here: its response pairs with nothing, the next ones
    /// still pair.
    Lost,
    /// An unknown number of requests was lost here: order ends when a response reaches it.
    Unknown,
}

#[derive(Debug)]
struct Queue {
    slots: VecDeque<Slot>,
    /// Order holds: nothing lost that could make a response answer another request.
    synced: bool,
    /// After a `101` or a tunnel opened by `CONNECT`: nothing more on it is HTTP.
    tunnel: bool,
    /// The client stream has ended: no more requests will come.
    requests_ended: bool,
    /// Capture time of the last request queued, for [`Pairing::sweep`].
    last_ns: u64,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            slots: VecDeque::new(),
            synced: true,
            tunnel: false,
            requests_ended: false,
            last_ns: 0,
        }
    }

    /// Order is lost: what waits will never be paired.
    fn desync(&mut self, stats: &CaptureStats) {
        self.synced = false;
        self.drop_all(stats);
    }

    /// Counts the waiting requests as missing and forgets them.
    fn drop_all(&mut self, stats: &CaptureStats) {
        let waiting = self
            .slots
            .iter()
            .filter(|s| matches!(s, Slot::Request(_)))
            .count();
        stats.responses_missing.fetch_add(waiting as u64, Relaxed);
        self.slots.clear();
    }

    fn push(&mut self, slot: Slot, stats: &CaptureStats) {
        if self.slots.len() < MAX_DEPTH {
            self.slots.push_back(slot);
        } else {
            // Deeper than any client pipelines: order is given up rather than grow.
            if matches!(slot, Slot::Request(_)) {
                stats.responses_missing.fetch_add(1, Relaxed);
            }
            self.desync(stats);
        }
    }
}

/// The pairing queues of one capture, one per connection.
pub struct Pairing<'s> {
    stats: &'s CaptureStats,
    /// foldhash, seeded per process, as the reassembler's stream table.
    conns: HashMap<Connection, Queue, RandomState>,
    max_conns: usize,
}

impl<'s> Pairing<'s> {
    /// Queues for at most `max_conns` connections at once (the reassembler's stream cap);
    /// `responses_missing` is counted in `stats`.
    pub fn new(stats: &'s CaptureStats, max_conns: usize) -> Pairing<'s> {
        Pairing {
            stats,
            conns: HashMap::with_hasher(RandomState::default()),
            max_conns: max_conns.max(1),
        }
    }

    /// Connections with a queue.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The queue of `conn`, made if there is room.
    fn queue(&mut self, conn: &Connection) -> Option<&mut Queue> {
        if !self.conns.contains_key(conn) && self.conns.len() >= self.max_conns {
            return None;
        }
        Some(self.conns.entry(*conn).or_insert_with(Queue::new))
    }

    /// The client stream of `conn` starts: `mid_connection` when what came before is unknown
    /// (requests may be waiting that were never seen). A connection that reuses the 4-tuple
    /// of one whose requests had ended starts afresh.
    pub fn requests_started(&mut self, conn: &Connection, mid_connection: bool) {
        let stats = self.stats;
        if let Some(old) = self.conns.get_mut(conn) {
            if old.requests_ended {
                old.drop_all(stats);
                self.conns.remove(conn);
            }
        }
        if mid_connection {
            self.requests_lost(conn, false);
        }
    }

    /// The request framer emitted `request` on `conn`.
    pub fn request(&mut self, conn: &Connection, request: Pending) {
        let stats = self.stats;
        let Some(queue) = self.queue(conn) else {
            stats.responses_missing.fetch_add(1, Relaxed);
            return;
        };
        if queue.tunnel {
            return;
        }
        if !queue.synced {
            stats.responses_missing.fetch_add(1, Relaxed);
            return;
        }
        queue.last_ns = request.last_byte_ns;
        queue.push(Slot::Request(request), stats);
    }

    /// Requests were lost on `conn`'s client stream: `exactly_one`, or an unknown number.
    pub fn requests_lost(&mut self, conn: &Connection, exactly_one: bool) {
        let stats = self.stats;
        if let Some(queue) = self.queue(conn) {
            if queue.synced && !queue.tunnel {
                let slot = if exactly_one {
                    Slot::Lost
                } else {
                    Slot::Unknown
                };
                queue.push(slot, stats);
            }
        }
    }

    /// `conn`'s client stream ended. Its queue stays while requests wait for responses.
    pub fn requests_ended(&mut self, conn: &Connection) {
        if let Some(queue) = self.conns.get_mut(conn) {
            if queue.slots.is_empty() {
                self.conns.remove(conn);
            } else {
                queue.requests_ended = true;
            }
        }
    }

    /// A final response head on `conn` is complete: the request it answers, if that is
    /// certain. `None` is an unpaired response (the caller counts it).
    pub fn answer(&mut self, conn: &Connection) -> Option<Pending> {
        let stats = self.stats;
        let queue = self.queue(conn)?;
        if !queue.synced || queue.tunnel {
            return None;
        }
        match queue.slots.pop_front() {
            // In order, the front request is the one answered, even by a response that
            // began before the request's last byte (a server may answer early, say 413).
            Some(Slot::Request(request)) => Some(request),
            // The answer to the request known to be lost: order still holds after it.
            Some(Slot::Lost) => None,
            // Requests the framer never saw may be waiting (an unknown number was lost, or
            // the response came before its request could be framed): order is gone.
            Some(Slot::Unknown) | None => {
                queue.desync(stats);
                None
            }
        }
    }

    /// Responses were lost on `conn` (a gap, junk, a mid-connection start): which request the
    /// next one answers is no longer certain.
    pub fn responses_lost(&mut self, conn: &Connection) {
        let stats = self.stats;
        if let Some(queue) = self.queue(conn) {
            queue.desync(stats);
        }
    }

    /// `conn` became a tunnel (`101`, or a 2xx to `CONNECT`): nothing after is paired or
    /// counted.
    pub fn tunnel(&mut self, conn: &Connection) {
        if let Some(queue) = self.queue(conn) {
            // What the framer took for requests after the switch was tunnelled data.
            queue.slots.clear();
            queue.tunnel = true;
        }
    }

    /// `conn`'s server stream ended: requests still waiting will never be answered.
    pub fn responses_ended(&mut self, conn: &Connection) {
        if let Some(mut queue) = self.conns.remove(conn) {
            queue.drop_all(self.stats);
        }
    }

    /// Forgets connections whose client stream ended more than `idle_ns` of capture time
    /// before `now_ns` while requests still waited (their server stream never came or never
    /// ended): those requests are missing.
    pub fn sweep(&mut self, now_ns: u64, idle_ns: u64) {
        let stats = self.stats;
        self.conns.retain(|_, queue| {
            let stale = queue.requests_ended && now_ns.saturating_sub(queue.last_ns) >= idle_ns;
            if stale {
                queue.drop_all(stats);
            }
            !stale
        });
    }

    /// End of input: every request still waiting is missing.
    pub fn finish(&mut self) {
        for queue in self.conns.values_mut() {
            queue.drop_all(self.stats);
        }
        self.conns.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::connection as conn;

    fn pending(id: u64) -> Pending {
        Pending {
            id,
            kind: RequestKind::Other,
            last_byte_ns: id,
        }
    }

    fn missing(stats: &CaptureStats) -> u64 {
        stats.responses_missing.load(Relaxed)
    }

    #[test]
    fn in_order_and_one_lost_request_keeps_order() {
        let stats = CaptureStats::default();
        let mut p = Pairing::new(&stats, 10);
        p.requests_started(&conn(), false);
        p.request(&conn(), pending(1));
        p.requests_lost(&conn(), true);
        p.request(&conn(), pending(3));
        assert_eq!(p.answer(&conn()).map(|r| r.id), Some(1));
        assert_eq!(p.answer(&conn()), None);
        assert_eq!(p.answer(&conn()).map(|r| r.id), Some(3));
        p.request(&conn(), pending(4));
        p.responses_ended(&conn());
        assert_eq!((missing(&stats), p.connections()), (1, 0));
    }

    #[test]
    fn an_unknown_loss_ends_pairing_for_the_connection() {
        let stats = CaptureStats::default();
        let mut p = Pairing::new(&stats, 10);
        p.request(&conn(), pending(1));
        p.requests_lost(&conn(), false);
        p.request(&conn(), pending(3));
        assert_eq!(p.answer(&conn()).map(|r| r.id), Some(1));
        assert_eq!(p.answer(&conn()), None); // reaches the unknown loss: 3 is dropped
        assert_eq!(missing(&stats), 1);
        p.request(&conn(), pending(4));
        assert_eq!(p.answer(&conn()), None);
        assert_eq!(missing(&stats), 2);
    }

    #[test]
    fn a_mid_connection_start_or_a_response_first_pairs_nothing() {
        let stats = CaptureStats::default();
        let mut p = Pairing::new(&stats, 10);
        p.requests_started(&conn(), true);
        p.request(&conn(), pending(1));
        assert_eq!(p.answer(&conn()), None);
        assert_eq!(missing(&stats), 1);
        let stats = CaptureStats::default();
        let mut p = Pairing::new(&stats, 10);
        assert_eq!(p.answer(&conn()), None);
        p.request(&conn(), pending(1));
        assert_eq!(p.answer(&conn()), None);
        assert_eq!(missing(&stats), 1);
    }

    #[test]
    fn depth_and_connections_are_bounded() {
        let stats = CaptureStats::default();
        let mut p = Pairing::new(&stats, 1);
        for id in 0..MAX_DEPTH as u64 + 1 {
            p.request(&conn(), pending(id));
        }
        assert_eq!(missing(&stats), MAX_DEPTH as u64 + 1);
        let mut other = conn();
        other.client.set_port(1);
        p.request(&other, pending(99));
        assert_eq!(
            (missing(&stats), p.connections()),
            (MAX_DEPTH as u64 + 2, 1)
        );
    }

    #[test]
    fn waiting_requests_of_an_ended_client_are_swept_then_missing() {
        let stats = CaptureStats::default();
        let mut p = Pairing::new(&stats, 10);
        p.request(&conn(), pending(5));
        p.requests_ended(&conn());
        p.sweep(6, 10);
        assert_eq!(p.connections(), 1);
        p.sweep(15, 10);
        assert_eq!((missing(&stats), p.connections()), (1, 0));
    }
}
