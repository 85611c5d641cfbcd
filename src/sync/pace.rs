//! How much one sync request may carry on the link as it is: the [`Pace`].
//!
//! A relay request has a deadline (60 s), and a page of the team's log or a push is up to
//! 1 MiB of ciphertext, which hardly compresses. On a weak mobile signal (under about
//! 140 kbit/s) such a request never finishes in time, and trying it again sends the same
//! megabyte again: the sync fails every time and nothing moves. So the engine asks for
//! pages, and sends pushes, no larger than the link has shown it carries in a quarter of the
//! deadline, learning from each answer:
//!
//! - an answer that took longer than that quarter lowers the allowance to what the link
//!   carried in a quarter of the deadline at the rate it showed;
//! - an answer well inside it lets the allowance grow, at most fourfold per answer, up to the
//!   engine's own budget (1 MiB);
//! - a request that timed out quarters the allowance, down to [`FLOOR`]: the engine then asks
//!   again with less, rather than the same again.
//!
//! A notebook's first sync starts at [`START`], a quarter of the budget; the allowance is kept
//! in the notebook between syncs, so a phone on a weak signal does not lose a whole deadline
//! at the start of every sync. Pure: timings and sizes in, allowance out.

use std::time::Duration;

/// The smallest allowance: a page this small is a few seconds even at 32 kbit/s. A single
/// blob larger than the allowance still goes (the relay answers at least one, and a push
/// carries at least one).
pub const FLOOR: u64 = 16 << 10;

/// Where a notebook that never synced starts: a quarter of the engine's usual page, which a
/// link of 100 kbit/s carries in about 20 seconds (no first request lost to the deadline on
/// most weak signals), and which quick answers make 1 MiB by the second request.
pub const START: u64 = 256 << 10;

/// Most an allowance grows after one answer.
const GROWTH: u64 = 4;

/// What a request may carry, learnt from the link's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// What the link was found to carry ([`START`] before anything was learnt).
    allowance: u64,
    /// The engine's own budget for a request, which the allowance never exceeds.
    budget: u64,
    /// Whether an answer came: timeouts alone say nothing of what the link carries (the
    /// relay may be unreachable), so nothing learnt from them alone is kept.
    heard: bool,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            allowance: START,
            budget: u64::MAX,
            heard: false,
        }
    }
}

impl Pace {
    /// A pace resumed at `allowance` bytes (what an earlier sync learnt), at least [`FLOOR`].
    pub fn resumed(allowance: u64) -> Self {
        Pace {
            allowance: allowance.max(FLOOR),
            ..Pace::default()
        }
    }

    /// Bytes the next request may carry under the engine's `budget` (which is kept as the
    /// allowance's ceiling): at most `budget`, and at least [`FLOOR`] unless `budget` is less.
    pub fn allow(&mut self, budget: u64) -> u64 {
        self.budget = budget;
        self.current()
    }

    fn current(&self) -> u64 {
        self.allowance.max(FLOOR).min(self.budget)
    }

    /// The allowance to keep for the next sync: `None` until an answer came.
    pub fn learnt(&self) -> Option<u64> {
        self.heard.then_some(self.allowance)
    }

    /// An answer came: `bytes` crossed the wire (both ways) in `elapsed`, for a request
    /// whose deadline is `patience`.
    pub fn answered(&mut self, bytes: u64, elapsed: Duration, patience: Duration) {
        self.heard = true;
        let target = patience / 4;
        let current = self.current();
        // What the link carries in a quarter of the deadline at the rate this answer showed.
        let millis = elapsed.as_millis().max(1);
        let fits = u128::from(bytes) * target.as_millis() / millis;
        let fits = u64::try_from(fits).unwrap_or(u64::MAX);
        self.allowance = if elapsed > target {
            fits.min(current).max(FLOOR)
        } else {
            fits.max(current)
                .min(current.saturating_mul(GROWTH))
                .min(self.budget)
                .max(FLOOR)
        };
    }

    /// The allowance to resume at after a sync that never ended (its process was ended during
    /// a request, which may have been too large to finish in the time the process had): a
    /// quarter of what was kept, as for a request that timed out, down to [`FLOOR`]. A phone
    /// whose app is killed every few seconds on a weak signal otherwise asks for the same page
    /// every time and never stores one.
    pub fn after_unfinished(kept: Option<u64>) -> u64 {
        let mut pace = kept.map_or_else(Pace::default, Pace::resumed);
        pace.timed_out();
        pace.allowance
    }

