//! What to do after a `401`, decided without IO.
//!
//! [`decide`] takes what the registry answered (its challenges), what the refused request
//! carried ([`Presented`]), the scopes the operation needs and the credentials bound to the
//! registry, and returns a [`Decision`]: retry with Basic, retry bare, fetch a token (from which
//! realm, for which scopes, with or without the credentials), or give up and why. A transport
//! executes the decision and nothing else, so every registry quirk is one row of a table test:
//!
//! | situation | decision |
//! | --- | --- |
//! | Bearer challenge, nothing sent | token for the needed ∪ challenged scopes |
//! | `insufficient_scope` after a cached token | evict it, token for the merged scopes |
//! | `insufficient_scope` / `invalid_token` after a token fetched just now for the same scopes (Harbor grants empty access; a token that expired on arrival) | give up: another token would be the same |
//! | `invalid_token` after a cached token (expired, revoked) | evict it, fetch again |
//! | Harbor's `Basic realm="harbor"` after a token | Basic when we hold Basic credentials, else retry bare to get the Bearer challenge |
//! | Basic challenge (Harbor's `/v2/_catalog`, htpasswd registries) | Basic credentials, once |
//! | Basic refused | give up |
//! | realm on another host, credentials held | give up unless the realm is trusted for the registry (Docker Hub's `auth.docker.io` is) |
//! | realm on another host, anonymous | anonymous token |
//! | plain-http realm off loopback, realm with user info | give up |
//! | static bearer token refused | give up |
//! | credentials bound to another registry | treated as anonymous: nothing is sent |

use url::Url;

use crate::challenge::{Challenge, Scheme};
use crate::credentials::Credentials;
use crate::keychain::BoundCredentials;
use crate::realm::{RealmPolicy, realm_display};
use crate::scope::ScopeSet;

/// The most authentication retries for one request.
pub const MAX_AUTH_ROUNDS: u32 = 3;

/// What the refused request carried in `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Presented {
    /// Nothing.
    Nothing,
    /// The bound Basic credentials.
    Basic,
    /// The bound static bearer token ([`Credentials::Bearer`]).
    StaticBearer,
    /// A token from a realm.
    Token {
        /// The realm it came from.
        realm: String,
        /// The scopes it was asked for.
        scopes: ScopeSet,
        /// Whether it was fetched for this very request (not taken from the cache).
        fresh: bool,
    },
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    /// The URL of the request the registry refused (the registry is its host).
    pub url: &'a Url,
    /// Every challenge of the answer's `WWW-Authenticate` headers.
    pub challenges: &'a [Challenge],
    /// What the request carried.
    pub presented: &'a Presented,
    /// The scopes the operation needs.
    pub needed: &'a ScopeSet,
    /// The credentials bound to the registry (anonymous when there are none).
    pub credentials: &'a BoundCredentials,
    /// The realm rules.
    pub policy: &'a RealmPolicy,
    /// Authentication retries already made for this request.
    pub rounds: u32,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Send the request again with the bound Basic credentials.
    RetryWithBasic,
    /// Send the request again without `Authorization` (to get the Bearer challenge).
    RetryWithoutAuthorization,
    /// Get a token as planned (from the cache or the realm), then send the request again.
    RetryWithToken(TokenPlan),
    /// Stop and report.
    GiveUp(GiveUp),
}

/// Which token to get.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPlan {
    /// The Bearer challenge, reduced to what names the realm (`realm`, `service`).
    pub challenge: Challenge,
    /// The scopes to ask for.
    pub scopes: ScopeSet,
    /// Whether the credentials go to the realm (else an anonymous token).
    pub with_credentials: bool,
    /// Whether the token the request carried must leave the cache (it was refused).
    pub evict_presented: bool,
}

/// Why the transport stops answering challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUp {
    /// The `401` carried no usable challenge.
    NoChallenge,
    /// [`MAX_AUTH_ROUNDS`] retries were made already.
    RoundsExhausted,
    /// The registry refused the Basic credentials.
    CredentialsRefused,
    /// The registry refused the static bearer token.
    StaticTokenRefused,
    /// A token fetched for this request was refused too (it grants less than needed, or
    /// expired on arrival): another one would be the same.
    TokenRefused,
    /// A Basic challenge, and no Basic credentials bound to this registry.
    NoUsableCredentials,
    /// The realm is on a host not trusted for the registry, and credentials would go there.
    RealmNotTrusted {
        /// The realm (without query).
        realm: String,
    },
    /// The realm URL is unusable or refused by the [`RealmPolicy`].
    RealmRejected {
        /// The realm as given (without query).
        realm: String,
        /// Why.
        reason: &'static str,
    },
}

