//! Replays a recorded timeline at its recorded pace, scaled: the packets of a capture file
//! (`-input-raw-speed`) and the requests of a record file (`--input-file PATH|200%`).
//!
//! Each item is due at the start time plus the recorded time since the first item, divided
//! by the speed. Due times are absolute, so sleeping late never accumulates: a late item
//! is followed by an early one, and the gaps sent follow the recorded ones to within the
//! scheduler's wake-up latency.
//!
//! Two things GoReplay's users met (its issue #680: a replay stalled for minutes) cannot
//! stall a replay here:
//! - **time going backwards**: the clock is the latest timestamp seen, and an item recorded
//!   before it is due at once;
//! - **long silences** (a recording over a night): `max_wait` caps each gap as recorded,
//!   before the speed applies.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The pace of one replay.
#[derive(Debug)]
pub struct Pace {
    speed: f64,
    max_wait: Option<Duration>,
    /// The latest timestamp seen, and the recorded time up to it (gaps capped).
    clock: Option<(u64, Duration)>,
    started: Option<Instant>,
}

/// How a replay's timeline is scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    /// 1.0 as recorded, 2.0 twice as fast; `f64::INFINITY` as fast as possible.
    pub factor: f64,
    /// Gaps longer than this (as recorded) are cut to it.
    pub max_wait: Option<Duration>,
}

impl Pace {
    /// The longest nap between looks at the stop flag.
    const NAP: Duration = Duration::from_millis(50);

    /// A pace; the clock starts at the first item.
    pub fn new(speed: Speed) -> Pace {
        Pace {
            speed: speed.factor,
            max_wait: speed.max_wait,
            clock: None,
            started: None,
        }
    }

    /// The time an item recorded at `ts_ns` is due, after the start, at this speed (the
    /// item is taken into the timeline: call once per item, in order).
    pub fn offset_of(&mut self, ts_ns: u64) -> Duration {
        let (last, elapsed) = self.clock.get_or_insert((ts_ns, Duration::ZERO));
        if *last == u64::MAX {
            // The first item after a restart.
            *last = ts_ns;
        }
        if ts_ns > *last {
            let mut gap = Duration::from_nanos(ts_ns - *last);
            if let Some(max) = self.max_wait {
                gap = gap.min(max);
            }
            *elapsed += gap;
            *last = ts_ns;
        }
        if self.speed.is_infinite() {
            Duration::ZERO
        } else {
            elapsed.div_f64(self.speed)
        }
    }

    /// Starts the timeline again (`--input-file-loop`): the next item is due at once after
    /// the last one, and the clock goes on from there.
    pub fn restart(&mut self) {
        if let Some((last, _)) = &mut self.clock {
            // Re-anchor on the next item's timestamp, whatever it is.
            *last = u64::MAX;
        }
    }

    /// Waits until the item recorded at `ts_ns` is due; `false` if `stop` came first.
    pub fn wait_for(&mut self, ts_ns: u64, stop: &AtomicBool) -> bool {
        let offset = self.offset_of(ts_ns);
        let due = *self.started.get_or_insert_with(Instant::now) + offset;
        wait_until(due, stop)
    }
}

/// Sleeps until `due`, in naps of at most 50 ms so a stop is noticed at once; `false` if
/// `stop` came first.
pub fn wait_until(due: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        std::thread::sleep((due - now).min(Pace::NAP));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn offsets(speed: Speed, stamps: &[u64]) -> Vec<u64> {
        let mut pace = Pace::new(speed);
        stamps
            .iter()
            .map(|&ts| pace.offset_of(ts).as_millis() as u64)
            .collect()
    }

    fn speed(factor: f64) -> Speed {
        Speed {
            factor,
            max_wait: None,
        }
    }

    #[test]
    fn gaps_are_scaled() {
        let stamps = [1000 * MS, 1010 * MS, 1030 * MS];
        assert_eq!(offsets(speed(1.0), &stamps), [0, 10, 30]);
        assert_eq!(offsets(speed(2.0), &stamps), [0, 5, 15]);
        assert_eq!(offsets(speed(0.5), &stamps), [0, 20, 60]);
        assert_eq!(offsets(speed(f64::INFINITY), &stamps), [0, 0, 0]);
    }

    #[test]
    fn time_going_backwards_never_stalls() {
        // A record an hour early, then the timeline goes on where it was.
        let stamps = [10_000 * MS, 10_010 * MS, 6_400 * MS, 10_020 * MS];
        assert_eq!(offsets(speed(1.0), &stamps), [0, 10, 10, 20]);
    }

    #[test]
    fn long_gaps_are_capped_before_scaling() {
        let capped = Speed {
            factor: 2.0,
            max_wait: Some(Duration::from_millis(100)),
        };
        let stamps = [0, 40 * MS, 3_600_000 * MS, 3_600_040 * MS];
        assert_eq!(offsets(capped, &stamps), [0, 20, 70, 90]);
    }

    #[test]
    fn a_loop_goes_on_from_the_last_item() {
        let mut pace = Pace::new(speed(1.0));
        let stop = AtomicBool::new(false);
        assert!(pace.wait_for(5 * MS, &stop));
        assert!(pace.wait_for(7 * MS, &stop));
        pace.restart();
        let started = Instant::now();
        assert!(
            pace.wait_for(5 * MS, &stop),
            "the loop's first item is due at once"
        );
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(pace.offset_of(8 * MS), Duration::from_millis(5));
        stop.store(true, Relaxed);
        assert!(!pace.wait_for(1_000_000 * MS, &stop));
    }
}
