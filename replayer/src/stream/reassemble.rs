//! `reassemble`: TCP segments → the ordered byte stream one side of each connection sent,
//! with every hole accounted for.
//!
//! One stream per connection 4-tuple, in one [`Direction`]: client → server (the requests,
//! what replay needs) or server → client (production's responses, only when they are asked
//! for: a second reassembler, so the request-only path pays nothing for them). The other
//! side's packets are used as evidence: the server's SYN-ACK tells where a client stream
//! starts when the client's SYN was missed, the peer's ACKs prove that bytes we never saw
//! were sent (so waiting for them is pointless), and the peer's RST ends the stream.
//!
//! Bytes are placed by sequence number modulo 2^32 (an absolute 64-bit offset is kept so
//! wrap-around is a non-event). In-order bytes go straight to the [`Consumer`] without a
//! copy; out-of-order segments wait in a per-stream map, and duplicates, retransmissions and
//! overlaps are trimmed against what was already delivered. A hole is given up on, counted in
//! `reassembly_gaps` and reported to the consumer as a gap (never silently closed) when the
//! server has acknowledged past it, when it is older than [`HOLE_TIMEOUT_NS`], when the
//! stream's buffer is full, and when the stream ends (FIN, RST, idle expiry, end of input).
//!
//! Memory is capped ([`ReassemblyLimits`]): per stream, in total, and in number of streams;
//! what does not fit is dropped and counted in `dropped_over_cap`.
//!
//! Long because it is one state machine: placement, holes and their timeouts, the peer's
//! evidence and the memory caps all act on the same per-stream state and its invariants.
//! Its tests are in tests/ (proptest_reassembly.rs, reassembly_robustness.rs).

use crate::capture::decode::TcpSegment;
use crate::capture::{CaptureStats, ReassemblyLimits};
use crate::request::Connection;
use foldhash::fast::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// How long a hole may wait for a retransmission before it is declared lost. Generous next to
/// TCP's retransmission timeouts (200 ms minimum on Linux), because a hole declared too early
/// loses requests that a late retransmission would have completed.
pub const HOLE_TIMEOUT_NS: u64 = 3_000_000_000;
/// With proof that the server received the missing bytes (its ACK), a retransmission will
/// never come; wait only long enough for capture-order jitter between CPUs.
pub const ACKED_HOLE_TIMEOUT_NS: u64 = 200_000_000;
/// Streams are checked for expiry and stale holes at most this often (capture time).
const SWEEP_INTERVAL_NS: u64 = 1_000_000_000;
/// A closed stream is remembered this long, so late retransmissions of its data are
/// recognised as such instead of starting a new stream mid-request.
const CLOSED_TTL_NS: u64 = 10_000_000_000;

/// What receives a stream's bytes, in order (the `http` framer for requests, the `response`
/// framer for responses). `X` is the caller's context, passed through to every call, with
/// the stream's connection.
pub trait Consumer<X: ?Sized>: Default + Buffered {
    /// The next in-order bytes of the stream, first captured at `ts_ns`. `budget` is how many
    /// bytes the consumer may keep buffered after this call.
    fn data(&mut self, cx: &mut X, conn: &Connection, data: &[u8], ts_ns: u64, budget: usize);
    /// `len` bytes are missing before the next data; `None` when the stream starts
    /// mid-connection and what came before is unknown.
    fn gap(&mut self, cx: &mut X, conn: &Connection, len: Option<u64>);
    /// The stream is over: no more bytes will come.
    fn end(&mut self, cx: &mut X, conn: &Connection);
}

/// Which side's bytes a [`Reassembler`] puts in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server: the requests.
    ToServer,
    /// Server → client: the responses.
    ToClient,
}

/// The counters one direction's reassembly keeps (each direction has its own, so that the
/// request side's figures mean what they always meant when responses are captured too).
#[derive(Clone, Copy)]
struct Counters<'s> {
    /// Holes never filled.
    gaps: &'s AtomicU64,
    /// Bytes, segments or streams dropped at a cap.
    over_cap: &'s AtomicU64,
    /// Open streams.
    streams: &'s AtomicU64,
}

/// How much memory a consumer holds, for the reassembler's caps.
pub trait Buffered {
    /// Bytes the consumer currently holds.
    fn buffered(&self) -> usize;
}

