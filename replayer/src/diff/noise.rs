//! `noise`: which requests production itself answers differently each time.
//!
//! A page that shows the time, a CSRF token or a random banner differs between any two
//! answers, staging's or production's. Diffy finds such noise by sending each request to two
//! production instances; passively there is a better witness: production answering the same
//! request (same method and target) twice within [`NoiseConfig::window_ns`], with the same
//! status and different bodies. Such a request is noisy for [`NoiseConfig::hold_ns`] after, and
//! its body-only differences against staging are counted as `noisy`, apart from real ones.
//! A request seen once, or whose repeats agree, is not noisy: its differences are real.
//!
//! Memory is fixed: a table of [`NoiseConfig::slots`] slots addressed by a seeded hash of
//! method and target, one request per slot, a newcomer taking the slot of whatever was
//! there. Losing a slot to another request only forgets noise (a difference then counts as
//! real until the request is seen twice again); it never hides a real difference.

use std::hash::{BuildHasher, Hash, Hasher};

/// How noise is found.
#[derive(Debug, Clone, Copy)]
pub struct NoiseConfig {
    /// Two answers of production further apart than this are not compared with each other.
    pub window_ns: u64,
    /// How long a request stays noisy after production last disagreed with itself.
    pub hold_ns: u64,
    /// Requests remembered (a power of two).
    pub slots: usize,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            window_ns: 60_000_000_000,
            hold_ns: 600_000_000_000,
            slots: 1 << 14,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Hash of method and target; 0 = empty.
    key: u64,
    status: u16,
    body_hash: u64,
    body_len: u64,
    seen_ns: u64,
    noisy_until_ns: u64,
}

/// Production's recent answers, one per request, and which requests are noisy.
pub struct Noise {
    config: NoiseConfig,
    slots: Vec<Slot>,
    hasher: foldhash::fast::RandomState,
}

impl Noise {
    /// An empty table.
    pub fn new(config: NoiseConfig) -> Noise {
        let slots = config.slots.max(1).next_power_of_two();
        Noise {
            config,
            slots: vec![Slot::default(); slots],
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Records production's answer to `method target` at `now_ns` and says whether the
    /// request is noisy now (this answer included).
    pub fn observe(
        &mut self,
        method: &str,
        target: &str,
        status: u16,
        body: (u64, u64),
        now_ns: u64,
    ) -> bool {
        let key = self.key(method, target);
        let index = (key as usize) & (self.slots.len() - 1);
        let slot = &mut self.slots[index];
        let (body_hash, body_len) = body;
        if slot.key == key {
            let recent = now_ns.saturating_sub(slot.seen_ns) <= self.config.window_ns;
            let disagrees =
                slot.status == status && (slot.body_hash != body_hash || slot.body_len != body_len);
            if recent && disagrees {
                slot.noisy_until_ns = now_ns.saturating_add(self.config.hold_ns);
            }
        } else {
            *slot = Slot {
                key,
                ..Slot::default()
            };
        }
        slot.status = status;
        slot.body_hash = body_hash;
        slot.body_len = body_len;
        slot.seen_ns = now_ns;
        now_ns < slot.noisy_until_ns
    }

    /// Whether `method target` is noisy at `now_ns`, without recording anything.
    pub fn is_noisy(&self, method: &str, target: &str, now_ns: u64) -> bool {
        let key = self.key(method, target);
        let slot = &self.slots[(key as usize) & (self.slots.len() - 1)];
        slot.key == key && now_ns < slot.noisy_until_ns
    }

    fn key(&self, method: &str, target: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        method.hash(&mut h);
        target.hash(&mut h);
        h.finish().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn production_disagreeing_with_itself_is_noise() {
        let mut noise = Noise::new(NoiseConfig::default());
        assert!(!noise.observe("GET", "/time", 200, (1, 10), 0));
        assert!(
            noise.observe("GET", "/time", 200, (2, 10), S),
            "changed body"
        );
        assert!(noise.is_noisy("GET", "/time", 2 * S));
        assert!(!noise.is_noisy("HEAD", "/time", 2 * S), "another method");
        assert!(!noise.is_noisy("GET", "/time", 700 * S), "hold is over");
    }

    #[test]
    fn agreeing_repeats_and_far_apart_answers_are_not_noise() {
        let mut noise = Noise::new(NoiseConfig::default());
        assert!(!noise.observe("GET", "/a", 200, (1, 10), 0));
        assert!(!noise.observe("GET", "/a", 200, (1, 10), S));
        assert!(
            !noise.observe("GET", "/a", 200, (2, 10), 100 * S),
            "outside the window"
        );
        assert!(
            !noise.observe("GET", "/a", 304, (0, 0), 101 * S),
            "another status"
        );
    }

    #[test]
    fn a_full_table_forgets_but_never_invents_noise() {
        let mut noise = Noise::new(NoiseConfig {
            slots: 1,
            ..NoiseConfig::default()
        });
        assert!(!noise.observe("GET", "/a", 200, (1, 10), 0));
        assert!(
            !noise.observe("GET", "/b", 200, (2, 10), 1),
            "another request's slot"
        );
        assert!(
            !noise.observe("GET", "/a", 200, (3, 10), 2),
            "/a was forgotten"
        );
    }
}
