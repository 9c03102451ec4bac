//! The retry decision, as a pure function: [`RetryPolicy`].

use std::time::Duration;

use crate::{Disposition, Error, Result};

/// When a failed delivery is tried again, and when it is given up (dead-lettered).
///
/// After the `n`-th failed attempt the delay is `initial · 2ⁿ⁻¹`, capped at `max_delay`, then
/// scaled by a jitter factor in `[0.5, 1)` so that many failures at once do not come back at
/// once. After `max_attempts` attempts the delivery goes to the dead letters. A delivery whose
/// handler crashed the process counts that as an attempt too, so a payload that kills every
/// worker ends up dead-lettered instead of killing them forever.
///
/// ```
/// use std::time::Duration;
/// use harbor_receiver::{Disposition, RetryPolicy};
///
/// let policy = RetryPolicy::new(3)?.initial_delay(Duration::from_secs(2));
/// // The jitter is an argument, so the decision is a pure function (0.0 = half the delay).
/// assert_eq!(policy.decide(1, 0.0), Disposition::RetryAfter(Duration::from_secs(1)));
/// assert_eq!(policy.decide(2, 0.0), Disposition::RetryAfter(Duration::from_secs(2)));
/// assert_eq!(policy.decide(3, 0.0), Disposition::DeadLetter);
/// # Ok::<(), harbor_receiver::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 1 s after the first failure, doubling up to 5 minutes.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `max_attempts` attempts in all (1: no retry).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for 0 attempts.
    pub fn new(max_attempts: u32) -> Result<RetryPolicy> {
        if max_attempts == 0 {
            return Err(Error::Config {
                message: "a retry policy needs at least 1 attempt".to_owned(),
            });
        }
        Ok(RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        })
    }

    /// The delay after the first failure (before jitter).
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest delay (before jitter).
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How many attempts in all before a delivery is dead-lettered.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether attempt `attempt` (1-based) is the last: if it fails, the delivery is
    /// dead-lettered, not retried. A handler can act differently on its last chance (say,
    /// fail closed rather than wait for a scan still running).
    pub fn is_last_attempt(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }

    /// The decision after attempt `attempt` (1-based) failed; `jitter` in `[0, 1)` picks the
    /// point in `[delay/2, delay)` (values outside are clamped).
    pub fn decide(&self, attempt: u32, jitter: f64) -> Disposition {
        if self.is_last_attempt(attempt) {
            return Disposition::DeadLetter;
        }
        let doublings = attempt.saturating_sub(1).min(31);
        let delay = self
            .initial_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        let factor = 0.5 + jitter.clamp(0.0, 1.0) / 2.0;
        // `mul_f64` panics past `Duration::MAX` (a factor of 1 rounds `MAX` up).
        Disposition::RetryAfter(
            Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(delay),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_stays_in_range() {
        let policy = RetryPolicy::new(40)
            .unwrap()
            .initial_delay(Duration::from_secs(1))
            .max_delay(Duration::from_secs(10));
        let at = |n, j| match policy.decide(n, j) {
            Disposition::RetryAfter(d) => d,
            Disposition::DeadLetter => panic!("dead at {n}"),
        };
        assert_eq!(at(1, 1.0), Duration::from_secs(1));
        assert_eq!(at(3, 1.0), Duration::from_secs(4));
        assert_eq!(at(4, 0.0), Duration::from_secs(4));
        assert_eq!(at(39, 1.0), Duration::from_secs(10));
        assert_eq!(at(2, 7.0), at(2, 1.0));
        assert_eq!(at(2, -1.0), at(2, 0.0));
        assert_eq!(policy.decide(40, 0.3), Disposition::DeadLetter);
        assert_eq!(policy.decide(u32::MAX, 0.3), Disposition::DeadLetter);
        // The last attempt is the one whose failure is dead-lettered.
        assert!(!policy.is_last_attempt(39));
        assert!(policy.is_last_attempt(40));
    }

    #[test]
    fn one_attempt_means_no_retry_and_zero_is_refused() {
        assert_eq!(
            RetryPolicy::new(1).unwrap().decide(1, 0.5),
            Disposition::DeadLetter
        );
        assert!(RetryPolicy::new(0).is_err());
    }
}
