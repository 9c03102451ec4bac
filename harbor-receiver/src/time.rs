//! Durations from users (a wait, a lease, a window, a retry delay) added to clocks without
//! overflow: one too long to add, such as `Duration::MAX` meant as "never", is a century.

use std::time::Duration;

use tokio::time::Instant;

/// A century: longer than any process runs.
pub(crate) const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `by` after `from`, or a century after it when `by` is too long to add.
pub(crate) fn later(from: Instant, by: Duration) -> Instant {
    from.checked_add(by).unwrap_or_else(|| from + CENTURY)
}

/// `d` in milliseconds, at most `i64::MAX` (the SQLite inbox's times).
#[cfg(any(feature = "sqlite", test))]
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_too_long_to_add_saturate() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(later(now, Duration::MAX), now + CENTURY);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }
}
