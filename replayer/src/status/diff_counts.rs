//! The comparison's figures: per-pair outcomes counted (totals and per-second buckets use
//! the same [`DiffCounts`]) and the routes whose answers differ most ([`RouteTable`]).
//!
//! Counting follows the status document's rule that every compared pair is exactly one of
//! same, differing or noisy: a pair whose only causes are body ones, on a request production
//! answers differently each time, is noisy; on such a request a pair with other causes too
//! is differing by those others only.

use crate::diff::compare::{Cause, Causes};
use crate::diff::route;
use replayer_status::schema::{DiffCounters, DiffExample, DiffRoute};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

/// Routes kept in [`RouteTable`]; differences on routes beyond it are still counted in the
/// totals, only not by route. A bound, so hostile URLs cannot grow the table.
pub const MAX_ROUTES: usize = 1000;
/// Routes the status document lists.
pub const TOP_ROUTES: usize = 10;

/// What became of one (request, target) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Both answers known and compared.
    Compared {
        /// What differs (empty: alike).
        causes: Causes,
        /// Production answers this request differently each time.
        noisy: bool,
        /// Staging took over the ratio and margin longer.
        slower: bool,
    },
    /// Staging answered; production's answer was never captured.
    ProdMissing,
    /// Not tracked: the comparison's table was full.
    Untracked,
}

impl DiffOutcome {
    /// The causes that count: body ones left out on a noisy request.
    pub fn counted_causes(&self) -> Causes {
        match *self {
            DiffOutcome::Compared {
                causes,
                noisy: true,
                ..
            } => causes.without_body(),
            DiffOutcome::Compared { causes, .. } => causes,
            DiffOutcome::ProdMissing | DiffOutcome::Untracked => Causes::default(),
        }
    }
}

/// The counters of [`DiffCounters`], as atomics.
#[derive(Default)]
pub struct DiffCounts {
    compared: AtomicU64,
    same: AtomicU64,
    differing: AtomicU64,
    by_cause: [AtomicU64; Cause::ALL.len()],
    noisy: AtomicU64,
    prod_missing: AtomicU64,
    slower: AtomicU64,
    untracked: AtomicU64,
}

impl DiffCounts {
    /// Counts one outcome.
    pub fn record(&self, outcome: &DiffOutcome) {
        let (causes, slower) = match *outcome {
            DiffOutcome::Compared { causes, slower, .. } => (causes, slower),
            DiffOutcome::ProdMissing => {
                self.prod_missing.fetch_add(1, Relaxed);
                return;
            }
            DiffOutcome::Untracked => {
                self.untracked.fetch_add(1, Relaxed);
                return;
            }
        };
        self.compared.fetch_add(1, Relaxed);
        if slower {
            self.slower.fetch_add(1, Relaxed);
        }
        let counted = outcome.counted_causes();
        if !counted.is_empty() {
            self.differing.fetch_add(1, Relaxed);
            for cause in counted.iter() {
                self.by_cause[cause as usize].fetch_add(1, Relaxed);
            }
        } else if causes.is_empty() {
            self.same.fetch_add(1, Relaxed);
        } else {
            self.noisy.fetch_add(1, Relaxed);
        }
    }

    /// Zeroes every counter (a bucket reused for a new second).
    pub fn clear(&self) {
        let scalars = [
            &self.compared,
            &self.same,
            &self.differing,
            &self.noisy,
            &self.prod_missing,
            &self.slower,
            &self.untracked,
        ];
        for counter in scalars.into_iter().chain(&self.by_cause) {
            counter.store(0, Relaxed);
        }
    }

    /// Adds these counts into `into` (summing the buckets of a window); every cause key
    /// ends up present.
    pub fn add_to(&self, into: &mut DiffCounters) {
        into.compared += self.compared.load(Relaxed);
        into.same += self.same.load(Relaxed);
        into.differing += self.differing.load(Relaxed);
        into.noisy += self.noisy.load(Relaxed);
        into.prod_missing += self.prod_missing.load(Relaxed);
        into.slower += self.slower.load(Relaxed);
        into.untracked += self.untracked.load(Relaxed);
        for cause in Cause::ALL {
            *into.by_cause.entry(cause.key().to_string()).or_default() +=
                self.by_cause[cause as usize].load(Relaxed);
        }
    }
}

/// One differing pair, for the route table.
#[derive(Debug, Clone, Copy)]
pub struct Example<'a> {
    /// The request's id: of a route's differing pairs, the earliest request is its example,
    /// whatever order the answers came in.
    pub id: u64,
    /// The request's method.
    pub method: &'a str,
    /// The request-target as captured.
    pub target: &'a str,
    /// Production's status.
    pub production_status: u16,
    /// Staging's status.
    pub staging_status: u16,
}

