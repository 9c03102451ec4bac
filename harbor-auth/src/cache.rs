//! The token cache: tokens keyed by (registry, realm, service, scope set, credential identity),
//! single-flight refresh per key, bounded size, expiry by an injected [`Clock`].
//!
//! The credential identity ([`CredentialId`]) holds a keyed hash of the secret, so a wrong
//! password never gets the token fetched with the right one, and anonymous, bearer and
//! identity-token credentials (which have no user name) never share tokens. A token the
//! registry refused is evicted with [`TokenCache::evict_token`]. The cache does not decide
//! whether a realm may be asked: the fetcher checks the realm policy before every lookup.
//!
//! The cache needs no runtime: the single-flight lock is `futures_util`'s async mutex, so it
//! works under tokio, async-std or a test executor alike, and a cancelled fetch (its future
//! dropped) simply lets the next waiter fetch.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::lock::Mutex as AsyncMutex;
use secrecy::{ExposeSecret as _, SecretString};

use crate::credentials::CredentialId;
use crate::error::Result;
use crate::keychain::BoundCredentials;
use crate::scope::ScopeSet;
use crate::token::{Token, TokenResponse};

/// A source of "now", injected so expiry can be tested without sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to (for tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a token is cached under: the registry the credentials are bound to, the realm and
/// service, the scopes, and the credentials' identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    registry: String,
    realm: String,
    service: String,
    scopes: ScopeSet,
    credentials: CredentialId,
}

impl CacheKey {
    /// The key for a token from `realm`/`service` covering `scopes`, fetched with
    /// `credentials` (anonymous ones included) for their registry.
    pub fn new(
        realm: &str,
        service: &str,
        scopes: ScopeSet,
        credentials: &BoundCredentials,
    ) -> Self {
        Self {
            registry: credentials.registry().to_owned(),
            realm: realm.to_owned(),
            service: service.to_owned(),
            scopes,
            credentials: credentials.id().clone(),
        }
    }

    /// The registry the credentials are bound to.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The service.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The scopes.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The credentials' identity.
    pub fn credentials(&self) -> &CredentialId {
        &self.credentials
    }

    fn same_authority(&self, other: &CacheKey) -> bool {
        self.registry == other.registry
            && self.realm == other.realm
            && self.service == other.service
            && self.credentials == other.credentials
    }
}

/// The default number of tokens kept.
pub const DEFAULT_CAPACITY: usize = 256;

