//! Users from an htpasswd file with bcrypt hashes, checked in the same time whoever asks.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::hooks::CredentialChecker;
use crate::error::{Error, Result};

/// The bcrypt base64 alphabet.
fn bcrypt_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'/'
}

/// The highest bcrypt cost an htpasswd line may have: the most `htpasswd -B -C` makes. A
/// higher one makes every check of that user's password (and, through the timing dummy, of
/// every unknown user's) take minutes to days: cost 31 is 2^14 times cost 17.
const MAX_BCRYPT_COST: u32 = 17;

/// The cost of a well-formed bcrypt hash (`$2a$`/`$2b$`/`$2y$`, two-digit cost 4 to 31,
/// 22 characters of salt and 31 of hash), or `None`.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let b = hash.as_bytes();
    if b.len() != 60 || !matches!(b.get(..4), Some(b"$2a$" | b"$2b$" | b"$2y$")) {
        return None;
    }
    let cost: u32 = hash.get(4..6)?.parse().ok()?;
    if !(4..=31).contains(&cost) || b.get(6) != Some(&b'$') {
        return None;
    }
    b.get(7..)?.iter().all(|&c| bcrypt_char(c)).then_some(cost)
}

/// Users from an Apache htpasswd file with bcrypt hashes (`htpasswd -B`), the format
/// `docker-registry`'s own htpasswd auth uses.
///
/// A check takes the same time whether the user is unknown, known with a hash of the file's
/// highest cost, or known with a cheaper hash: unknown users are checked against a dummy hash
/// of the highest cost, and a check against a cheaper hash is padded to the time a
/// highest-cost check takes (a running average of the ones seen, so it follows the machine's
/// load). Malformed hashes are refused when the file is read, so they can neither answer
/// faster nor let anyone in.
pub struct Htpasswd {
    users: HashMap<String, (String, u32)>,
    dummy: String,
    max_cost: u32,
    /// A running average of the time one highest-cost check takes, in nanoseconds.
    full_check_nanos: AtomicU64,
}