/// Shared state that every stream operation needs besides the stream itself.
struct Shared<'s> {
    limits: ReassemblyLimits,
    counters: Counters<'s>,
    /// Bytes held across all streams: out-of-order segments plus consumer buffers.
    buffered_total: usize,
    /// Of which out-of-order segments (waiting behind a hole).
    pending_total: usize,
}

/// The reassembler for one capture: all streams of one direction on `server_port`.
pub struct Reassembler<'s, C> {
    server_port: u16,
    direction: Direction,
    expire_ns: u64,
    /// foldhash: several times faster than SipHash on these 4-tuples, and seeded per process,
    /// so crafted addresses cannot aim at collisions.
    streams: HashMap<Connection, Stream<C>, RandomState>,
    shared: Shared<'s>,
    open_streams: u64,
    last_sweep_ns: u64,
    last_evict_ns: u64,
}

struct Pending {
    data: Vec<u8>,
    ts_ns: u64,
}

struct Stream<C> {
    conn: Connection,
    consumer: C,
    open: bool,
    /// The sending side's initial sequence number, when its SYN (or, for a client, the
    /// server's SYN-ACK) was seen.
    isn: Option<u32>,
    /// Sequence number and absolute offset of the next byte to deliver.
    next_seq: u32,
    next_abs: u64,
    /// Out-of-order segments by absolute offset.
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// When the current hole (gap before the first pending segment) was first seen.
    hole_since_ns: u64,
    /// Highest absolute offset the peer acknowledged.
    acked_abs: u64,
    fin_abs: Option<u64>,
    last_seen_ns: u64,
    /// Bytes the consumer held after the last call, for the total-memory account.
    consumer_buffered: usize,
}

impl<'s, C> Reassembler<'s, C> {
    /// A reassembler for client streams to `server_port`, holding no more than `limits`;
    /// a stream idle for `expire_ns` nanoseconds of capture time is ended (flushed, then
    /// forgotten). Counters go to `stats` (`reassembly_gaps`, `dropped_over_cap`, `streams`).
    pub fn new(
        server_port: u16,
        limits: ReassemblyLimits,
        expire_ns: u64,
        stats: &'s CaptureStats,
    ) -> Self {
        let counters = Counters {
            gaps: &stats.reassembly_gaps,
            over_cap: &stats.dropped_over_cap,
            streams: &stats.streams,
        };
        Self::with(
            server_port,
            Direction::ToServer,
            limits,
            expire_ns,
            counters,
        )
    }

    /// The same for the server's streams (the responses), with the same guarantees; the
    /// client's packets are the evidence. Its own `limits` (the request side's are not
    /// shared), and its own counters (`response_gaps`, `response_dropped_over_cap`,
    /// `response_streams`).
    pub fn responses(
        server_port: u16,
        limits: ReassemblyLimits,
        expire_ns: u64,
        stats: &'s CaptureStats,
    ) -> Self {
        let counters = Counters {
            gaps: &stats.response_gaps,
            over_cap: &stats.response_dropped_over_cap,
            streams: &stats.response_streams,
        };
        Self::with(
            server_port,
            Direction::ToClient,
            limits,
            expire_ns,
            counters,
        )
    }

    fn with(
        server_port: u16,
        direction: Direction,
        limits: ReassemblyLimits,
        expire_ns: u64,
        counters: Counters<'s>,
    ) -> Self {
        Reassembler {
            server_port,
            direction,
            expire_ns: expire_ns.max(1),
            streams: HashMap::with_hasher(RandomState::default()),
            shared: Shared {
                limits,
                counters,
                buffered_total: 0,
                pending_total: 0,
            },
            open_streams: 0,
            last_sweep_ns: 0,
            last_evict_ns: 0,
        }
    }

    /// Bytes held across all streams (out-of-order segments and consumer buffers).
    pub fn buffered_bytes(&self) -> usize {
        self.shared.buffered_total
    }

    fn publish_stream_count(&mut self) {
        self.open_streams = self.streams.values().filter(|s| s.open).count() as u64;
        self.shared
            .counters
            .streams
            .store(self.open_streams, Relaxed);
    }
}