/// A shared, bounded token cache with single-flight refresh per key.
///
/// Cloning is cheap (an `Arc` inside); clones share the cache. A lookup serves a token whose
/// scopes **cover** the request (a `pull,push` token serves a `pull` request).
///
/// ```
/// use std::time::Duration;
/// use harbor_auth::{BoundCredentials, CacheKey, Credentials, ScopeSet, TokenCache, TokenResponse};
///
/// # futures_util::FutureExt::now_or_never(async {
/// let cache = TokenCache::new();
/// let alice = BoundCredentials::new("harbor.example", Credentials::basic("alice", "pw"));
/// let key = CacheKey::new("https://harbor.example/service/token", "harbor-registry", ScopeSet::pull("library/a")?, &alice);
/// let token = cache
///     .get_or_fetch(&key, || async {
///         // Here the `fetch` feature's TokenFetcher (or your own HTTP call) gets a token.
///         Ok(TokenResponse::new("t0k".to_owned().into(), Duration::from_secs(1800)))
///     })
///     .await?;
/// assert!(cache.get(&key).is_some());
/// # Ok::<(), harbor_auth::Error>(())
/// # }).unwrap()?;
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenCache {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<CacheKey, Token>,
    flights: HashMap<CacheKey, Arc<AsyncMutex<()>>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenCache {
    /// A cache of [`DEFAULT_CAPACITY`] tokens on the system clock.
    pub fn new() -> Self {
        Self::with_clock(DEFAULT_CAPACITY, Arc::new(SystemClock))
    }

    /// A cache with a capacity (at least 1) and a clock.
    pub fn with_clock(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                capacity: capacity.max(1),
                clock,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock in use.
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }

    /// A fresh token for `key`: the exact entry, or any entry of the same registry, realm,
    /// service and credentials whose scopes cover the request.
    pub fn get(&self, key: &CacheKey) -> Option<Token> {
        let now = self.now();
        let state = self.state();
        if let Some(t) = state.entries.get(key).filter(|t| t.is_fresh(now)) {
            return Some(t.clone());
        }
        state
            .entries
            .iter()
            .find(|(k, t)| k.same_authority(key) && k.scopes.covers(&key.scopes) && t.is_fresh(now))
            .map(|(_, t)| t.clone())
    }

    /// Stores a token, evicting expired entries and then the soonest-expiring one when full.
    pub fn insert(&self, key: CacheKey, token: Token) {
        let now = self.now();
        let capacity = self.shared.capacity;
        let mut state = self.state();
        if !state.entries.contains_key(&key) && state.entries.len() >= capacity {
            state.entries.retain(|_, t| t.is_fresh(now));
            while state.entries.len() >= capacity {
                let Some(victim) = state
                    .entries
                    .iter()
                    .min_by_key(|(_, t)| t.expires_at())
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                state.entries.remove(&victim);
            }
        }
        state.entries.insert(key, token);
    }

    /// Drops the token for `key`.
    pub fn invalidate(&self, key: &CacheKey) {
        self.state().entries.remove(key);
    }

    /// Drops every entry holding `token`: the registry refused it (`401 invalid_token`, or a
    /// token that turned out to grant less than asked). A token that has been replaced
    /// already is not there any more, so a late refusal never evicts its successor.
    pub fn evict_token(&self, token: &SecretString) {
        let refused = token.expose_secret();
        self.state()
            .entries
            .retain(|_, t| t.secret().expose_secret() != refused);
    }

    /// Drops every token.
    pub fn clear(&self) {
        self.state().entries.clear();
    }

    /// Number of tokens held (fresh or not).
    pub fn len(&self) -> usize {
        self.state().entries.len()
    }

    /// Whether the cache holds no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh token for `key`, or the result of `fetch`, run by **one** caller at a time per
    /// key: concurrent callers wait and then take the fetched token from the cache.
    ///
    /// A failed fetch is not cached; the next waiter tries its own fetch.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returns.
    pub async fn get_or_fetch<F, Fut>(&self, key: &CacheKey, fetch: F) -> Result<Token>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenResponse>>,
    {
        if let Some(t) = self.get(key) {
            return Ok(t);
        }
        let flight = {
            let mut state = self.state();
            Arc::clone(state.flights.entry(key.clone()).or_default())
        };
        let result = {
            let _guard = flight.lock().await;
            match self.get(key) {
                Some(t) => Ok(t),
                None => match fetch().await {
                    Ok(resp) => {
                        let token = resp.into_token(self.now());
                        self.insert(key.clone(), token.clone());
                        Ok(token)
                    }
                    Err(e) => Err(e),
                },
            }
        };
        // Forget the flight lock once nobody else holds it.
        let mut state = self.state();
        if state
            .flights
            .get(key)
            .is_some_and(|f| Arc::ptr_eq(f, &flight) && Arc::strong_count(f) <= 2)
        {
            state.flights.remove(key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(scopes: &str) -> CacheKey {
        key_for(scopes, &BoundCredentials::anonymous("r"))
    }

    fn key_for(scopes: &str, creds: &BoundCredentials) -> CacheKey {
        CacheKey::new("https://r/token", "svc", scopes.parse().unwrap(), creds)
    }

    fn tok(secs: u64) -> TokenResponse {
        TokenResponse::new("t".to_owned().into(), Duration::from_secs(secs))
    }

    #[test]
    fn superset_serves_subset_and_expiry() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let cache = TokenCache::with_clock(4, Arc::new(clock.clone()));
        cache.insert(
            key("repository:a:pull,push"),
            tok(300).into_token(clock.now()),
        );
        assert!(cache.get(&key("repository:a:pull")).is_some());
        assert!(cache.get(&key("repository:a:delete")).is_none());
        let bob = BoundCredentials::new("r", crate::Credentials::basic("bob", "pw"));
        assert!(cache.get(&key_for("repository:a:pull", &bob)).is_none());
        clock.advance(Duration::from_secs(270));
        assert!(
            cache.get(&key("repository:a:pull")).is_none(),
            "renewed 30 s early"
        );
    }

    #[test]
    fn tokens_belong_to_one_secret_and_one_registry() {
        let cache = TokenCache::new();
        let right = BoundCredentials::new("r", crate::Credentials::basic("alice", "right"));
        let wrong = BoundCredentials::new("r", crate::Credentials::basic("alice", "wrong"));
        let elsewhere = BoundCredentials::new("s", crate::Credentials::basic("alice", "right"));
        let token = tok(600).into_token(cache.now());
        cache.insert(key_for("repository:a:pull", &right), token.clone());
        assert!(cache.get(&key_for("repository:a:pull", &right)).is_some());
        assert!(
            cache.get(&key_for("repository:a:pull", &wrong)).is_none(),
            "wrong password"
        );
        assert!(
            cache
                .get(&key_for("repository:a:pull", &elsewhere))
                .is_none(),
            "other registry"
        );
        for no_user in [
            crate::Credentials::Anonymous,
            crate::Credentials::bearer("x"),
            crate::Credentials::identity_token(None, "y"),
        ] {
            let b = BoundCredentials::new("r", no_user);
            assert!(cache.get(&key_for("repository:a:pull", &b)).is_none());
        }
        // A refused token goes, whatever key it was filed under.
        cache.insert(key_for("repository:a:pull,push", &right), token.clone());
        cache.evict_token(token.secret());
        assert!(cache.is_empty());
    }

    #[test]
    fn bounded() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let cache = TokenCache::with_clock(2, Arc::new(clock.clone()));
        cache.insert(key("repository:a:pull"), tok(100).into_token(clock.now()));
        cache.insert(key("repository:b:pull"), tok(900).into_token(clock.now()));
        cache.insert(key("repository:c:pull"), tok(900).into_token(clock.now()));
        assert_eq!(cache.len(), 2);
        assert!(
            cache.get(&key("repository:a:pull")).is_none(),
            "soonest-expiring evicted"
        );
    }

    #[test]
    fn single_flight() {
        let cache = TokenCache::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("repository:a:pull");
        let futs = (0..8).map(|_| {
            let calls = Arc::clone(&calls);
            let cache = cache.clone();
            let k = k.clone();
            async move {
                cache
                    .get_or_fetch(&k, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Ok(tok(600))
                    })
                    .await
            }
        });
        let results = futures::executor::block_on(futures::future::join_all(futs));
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