    /// A request got no answer in time. Returns whether a smaller one may fit (the
    /// allowance was above [`FLOOR`]; it is now a quarter of what it was).
    pub fn timed_out(&mut self) -> bool {
        let current = self.current();
        self.allowance = (current / GROWTH).max(FLOOR);
        current > FLOOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_fast_link_reaches_the_whole_budget_at_the_second_request_and_keeps_it() {
        let mut pace = Pace::default();
        assert_eq!(pace.allow(MIB), START);
        pace.answered(START, Duration::from_millis(100), MINUTE);
        assert_eq!(pace.allow(MIB), MIB);
        pace.answered(MIB, Duration::from_millis(200), MINUTE);
        assert_eq!(pace.allow(MIB), MIB);
        // A smaller budget is the ceiling.
        assert_eq!(pace.allow(64 << 10), 64 << 10);
    }

    #[test]
    fn a_slow_answer_lowers_the_allowance_to_a_quarter_deadline_of_its_rate() {
        let mut pace = Pace::resumed(MIB);
        pace.allow(MIB);
        // 1 MiB in 40 s: 26 KB/s, so a quarter of a minute carries 15/40 of it.
        pace.answered(MIB, Duration::from_secs(40), MINUTE);
        assert_eq!(pace.allow(MIB), MIB * 15 / 40);
        assert_eq!(pace.learnt(), Some(MIB * 15 / 40));
    }

    #[test]
    fn timeouts_quarter_the_allowance_down_to_the_floor() {
        let mut pace = Pace::resumed(MIB);
        pace.allow(MIB);
        assert!(pace.timed_out());
        assert_eq!(pace.allow(MIB), MIB / 4);
        assert!(pace.timed_out());
        assert!(pace.timed_out());
        assert_eq!(pace.allow(MIB), FLOOR);
        // At the floor nothing smaller may fit: the engine stops shrinking.
        assert!(!pace.timed_out());
        assert_eq!(pace.allow(MIB), FLOOR);
        // Timeouts alone (an unreachable relay, say) teach nothing to keep.
        assert_eq!(pace.learnt(), None);
    }

    #[test]
    fn a_sync_that_never_ended_resumes_at_a_quarter() {
        assert_eq!(Pace::after_unfinished(Some(MIB)), MIB / 4);
        assert_eq!(Pace::after_unfinished(None), START / 4);
        assert_eq!(Pace::after_unfinished(Some(FLOOR)), FLOOR);
        assert_eq!(Pace::after_unfinished(Some(1)), FLOOR);
    }

    #[test]
    fn a_quick_answer_grows_the_allowance_at_most_fourfold() {
        let mut pace = Pace::resumed(FLOOR);
        assert_eq!(pace.allow(MIB), FLOOR);
        pace.answered(FLOOR, Duration::from_millis(50), MINUTE);
        assert_eq!(pace.allow(MIB), 4 * FLOOR);
        pace.answered(4 * FLOOR, Duration::from_millis(50), MINUTE);
        assert_eq!(pace.allow(MIB), 16 * FLOOR);
        pace.answered(16 * FLOOR, Duration::from_millis(50), MINUTE);
        assert_eq!(pace.allow(MIB), MIB);
    }

    #[test]
    fn a_small_quick_answer_does_not_lower_it() {
        // A push of a few changes and an empty page, on a fast link: a low rate, but no sign
        // that more would not fit.
        let mut pace = Pace::resumed(MIB);
        pace.allow(MIB);
        pace.answered(300, Duration::from_millis(400), MINUTE);
        assert_eq!(pace.allow(MIB), MIB);
    }

    proptest! {
        /// Whatever the link does, the allowance stays between the floor and the budget, and
        /// after a slow answer the allowance would have carried that answer's rate within
        /// the deadline's quarter.
        #[test]
        fn the_allowance_stays_within_its_bounds(
            steps in proptest::collection::vec(
                (0u64..4 * MIB, 0u64..120_000, any::<bool>()), 1..40),
            start in proptest::option::of(0u64..4 * MIB),
        ) {
            let mut pace = start.map_or_else(Pace::default, Pace::resumed);
            for (bytes, millis, timeout) in steps {
                let elapsed = Duration::from_millis(millis);
                let before = pace.allow(MIB);
                if timeout {
                    let smaller = pace.timed_out();
                    prop_assert_eq!(smaller, before > FLOOR);
                    prop_assert!(pace.allow(MIB) <= before);
                    if smaller {
                        prop_assert!(pace.allow(MIB) < before);
                    }
                } else {
                    pace.answered(bytes, elapsed, MINUTE);
                    let after = pace.allow(MIB);
                    if elapsed > MINUTE / 4 {
                        let rate = bytes as f64 / elapsed.as_secs_f64();
                        prop_assert!(after as f64 <= (rate * 15.0).max(FLOOR as f64) + 1.0);
                    } else {
                        prop_assert!(after >= before && after <= before * 4);
                    }
                }
                prop_assert!(pace.allow(MIB) >= FLOOR);
                prop_assert!(pace.allow(MIB) <= MIB);
                // A smaller budget is never exceeded, the floor included.
                prop_assert!(pace.allow(4 << 10) <= 4 << 10);
                pace.allow(MIB);
            }
        }
    }
}