impl fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("max_cost", &self.max_cost)
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Parses htpasswd text: `user:$2y$...` lines; blank lines and `#` comments are skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Htpasswd`] naming the line (never the hash) when it is not `user:bcrypt-hash`:
    /// MD5, SHA-1 and crypt hashes are refused (regenerate with `htpasswd -B`), and so is a
    /// bcrypt hash that is cut or malformed, or whose cost is above 17 (`htpasswd -B -C`'s
    /// maximum; checking such a password would take minutes to days).
    pub fn parse(text: &str) -> Result<Self> {
        let (users, max_cost) = Self::read(text)?;
        let dummy =
            bcrypt::hash("dummy password for timing", max_cost).map_err(|e| Error::Htpasswd {
                reason: format!("bcrypt unavailable: {e}"),
            })?;
        let htpasswd = Self {
            users,
            dummy,
            max_cost,
            full_check_nanos: AtomicU64::new(0),
        };
        // Measure one highest-cost check now, so the first cheap check is padded right.
        let start = Instant::now();
        let _ = bcrypt::verify("timing probe", &htpasswd.dummy);
        htpasswd.record_full_check(start.elapsed());
        Ok(htpasswd)
    }

    /// What [`Htpasswd::parse`] reads, without the bcrypt work: the user names and the cost of
    /// the dummy hash. For the `auth_htpasswd` fuzz target; only built by `cargo fuzz`
    /// (`--cfg fuzzing`).
    ///
    /// # Errors
    ///
    /// As [`Htpasswd::parse`].
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn fuzz_read(text: &str) -> Result<(Vec<String>, u32)> {
        let (users, cost) = Self::read(text)?;
        Ok((users.into_keys().collect(), cost))
    }

    /// The users (name to hash and cost) of htpasswd text, and the file's highest cost.
    #[allow(clippy::type_complexity)]
    fn read(text: &str) -> Result<(HashMap<String, (String, u32)>, u32)> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| Error::Htpasswd {
                reason: format!("htpasswd line {}: {what}", i + 1),
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad("expected `user:hash`"))?;
            if user.is_empty() {
                return Err(bad("empty user name"));
            }
            if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
                return Err(bad(
                    "only bcrypt hashes are supported (create them with `htpasswd -B`)",
                ));
            }
            let cost = bcrypt_cost(hash).ok_or_else(|| {
                bad("the bcrypt hash is malformed (create it again with `htpasswd -B`)")
            })?;
            if cost > MAX_BCRYPT_COST {
                return Err(bad(&format!(
                    "bcrypt cost {cost} is above {MAX_BCRYPT_COST}, the most `htpasswd -B -C` \
                     makes (each step doubles the time a password check takes)"
                )));
            }
            users.insert(user.to_owned(), (hash.to_owned(), cost));
        }
        let max_cost = users
            .values()
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Ok((users, max_cost))
    }

    /// Reads an htpasswd file.
    ///
    /// # Errors
    ///
    /// [`Error::Htpasswd`] when the file cannot be read or parsed.
    pub fn from_path(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Htpasswd {
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::parse(&text)
    }

    /// A bcrypt hash line for `user` (for tests and tooling).
    ///
    /// # Errors
    ///
    /// [`Error::Htpasswd`] when hashing fails.
    pub fn hash_line(user: &str, password: &str, cost: u32) -> Result<String> {
        let h = bcrypt::hash(password, cost).map_err(|e| Error::Htpasswd {
            reason: format!("bcrypt failed: {e}"),
        })?;
        Ok(format!("{user}:{h}"))
    }

    /// The highest bcrypt cost in the file: every check takes as long as one at this cost.
    pub fn max_cost(&self) -> u32 {
        self.max_cost
    }

    /// How long one check at the highest cost takes on this machine (a running average).
    /// No check answers sooner.
    pub fn check_duration(&self) -> Duration {
        Duration::from_nanos(self.full_check_nanos.load(Ordering::Relaxed))
    }

    fn record_full_check(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.full_check_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            // An average over about eight checks.
            old - old / 8 + took / 8
        };
        self.full_check_nanos.store(new, Ordering::Relaxed);
    }
}

impl CredentialChecker for Htpasswd {
    fn check(&self, username: &str, password: &SecretString) -> bool {
        let start = Instant::now();
        let (hash, cost) = match self.users.get(username) {
            Some((h, c)) => (h.as_str(), *c),
            None => (self.dummy.as_str(), 0),
        };
        // Unknown users are checked against the dummy too: the same work, always false.
        let verified = bcrypt::verify(password.expose_secret(), hash).unwrap_or(false);
        let ok = cost != 0 && verified;
        let took = start.elapsed();
        if cost == 0 || cost == self.max_cost {
            self.record_full_check(took);
        } else if let Some(rest) = self.check_duration().checked_sub(took) {
            // A cheaper hash answers as late as a full one.
            std::thread::sleep(rest);
        }
        ok
    }

    fn is_active(&self, username: &str) -> bool {
        self.users.contains_key(username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_hashes_are_refused_by_line() {
        let good = Htpasswd::hash_line("a", "pw", 4).unwrap();
        assert!(Htpasswd::parse(&good).is_ok());
        let cut = &good[..good.len() - 3];
        for bad in [
            cut.to_owned(),
            "a:$2y$4$abc".to_owned(),
            "a:$2y$99$".to_owned() + &"a".repeat(53),
            "a:$2y$10$".to_owned() + &"!".repeat(53),
            "a:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=".to_owned(),
        ] {
            let e = Htpasswd::parse(&format!("# users\n{bad}")).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("line 2"), "{msg}");
            assert!(!msg.contains("$2y$"), "no hash in the message: {msg}");
        }
    }

    #[test]
    fn cheap_hashes_answer_no_sooner_than_a_full_check() {
        let text = format!(
            "{}\n{}\n",
            Htpasswd::hash_line("strong", "pw", 8).unwrap(),
            Htpasswd::hash_line("weak", "pw", 4).unwrap()
        );
        let h = Htpasswd::parse(&text).unwrap();
        assert_eq!(h.max_cost(), 8);
        let floor = h.check_duration();
        assert!(floor > Duration::ZERO);
        for (user, password, ok) in [
            ("weak", "pw", true),
            ("weak", "wrong", false),
            ("strong", "pw", true),
            ("nobody", "pw", false),
        ] {
            let start = Instant::now();
            assert_eq!(h.check(user, &SecretString::from(password)), ok, "{user}");
            // The floor moves as full checks are averaged in; a cost-4 hash alone takes a
            // sixteenth of a cost-8 one, so half the floor shows the padding.
            assert!(
                start.elapsed() >= floor / 2,
                "{user}: {:?}",
                start.elapsed()
            );
        }
    }
}