impl<'s, C> Reassembler<'s, C> {
    /// Feeds one decoded segment captured at `ts_ns`.
    pub fn segment<X: ?Sized>(&mut self, seg: &TcpSegment<'_>, ts_ns: u64, cx: &mut X)
    where
        C: Consumer<X>,
    {
        let to_server = seg.dst.port() == self.server_port;
        if to_server || seg.src.port() == self.server_port {
            let conn = if to_server {
                Connection {
                    client: seg.src,
                    server: seg.dst,
                }
            } else {
                Connection {
                    client: seg.dst,
                    server: seg.src,
                }
            };
            if to_server == (self.direction == Direction::ToServer) {
                self.data_segment(seg, conn, ts_ns, cx);
            } else {
                self.evidence_segment(seg, conn, ts_ns, cx);
            }
        }
        if ts_ns >= self.last_sweep_ns + SWEEP_INTERVAL_NS {
            self.sweep(ts_ns, cx);
        }
    }

    /// A segment of the direction being reassembled.
    fn data_segment<X: ?Sized>(
        &mut self,
        seg: &TcpSegment<'_>,
        conn: Connection,
        ts_ns: u64,
        cx: &mut X,
    ) where
        C: Consumer<X>,
    {
        if let Some(stream) = self.streams.get_mut(&conn) {
            let was_open = stream.open;
            stream.data_segment(seg, ts_ns, cx, &mut self.shared);
            let now_open = stream.open;
            if was_open != now_open {
                self.count_transition(now_open);
            }
            return;
        }
        // Pure ACKs, FINs and RSTs of connections we never saw carry nothing to start on.
        if seg.payload.is_empty() && !seg.flags.syn {
            return;
        }
        if !self.make_room(ts_ns, !seg.payload.is_empty(), cx) {
            return;
        }
        let mut stream: Stream<C> = Stream::new(conn, seg.seq, ts_ns);
        if !seg.flags.syn {
            // Mid-connection start: the consumer must find the next message boundary.
            stream.consumer.gap(cx, &conn, None);
        }
        stream.data_segment(seg, ts_ns, cx, &mut self.shared);
        let open = stream.open;
        self.streams.insert(conn, stream);
        if open {
            self.count_transition(true);
        }
    }

    /// Keeps the open-stream count (and its published copy) in step when a stream opens or
    /// closes, without walking the map.
    fn count_transition(&mut self, now_open: bool) {
        if now_open {
            self.open_streams += 1;
        } else {
            self.open_streams = self.open_streams.saturating_sub(1);
        }
        self.shared
            .counters
            .streams
            .store(self.open_streams, Relaxed);
    }

    /// A segment of the other direction: evidence about the streams being reassembled.
    fn evidence_segment<X: ?Sized>(
        &mut self,
        seg: &TcpSegment<'_>,
        conn: Connection,
        ts_ns: u64,
        cx: &mut X,
    ) where
        C: Consumer<X>,
    {
        // The peer's ACKs only matter while some stream waits behind a hole; skipping them
        // otherwise saves a lookup for half the packets of a capture.
        if !seg.flags.syn && !seg.flags.rst && self.shared.pending_total == 0 {
            return;
        }
        match self.streams.get_mut(&conn) {
            Some(stream) if stream.open => {
                stream.last_seen_ns = ts_ns;
                if seg.flags.rst {
                    // The peer dropped the connection: nothing more this side sends counts.
                    stream.finish(cx, &mut self.shared);
                    self.count_transition(false);
                } else if seg.flags.ack {
                    stream.peer_ack(seg.ack, ts_ns, cx, &mut self.shared);
                }
            }
            Some(_) => {}
            None if seg.flags.syn && seg.flags.ack => {
                // We missed the client's SYN, but the SYN-ACK says where its stream starts.
                // (Only a client stream is started so: a client sends no SYN-ACK.)
                if !self.make_room(ts_ns, false, cx) {
                    return;
                }
                let mut stream = Stream::new(conn, seg.ack, ts_ns);
                stream.isn = Some(seg.ack.wrapping_sub(1));
                self.streams.insert(conn, stream);
                self.count_transition(true);
            }
            None => {}
        }
    }

    /// Makes room for one more stream; false (and counted) when the cap is reached even after
    /// forgetting closed and idle streams.
    ///
    /// A stream opened by a bare handshake (`carries_data` false) may not take the last
    /// quarter of the table: a flood of SYNs from many sources that never send a byte must
    /// leave room for connections that do (one whose SYN was refused still gets a stream at
    /// its first data segment, and the framer finds the request line there).
    fn make_room<X: ?Sized>(&mut self, now_ns: u64, carries_data: bool, cx: &mut X) -> bool
    where
        C: Consumer<X>,
    {
        let table = self.shared.limits.max_streams.max(1);
        let max = if carries_data {
            table
        } else {
            table - table / 4
        };
        if self.streams.len() < max {
            return true;
        }
        // Walking every stream is costly: under a flood of new connections at the cap, do it
        // at most ten times a second (capture time), and refuse the rest.
        if now_ns >= self.last_evict_ns + SWEEP_INTERVAL_NS / 10 || now_ns < self.last_evict_ns {
            self.last_evict_ns = now_ns;
            self.streams.retain(|_, s| s.open);
            self.sweep(now_ns, cx);
            if self.streams.len() < max {
                return true;
            }
        }
        self.shared.counters.over_cap.fetch_add(1, Relaxed);
        false
    }

    /// Ends idle streams, forgets old closed ones and gives up on stale holes. Called by
    /// [`Reassembler::segment`] as capture time passes, and by the pipeline on a live capture's
    /// quiet moments with the wall clock.
    pub fn sweep<X: ?Sized>(&mut self, now_ns: u64, cx: &mut X)
    where
        C: Consumer<X>,
    {
        self.last_sweep_ns = now_ns;
        let expire = self.expire_ns;
        let closed_ttl = CLOSED_TTL_NS.min(expire);
        let shared = &mut self.shared;
        self.streams.retain(|_, stream| {
            let idle = now_ns.saturating_sub(stream.last_seen_ns);
            if stream.open {
                if idle >= expire {
                    stream.finish(cx, shared);
                    // Forgotten right away: after this long, a retransmission is not coming.
                    return false;
                }
                stream.check_hole(now_ns, cx, shared);
                true
            } else {
                idle < closed_ttl
            }
        });
        self.publish_stream_count();
    }

    /// End of input: every stream gives up its holes, delivers all it holds, and ends.
    pub fn finish<X: ?Sized>(&mut self, cx: &mut X)
    where
        C: Consumer<X>,
    {
        // A stable order makes runs reproducible; order between connections carries no meaning.
        let mut conns: Vec<Connection> = self.streams.keys().copied().collect();
        conns.sort_unstable();
        for conn in conns {
            if let Some(mut stream) = self.streams.remove(&conn) {
                if stream.open {
                    stream.finish(cx, &mut self.shared);
                }
            }
        }
        self.publish_stream_count();
    }
}

impl<C> Stream<C> {
    fn new(conn: Connection, next_seq: u32, ts_ns: u64) -> Self
    where
        C: Default,
    {
        Stream {
            conn,
            consumer: C::default(),
            open: true,
            isn: None,
            next_seq,
            next_abs: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            hole_since_ns: ts_ns,
            acked_abs: 0,
            fin_abs: None,
            last_seen_ns: ts_ns,
            consumer_buffered: 0,
        }
    }