/// Differing pairs by route, each with its earliest request as the example.
#[derive(Default)]
pub struct RouteTable {
    /// By route: the figures, and the id of the request the example is.
    routes: Mutex<HashMap<String, (DiffRoute, u64)>>,
}

impl RouteTable {
    /// Counts a differing pair under its route. Only differing pairs come here, so the
    /// template (an allocation) is made off the common path.
    pub fn record(&self, example: Example<'_>, causes: Causes) {
        if causes.is_empty() {
            return;
        }
        let key = format!("{} {}", example.method, route::template(example.target));
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if !routes.contains_key(&key) && routes.len() >= MAX_ROUTES {
            return;
        }
        let described = DiffExample {
            method: example.method.to_string(),
            target: example.target.chars().take(route::MAX_ROUTE).collect(),
            production_status: example.production_status,
            staging_status: example.staging_status,
            cause: causes.iter().map(Cause::key).collect::<Vec<_>>().join(","),
        };
        let (entry, example_id) = routes.entry(key).or_insert_with_key(|key| {
            let route = DiffRoute {
                route: key.clone(),
                ..DiffRoute::default()
            };
            (route, u64::MAX)
        });
        if example.id < *example_id {
            *example_id = example.id;
            entry.example = described;
        }
        entry.differing += 1;
        for cause in causes.iter() {
            *entry.by_cause.entry(cause.key().to_string()).or_default() += 1;
        }
    }

    /// The `n` routes with the most differing pairs, most first (ties by route, for a
    /// stable order).
    pub fn top(&self, n: usize) -> Vec<DiffRoute> {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<&DiffRoute> = routes.values().map(|(route, _)| route).collect();
        all.sort_by(|a, b| b.differing.cmp(&a.differing).then(a.route.cmp(&b.route)));
        all.into_iter().take(n).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn causes(list: &[Cause]) -> Causes {
        let mut c = Causes::default();
        list.iter().for_each(|x| c.insert(*x));
        c
    }

    fn compared(list: &[Cause], noisy: bool) -> DiffOutcome {
        DiffOutcome::Compared {
            causes: causes(list),
            noisy,
            slower: false,
        }
    }

    #[test]
    fn every_pair_is_same_differing_or_noisy() {
        let counts = DiffCounts::default();
        counts.record(&compared(&[], false));
        counts.record(&compared(&[Cause::Body, Cause::Length], false));
        counts.record(&compared(&[Cause::Body], true));
        counts.record(&compared(&[Cause::Status, Cause::Body], true));
        counts.record(&DiffOutcome::ProdMissing);
        counts.record(&DiffOutcome::Compared {
            causes: Causes::default(),
            noisy: false,
            slower: true,
        });
        let mut c = DiffCounters::default();
        counts.add_to(&mut c);
        assert_eq!(
            (
                c.compared,
                c.same,
                c.differing,
                c.noisy,
                c.prod_missing,
                c.slower
            ),
            (5, 2, 2, 1, 1, 1)
        );
        assert_eq!(c.compared, c.same + c.differing + c.noisy);
        let by: Vec<(&str, u64)> = c.by_cause.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            by,
            [
                ("body", 1),
                ("content_type", 0),
                ("length", 1),
                ("location", 0),
                ("status", 1),
                ("status_class", 0)
            ]
        );
        counts.clear();
        let mut c = DiffCounters::default();
        counts.add_to(&mut c);
        assert_eq!(c.compared + c.prod_missing, 0);
    }

    #[test]
    fn routes_group_by_template_most_first() {
        let table = RouteTable::default();
        let example = |id, target| Example {
            id,
            method: "GET",
            target,
            production_status: 200,
            staging_status: 404,
        };
        // Answers come in any order; the earliest request is the example.
        table.record(
            example(2, "/moved/2"),
            causes(&[Cause::Status, Cause::StatusClass]),
        );
        table.record(example(1, "/moved/1"), causes(&[Cause::Status]));
        table.record(example(3, "/other"), causes(&[Cause::Body]));
        table.record(example(4, "/same"), Causes::default());
        let top = table.top(10);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].route, "GET /moved/{n}");
        assert_eq!(top[0].differing, 2);
        assert_eq!(top[0].by_cause["status"], 2);
        assert_eq!(top[0].example.target, "/moved/1");
        assert_eq!(top[0].example.cause, "status");
        assert_eq!(top[1].route, "GET /other");
    }
}