impl GiveUp {
    /// Whether this is a configuration problem to report as an error (a realm that may not be
    /// contacted) rather than the registry's `401` answer.
    pub fn is_realm_problem(&self) -> bool {
        matches!(
            self,
            Self::RealmNotTrusted { .. } | Self::RealmRejected { .. }
        )
    }
}

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoChallenge => f.write_str("the registry sent no usable challenge"),
            Self::RoundsExhausted => f.write_str("too many authentication rounds"),
            Self::CredentialsRefused => f.write_str("the registry refused the credentials"),
            Self::StaticTokenRefused => f.write_str("the registry refused the bearer token"),
            Self::TokenRefused => f.write_str(
                "the registry refused a token fetched just now: the account lacks access",
            ),
            Self::NoUsableCredentials => {
                f.write_str("the registry wants Basic credentials and none are held for it")
            }
            Self::RealmNotTrusted { realm } => write!(
                f,
                "token realm {realm} is on another host than the registry and the registry's \
                 credentials would be sent there; trust it for this registry \
                 (Keychain::trust_realm) if it is legitimate"
            ),
            Self::RealmRejected { realm, reason } => {
                write!(f, "token realm {realm:?} refused: {reason}")
            }
        }
    }
}

/// The challenge without its `scope` and `error` parameters: what identifies the realm.
pub fn realm_challenge(c: &Challenge) -> Challenge {
    let mut out = Challenge::new(c.scheme().clone());
    for (k, v) in c.params() {
        if !k.eq_ignore_ascii_case("scope") && !k.eq_ignore_ascii_case("error") {
            out = out.with_param(k, v);
        }
    }
    out
}

/// Decides what to do after a `401`. Pure: no IO, no clock, no randomness.
pub fn decide(r: &Refusal<'_>) -> Decision {
    if r.rounds >= MAX_AUTH_ROUNDS {
        return Decision::GiveUp(GiveUp::RoundsExhausted);
    }
    if *r.presented == Presented::StaticBearer {
        return Decision::GiveUp(GiveUp::StaticTokenRefused);
    }
    // Credentials bound to another registry are never sent: treat them as absent.
    let bound = if r.credentials.applies_to(r.url) {
        r.credentials.clone()
    } else {
        r.credentials.without_credentials()
    };
    let has_basic = matches!(bound.credentials(), Credentials::Basic { .. });
    let bearer = r
        .challenges
        .iter()
        .find(|c| *c.scheme() == Scheme::Bearer && c.realm().is_some());
    let basic_offered = r.challenges.iter().any(|c| *c.scheme() == Scheme::Basic);

    // Harbor answers `Basic realm="harbor"` to a token that lacks a scope.
    if matches!(r.presented, Presented::Token { .. }) && bearer.is_none() && basic_offered {
        return if has_basic {
            Decision::RetryWithBasic
        } else {
            Decision::RetryWithoutAuthorization
        };
    }
    if let Some(challenge) = bearer {
        return token_decision(r, challenge, &bound);
    }
    if basic_offered {
        return if *r.presented == Presented::Basic {
            Decision::GiveUp(GiveUp::CredentialsRefused)
        } else if has_basic {
            Decision::RetryWithBasic
        } else {
            Decision::GiveUp(GiveUp::NoUsableCredentials)
        };
    }
    Decision::GiveUp(GiveUp::NoChallenge)
}

fn token_decision(r: &Refusal<'_>, challenge: &Challenge, bound: &BoundCredentials) -> Decision {
    if matches!(bound.credentials(), Credentials::Bearer(_)) {
        return Decision::GiveUp(GiveUp::StaticTokenRefused);
    }
    let realm_text = challenge.realm().unwrap_or_default();
    let Ok(realm) = Url::parse(realm_text) else {
        return Decision::GiveUp(GiveUp::RealmRejected {
            realm: crate::error::excerpt(realm_text, 200),
            reason: "the realm is not an absolute URL",
        });
    };
    if let Err(crate::Error::RealmRejected { realm, reason }) = r.policy.check_url(&realm) {
        return Decision::GiveUp(GiveUp::RealmRejected { realm, reason });
    }
    let with_credentials = !bound.is_anonymous();
    if with_credentials && r.policy.check(&realm, bound).is_err() {
        return Decision::GiveUp(GiveUp::RealmNotTrusted {
            realm: realm_display(&realm),
        });
    }
    let mut scopes = r.needed.clone();
    if let Ok(theirs) = challenge.scopes() {
        scopes.merge(&theirs);
    }
    let mut evict_presented = false;
    if let Presented::Token {
        realm: sent_realm,
        scopes: sent,
        fresh,
    } = r.presented
    {
        evict_presented = true;
        if Some(sent_realm.as_str()) == challenge.realm() {
            if *fresh && sent.covers(&scopes) {
                return Decision::GiveUp(GiveUp::TokenRefused);
            }
            // insufficient_scope: keep what we asked for before, too.
            scopes.merge(sent);
        }
    }
    Decision::RetryWithToken(TokenPlan {
        challenge: realm_challenge(challenge),
        scopes,
        with_credentials,
        evict_presented,
    })
}