    /// Absolute offset of a sequence number near the delivery point (within ±2 GiB).
    fn abs(&self, seq: u32) -> u64 {
        let delta = seq.wrapping_sub(self.next_seq) as i32 as i64;
        (self.next_abs as i64 + delta).max(0) as u64
    }

    fn data_segment<X: ?Sized>(
        &mut self,
        seg: &TcpSegment<'_>,
        ts_ns: u64,
        cx: &mut X,
        shared: &mut Shared<'_>,
    ) where
        C: Consumer<X>,
    {
        self.last_seen_ns = ts_ns;
        if seg.flags.syn {
            match self.isn {
                // A retransmitted SYN, or a late copy of the SYN of a stream that carried data.
                Some(isn) if isn == seg.seq && (self.open || self.next_abs > 0) => {}
                None if self.next_abs == 0
                    && self.pending.is_empty()
                    && seg.seq.wrapping_add(1) == self.next_seq =>
                {
                    self.isn = Some(seg.seq);
                }
                None if self.next_abs == 0 && self.pending.is_empty() => {
                    // The first segment we saw was data that turns out to follow this SYN.
                    // Start over from the SYN, as a stream with a known beginning.
                    self.restart(seg.seq, ts_ns, shared);
                }
                _ => {
                    // A new connection on the same 4-tuple (port reuse), or the same SYN
                    // tried again after a reset that ended the stream before any byte: the
                    // server still held an old connection on these ports and answered the
                    // first SYN with a bare ACK, the client reset, and retries (same initial
                    // sequence number) once the server has let the old one go.
                    if self.open {
                        self.finish(cx, shared);
                    }
                    self.restart(seg.seq, ts_ns, shared);
                }
            }
        }
        if !self.open {
            // A late retransmission on a closed stream, its SYN included: what it carries
            // was delivered (or given up on) before the stream closed.
            return;
        }
        if seg.flags.rst {
            self.finish(cx, shared);
            return;
        }
        let data_seq = seg.seq.wrapping_add(seg.flags.syn as u32);
        if !seg.payload.is_empty() {
            self.place(data_seq, seg.payload, ts_ns, cx, shared);
        }
        if seg.flags.fin {
            let fin = self.abs(data_seq.wrapping_add(seg.payload.len() as u32));
            self.fin_abs = Some(fin);
        }
        self.check_hole(ts_ns, cx, shared);
        if self.fin_abs.is_some_and(|fin| self.next_abs >= fin) && self.pending.is_empty() {
            self.end(cx, shared);
        }
    }

