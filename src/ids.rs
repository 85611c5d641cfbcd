//! Ids and the clock.
//!
//! Records get UUID v7 ids (time-ordered, random in the rest) so that sorting by id sorts by
//! creation and ids never collide between devices. Devices get UUID v4 ids.
//!
//! [`Source`] is where the store takes "now" and new ids from. Normally that is the system clock
//! and the operating system's randomness; demo data and golden tests use a seeded source so
//! that the same seed gives the same ids and times on every machine.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::model::ValidationError;

/// A small, fast, deterministic pseudo-random generator (SplitMix64).
///
/// Used for demo data and tests, never for secrets. Its output for a seed never changes, which
/// the golden tests rely on.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p` (0.0–1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Where "now" and new ids come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The system clock and OS randomness.
    System,
    /// A fixed start time that advances one second per call to `now`, and seeded ids.
    Seeded {
        /// The generator for ids.
        rng: SplitMix64,
        /// The next time `now` returns.
        next: DateTime<Utc>,
    },
}

impl Source {
    /// A deterministic source.
    pub fn seeded(seed: u64, start: DateTime<Utc>) -> Self {
        Source::Seeded {
            rng: SplitMix64::new(seed),
            next: start,
        }
    }

    /// The current time.
    pub fn now(&mut self) -> DateTime<Utc> {
        match self {
            Source::System => Utc::now(),
            Source::Seeded { next, .. } => {
                let t = *next;
                *next = t + Duration::seconds(1);
                t
            }
        }
    }

    /// The time `now` would return next, without moving a seeded clock on.
    pub fn peek(&self) -> DateTime<Utc> {
        match self {
            Source::System => Utc::now(),
            Source::Seeded { next, .. } => *next,
        }
    }

    /// A new record id whose time part is `at`.
    pub fn new_id(&mut self, at: DateTime<Utc>) -> String {
        match self {
            Source::System => Uuid::now_v7().to_string(),
            Source::Seeded { rng, .. } => {
                let mut bytes = [0u8; 10];
                let a = rng.next_u64().to_le_bytes();
                let b = rng.next_u64().to_le_bytes();
                bytes[..8].copy_from_slice(&a);
                bytes[8..].copy_from_slice(&b[..2]);
                let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
                uuid::Builder::from_unix_timestamp_millis(ms, &bytes)
                    .into_uuid()
                    .to_string()
            }
        }
    }
}

/// A new random device id.
pub fn new_device_id() -> Uuid {
    Uuid::new_v4()
}

/// A new random key for one form, so that the form saved twice (its draft brought back after
/// a reload in the moment after the save) makes one record (`store::Writer::saved`).
pub fn new_save_key() -> String {
    Uuid::new_v4().to_string()
}

/// Check that `s` is a well-formed id and return it in canonical (lower-case, hyphenated) form.
pub fn parse_id(s: &str) -> Result<String, ValidationError> {
    Uuid::parse_str(s.trim())
        .map(|u| u.to_string())
        .map_err(|_| ValidationError::Id(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sources_repeat_and_ids_sort_by_time() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut a = Source::seeded(7, start);
        let mut b = Source::seeded(7, start);
        let t1 = a.now();
        let t2 = a.now();
        assert!(t2 > t1);
        let ida = a.new_id(t1);
        assert_eq!(ida, b.new_id(t1));
        let later = a.new_id(t2);
        assert!(later > ida, "v7 ids sort by time");
        assert_eq!(Uuid::parse_str(&ida).unwrap().get_version_num(), 7);
    }

    #[test]
    fn ids_are_checked() {
        assert!(parse_id("not-an-id").is_err());
        let id = Uuid::now_v7().to_string().to_uppercase();
        assert_eq!(parse_id(&id).unwrap(), id.to_lowercase());
    }
}