    fn restart(&mut self, isn: u32, ts_ns: u64, shared: &mut Shared<'_>)
    where
        C: Default,
    {
        self.release(shared);
        self.consumer = C::default();
        let conn = self.conn;
        *self = Stream::new(conn, isn.wrapping_add(1), ts_ns);
        self.isn = Some(isn);
    }

    fn peer_ack<X: ?Sized>(&mut self, ack: u32, ts_ns: u64, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        let acked = self.abs(ack);
        if acked > self.acked_abs {
            self.acked_abs = acked;
        }
        self.check_hole(ts_ns, cx, shared);
    }

    /// Places a segment's payload that starts at sequence number `seq`.
    fn place<X: ?Sized>(
        &mut self,
        seq: u32,
        data: &[u8],
        ts_ns: u64,
        cx: &mut X,
        shared: &mut Shared<'_>,
    ) where
        C: Consumer<X>,
    {
        let delta = seq.wrapping_sub(self.next_seq) as i32 as i64;
        if delta <= 0 {
            // Starts at or before the delivery point: deliver what is new, if anything.
            let already = delta.unsigned_abs() as usize;
            if already < data.len() {
                self.deliver(&data[already..], ts_ns, cx, shared);
                self.drain_pending(ts_ns, cx, shared);
            }
            return;
        }
        let start = self.next_abs + delta as u64;
        if let Some(existing) = self.pending.get(&start) {
            if existing.data.len() >= data.len() {
                return; // a duplicate of a segment already waiting
            }
        }
        let limits = shared.limits;
        if self.pending_bytes + self.consumer_buffered + data.len() > limits.max_stream_bytes {
            // This stream cannot hold more while it waits: give up on the hole now.
            self.skip_hole(cx, shared);
            if seq.wrapping_sub(self.next_seq) as i32 <= 0 {
                self.place(seq, data, ts_ns, cx, shared);
                return;
            }
            if self.pending_bytes + self.consumer_buffered + data.len() > limits.max_stream_bytes {
                shared.counters.over_cap.fetch_add(1, Relaxed);
                return;
            }
        }
        if shared.buffered_total + data.len() > limits.max_total_bytes {
            shared.counters.over_cap.fetch_add(1, Relaxed);
            return;
        }
        if self.pending.is_empty() {
            self.hole_since_ns = ts_ns;
        }
        let added = Pending {
            data: data.to_vec(),
            ts_ns,
        };
        let replaced = self.pending.insert(start, added);
        let freed = replaced.map_or(0, |p| p.data.len());
        self.pending_bytes = self.pending_bytes + data.len() - freed;
        shared.buffered_total = shared.buffered_total + data.len() - freed;
        shared.pending_total = shared.pending_total + data.len() - freed;
    }

    /// Hands in-order bytes to the consumer and advances the delivery point.
    fn deliver<X: ?Sized>(&mut self, data: &[u8], ts_ns: u64, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        let limits = shared.limits;
        let stream_room = limits.max_stream_bytes.saturating_sub(self.pending_bytes);
        let total_room = limits
            .max_total_bytes
            .saturating_sub(shared.buffered_total)
            .saturating_add(self.consumer_buffered);
        self.consumer
            .data(cx, &self.conn, data, ts_ns, stream_room.min(total_room));
        self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        self.next_abs += data.len() as u64;
        self.account_consumer(shared);
    }

    /// Brings the total-memory account up to date with what the consumer now holds.
    fn account_consumer(&mut self, shared: &mut Shared<'_>)
    where
        C: Buffered,
    {
        let now = self.consumer.buffered();
        shared.buffered_total = shared.buffered_total - self.consumer_buffered + now;
        self.consumer_buffered = now;
    }

    /// Delivers waiting segments that the delivery point has reached.
    fn drain_pending<X: ?Sized>(&mut self, ts_ns: u64, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next_abs {
                break;
            }
            let segment = entry.remove();
            self.pending_bytes -= segment.data.len();
            shared.buffered_total -= segment.data.len();
            shared.pending_total -= segment.data.len();
            let end = start + segment.data.len() as u64;
            if end > self.next_abs {
                let skip = (self.next_abs - start) as usize;
                self.deliver(&segment.data[skip..], segment.ts_ns, cx, shared);
            }
        }
        // What still waits sits behind a new hole, which starts its clock now.
        self.hole_since_ns = ts_ns;
    }

    /// Declares the hole before the first waiting segment lost, and moves on past it.
    fn skip_hole<X: ?Sized>(&mut self, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        let Some((&start, first)) = self.pending.first_key_value() else {
            return;
        };
        let ts_ns = first.ts_ns;
        if start > self.next_abs {
            let missing = start - self.next_abs;
            self.consumer.gap(cx, &self.conn, Some(missing));
            self.account_consumer(shared);
            shared.counters.gaps.fetch_add(1, Relaxed);
            self.next_seq = self.next_seq.wrapping_add(missing as u32);
            self.next_abs = start;
        }
        self.drain_pending(ts_ns, cx, shared);
    }

    /// Gives up on the current hole when waiting for it is pointless.
    fn check_hole<X: ?Sized>(&mut self, now_ns: u64, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        while !self.pending.is_empty() {
            let waited = now_ns.saturating_sub(self.hole_since_ns);
            let acked_past = self.acked_abs > self.next_abs;
            if waited >= HOLE_TIMEOUT_NS || (acked_past && waited >= ACKED_HOLE_TIMEOUT_NS) {
                self.skip_hole(cx, shared);
                self.hole_since_ns = now_ns;
            } else {
                break;
            }
        }
    }

    /// Ends the stream with whatever it has: holes are given up, waiting data delivered.
    fn finish<X: ?Sized>(&mut self, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        while !self.pending.is_empty() {
            self.skip_hole(cx, shared);
        }
        if let Some(fin) = self.fin_abs {
            if fin > self.next_abs {
                // Bytes between the last we saw and the FIN never arrived.
                self.consumer.gap(cx, &self.conn, Some(fin - self.next_abs));
                self.account_consumer(shared);
                shared.counters.gaps.fetch_add(1, Relaxed);
                self.next_abs = fin;
            }
        }
        self.end(cx, shared);
    }

    fn end<X: ?Sized>(&mut self, cx: &mut X, shared: &mut Shared<'_>)
    where
        C: Consumer<X>,
    {
        self.consumer.end(cx, &self.conn);
        self.account_consumer(shared);
        self.release(shared);
        self.consumer = C::default();
        self.open = false;
    }

    /// Returns everything this stream holds to the total-memory account.
    fn release(&mut self, shared: &mut Shared<'_>) {
        shared.buffered_total -= self.pending_bytes + self.consumer_buffered;
        shared.pending_total -= self.pending_bytes;
        self.pending.clear();
        self.pending_bytes = 0;
        self.consumer_buffered = 0;
    }
}
