//! The registry scope grammar: `type[(class)]:name:action[,action...]`.
//!
//! The name may hold one `:` (a `host:port` prefix), so a scope is split at the **first** `:`
//! (the type) and the **last** `:` (the actions); everything between is the name. Actions form a
//! set with a canonical order (`pull`, `push`, `delete`, `*`, then others alphabetically); a
//! [`ScopeSet`] merges scopes on the same resource and prints them in a canonical order, so equal
//! sets print equally (and make equal cache keys).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// One action on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// `pull`: read manifests, blobs and tags.
    Pull,
    /// `push`: upload blobs and manifests (registries require `pull` with it).
    Push,
    /// `delete`: delete manifests and blobs.
    Delete,
    /// `*`: every action (distribution treats it as matching any action).
    All,
    /// Any other action (`scanner-pull`, ...), as sent.
    Other(String),
}

impl Action {
    /// The action as written in a scope.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
            Self::All => "*",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "pull" => Self::Pull,
            "push" => Self::Push,
            "delete" => Self::Delete,
            "*" => Self::All,
            other => {
                if other.is_empty()
                    || !other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
                {
                    return Err(Error::invalid_scope(
                        s,
                        "an action is lower-case letters, digits, '-' or '_', or '*'",
                    ));
                }
                Self::Other(other.to_owned())
            }
        })
    }
}

/// A set of actions, always in canonical order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionSet(BTreeSet<Action>);

impl ActionSet {
    /// The empty set (a token server may grant it: "authenticated, but no access").
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an action.
    pub fn insert(&mut self, action: Action) -> &mut Self {
        self.0.insert(action);
        self
    }

    /// Whether `action` is in the set, or the set holds `*`.
    pub fn allows(&self, action: &Action) -> bool {
        self.0.contains(action) || self.0.contains(&Action::All)
    }

    /// Whether every action of `other` is allowed by this set.
    pub fn covers(&self, other: &ActionSet) -> bool {
        other.0.iter().all(|a| self.allows(a))
    }

    /// The actions in both sets (`*` on one side keeps the other side's actions).
    pub fn intersection(&self, other: &ActionSet) -> ActionSet {
        if self.0.contains(&Action::All) {
            return other.clone();
        }
        if other.0.contains(&Action::All) {
            return self.clone();
        }
        ActionSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The actions in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.0.iter()
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<Action> for ActionSet {
    fn extend<I: IntoIterator<Item = Action>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl fmt::Display for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(a.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for ActionSet {
    type Err = Error;

    /// Parses `pull,push`; the empty string is the empty set.
    fn from_str(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Ok(Self::new());
        }
        s.split(',').map(str::parse).collect()
    }
}

/// The resource a scope is about: type, optional (deprecated) class, and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    resource_type: String,
    class: Option<String>,
    name: String,
}

impl Resource {
    /// The resource type (`repository`, `registry`).
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The deprecated resource class (`repository(plugin)` gives `plugin`).
    pub fn class(&self) -> Option<&str> {
        self.class.as_deref()
    }

    /// The resource name (`library/alpine`, `host:5000/a/b`, `catalog`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.resource_type)?;
        if let Some(c) = &self.class {
            write!(f, "({c})")?;
        }
        write!(f, ":{}", self.name)
    }
}

/// One scope: a resource and the actions wanted (or granted) on it.
///
/// ```
/// use harbor_auth::{Action, Scope};
///
/// let s: Scope = "repository:localhost:5000/team/app:push,pull".parse()?;
/// assert_eq!(s.resource().name(), "localhost:5000/team/app");
/// assert!(s.actions().allows(&Action::Push));
/// assert_eq!(s.to_string(), "repository:localhost:5000/team/app:pull,push"); // canonical order
/// assert_eq!(Scope::catalog().to_string(), "registry:catalog:*");
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    resource: Resource,
    actions: ActionSet,
}

fn valid_type(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b',')
}

/// No `..`, `.` or empty segment in a repository name: an authoriser that matches names by
/// prefix (`team/*`) must never be walked out of its prefix (`team/../admin/app`).
fn valid_repository_path(name: &str) -> bool {
    name.split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

impl Scope {
    /// A scope on any resource.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] when the type is not `[a-z0-9]+`, the name is empty or holds
    /// spaces, quotes, backslashes or commas, or a `repository` name has an empty, `.` or
    /// `..` segment.
    pub fn new(resource_type: &str, name: &str, actions: ActionSet) -> Result<Self> {
        if !valid_type(resource_type) {
            return Err(Error::invalid_scope(
                resource_type,
                "the resource type must be [a-z0-9]+",
            ));
        }
        if !valid_name(name) {
            return Err(Error::invalid_scope(
                name,
                "the resource name must be non-empty visible ASCII without ',' or quotes",
            ));
        }
        if resource_type == "repository" && !valid_repository_path(name) {
            return Err(Error::invalid_scope(
                name,
                "a repository name has no empty, '.' or '..' path segments",
            ));
        }
        Ok(Self {
            resource: Resource {
                resource_type: resource_type.to_owned(),
                class: None,
                name: name.to_owned(),
            },
            actions,
        })
    }

    /// `repository:<name>:<actions>`.
    ///
    /// # Errors
    ///
    /// As [`Scope::new`].
    pub fn repository(name: &str, actions: impl IntoIterator<Item = Action>) -> Result<Self> {
        Self::new("repository", name, actions.into_iter().collect())
    }

    /// `repository:<name>:pull`: what a pull (GET/HEAD) needs.
    ///
    /// # Errors
    ///
    /// As [`Scope::new`].
    pub fn pull(name: &str) -> Result<Self> {
        Self::repository(name, [Action::Pull])
    }

    /// `repository:<name>:pull,push`: what a push (POST/PUT/PATCH) needs.
    ///
    /// # Errors
    ///
    /// As [`Scope::new`].
    pub fn push(name: &str) -> Result<Self> {
        Self::repository(name, [Action::Pull, Action::Push])
    }

    /// `repository:<name>:delete`: what a DELETE needs.
    ///
    /// # Errors
    ///
    /// As [`Scope::new`].
    pub fn delete(name: &str) -> Result<Self> {
        Self::repository(name, [Action::Delete])
    }

    /// `registry:catalog:*`: what `GET /v2/_catalog` needs.
    pub fn catalog() -> Self {
        Self {
            resource: Resource {
                resource_type: "registry".to_owned(),
                class: None,
                name: "catalog".to_owned(),
            },
            actions: [Action::All].into_iter().collect(),
        }
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The actions.
    pub fn actions(&self) -> &ActionSet {
        &self.actions
    }

    /// The same resource with other actions.
    #[must_use]
    pub fn with_actions(&self, actions: ActionSet) -> Self {
        Self {
            resource: self.resource.clone(),
            actions,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.actions)
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (ty, rest) = s
            .split_once(':')
            .ok_or_else(|| Error::invalid_scope(s, "missing ':' after the resource type"))?;
        let (name, actions) = rest
            .rsplit_once(':')
            .ok_or_else(|| Error::invalid_scope(s, "missing ':' before the actions"))?;
        let (resource_type, class) = match ty.split_once('(') {
            Some((t, c)) => {
                let c = c
                    .strip_suffix(')')
                    .filter(|c| valid_type(c))
                    .ok_or_else(|| {
                        Error::invalid_scope(s, "a resource class is `type(class)` with [a-z0-9]+")
                    })?;
                (t, Some(c.to_owned()))
            }
            None => (ty, None),
        };
        let mut scope = Self::new(resource_type, name, actions.parse()?)?;
        scope.resource.class = class;
        Ok(scope)
    }
}

/// A set of scopes, merged per resource and kept in canonical order.
///
/// `Display` prints the space-separated form used in a challenge's `scope` parameter and in
/// the OAuth2 POST form; [`ScopeSet::iter`] gives one scope per `scope` query parameter.
///
/// ```
/// use harbor_auth::ScopeSet;
///
/// // A cross-repository mount needs push on the target and pull on the source.
/// let s = ScopeSet::mount("team/app", "library/base")?;
/// assert_eq!(s.to_string(), "repository:library/base:pull repository:team/app:pull,push");
/// let wide: ScopeSet = "repository:library/base:pull,push repository:team/app:*".parse()?;
/// assert!(wide.covers(&s));
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeSet(BTreeMap<Resource, ActionSet>);

impl ScopeSet {
    /// The empty set (a token with no access, or the `GET /v2/` probe).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scope, merging its actions into any scope on the same resource.
    pub fn insert(&mut self, scope: Scope) -> &mut Self {
        self.0
            .entry(scope.resource)
            .or_default()
            .extend(scope.actions.0);
        self
    }

    /// Adds every scope of `other`.
    pub fn merge(&mut self, other: &ScopeSet) -> &mut Self {
        for (r, a) in &other.0 {
            self.0
                .entry(r.clone())
                .or_default()
                .extend(a.0.iter().cloned());
        }
        self
    }

    /// Whether every scope of `other` is allowed here (same resource, actions covered).
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other
            .0
            .iter()
            .all(|(r, wanted)| self.0.get(r).is_some_and(|have| have.covers(wanted)))
    }

    /// For each scope of `asked`, the actions both asked and present here; resources missing
    /// here get an empty action set. This is the grant rule of the token spec.
    pub fn intersection(&self, asked: &ScopeSet) -> ScopeSet {
        ScopeSet(
            asked
                .0
                .iter()
                .map(|(r, a)| {
                    let granted = self
                        .0
                        .get(r)
                        .map(|have| have.intersection(a))
                        .unwrap_or_default();
                    (r.clone(), granted)
                })
                .collect(),
        )
    }

    /// The actions held on a resource.
    pub fn actions_for(&self, resource_type: &str, name: &str) -> Option<&ActionSet> {
        self.0
            .iter()
            .find(|(r, _)| r.resource_type == resource_type && r.name == name)
            .map(|(_, a)| a)
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().map(|(r, a)| Scope {
            resource: r.clone(),
            actions: a.clone(),
        })
    }

    /// What pulling from `repo` needs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] for an invalid repository name.
    pub fn pull(repo: &str) -> Result<Self> {
        Ok(Self::from_iter([Scope::pull(repo)?]))
    }

    /// What pushing to `repo` needs (`pull,push`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] for an invalid repository name.
    pub fn push(repo: &str) -> Result<Self> {
        Ok(Self::from_iter([Scope::push(repo)?]))
    }

    /// What deleting in `repo` needs (`delete`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] for an invalid repository name.
    pub fn delete(repo: &str) -> Result<Self> {
        Ok(Self::from_iter([Scope::delete(repo)?]))
    }

    /// What listing the catalog needs (`registry:catalog:*`).
    pub fn catalog() -> Self {
        Self::from_iter([Scope::catalog()])
    }

    /// What a cross-repository blob mount needs: `pull,push` on `target` **and** `pull` on
    /// `source` (asking only for the target is the classic mistake that makes mounts 401).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] for an invalid repository name.
    pub fn mount(target: &str, source: &str) -> Result<Self> {
        Ok(Self::from_iter([
            Scope::push(target)?,
            Scope::pull(source)?,
        ]))
    }

    /// What a request needs, as distribution and Harbor map it: GET/HEAD → pull,
    /// POST/PUT/PATCH → pull,push, DELETE → delete, plus pull on `mount_from` when given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] for an invalid repository name.
    pub fn for_request(
        method: &http::Method,
        repo: &str,
        mount_from: Option<&str>,
    ) -> Result<Self> {
        let mut set = match *method {
            http::Method::DELETE => Self::delete(repo)?,
            http::Method::GET | http::Method::HEAD => Self::pull(repo)?,
            _ => Self::push(repo)?,
        };
        if let Some(src) = mount_from {
            set.insert(Scope::pull(src)?);
        }
        Ok(set)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = Self::new();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl Extend<Scope> for ScopeSet {
    fn extend<I: IntoIterator<Item = Scope>>(&mut self, iter: I) {
        for s in iter {
            self.insert(s);
        }
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (r, a)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{r}:{a}")?;
        }
        Ok(())
    }
}

impl FromStr for ScopeSet {
    type Err = Error;

    /// Parses space-separated scopes (several `scope` query values may be joined with spaces).
    fn from_str(s: &str) -> Result<Self> {
        s.split_ascii_whitespace()
            .map(str::parse::<Scope>)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_cases() {
        let s: Scope = "repository(plugin):a/b:pull".parse().unwrap();
        assert_eq!(s.resource().class(), Some("plugin"));
        assert_eq!(s.to_string(), "repository(plugin):a/b:pull");
        let s: Scope = "repository:a:".parse().unwrap();
        assert!(s.actions().is_empty());
        let s: Scope = "repository:h:5000/x:scanner-pull,*".parse().unwrap();
        assert_eq!(s.to_string(), "repository:h:5000/x:*,scanner-pull");
        for bad in [
            "",
            "repository",
            "repository:a",
            ":a:pull",
            "Repo:a:pull",
            "repository::pull",
            "repository:a:PULL",
            "r(:a:pull",
            "repository:a:pull,,push",
            "repository:team/../admin/app:pull",
            "repository:../etc:pull",
            "repository:team/..:pull",
            "repository:team/./app:pull",
            "repository:team//app:pull",
            "repository:/team/app:pull",
            "repository:h:5000/team/../x:pull",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        // Dots inside a segment are fine; other resource types keep their own names.
        assert!("repository:team/app..v2:pull".parse::<Scope>().is_ok());
        assert!("repository:h:5000/team/app:pull".parse::<Scope>().is_ok());
        assert!(ScopeSet::pull("team/../admin").is_err());
    }

    #[test]
    fn merge_cover_intersect() {
        let mut a: ScopeSet = "repository:x:pull repository:x:push registry:catalog:*"
            .parse()
            .unwrap();
        assert_eq!(a.to_string(), "registry:catalog:* repository:x:pull,push");
        let want: ScopeSet = "repository:x:pull".parse().unwrap();
        assert!(a.covers(&want));
        assert!(!want.covers(&a));
        a.merge(&"repository:y:delete".parse().unwrap());
        let asked: ScopeSet = "repository:x:pull,delete repository:z:pull"
            .parse()
            .unwrap();
        assert_eq!(
            a.intersection(&asked).to_string(),
            "repository:x:pull repository:z:"
        );
    }

    #[test]
    fn request_scopes() {
        let s = ScopeSet::for_request(&http::Method::POST, "t/app", Some("l/base")).unwrap();
        assert_eq!(s, ScopeSet::mount("t/app", "l/base").unwrap());
        assert_eq!(
            ScopeSet::for_request(&http::Method::HEAD, "a", None)
                .unwrap()
                .to_string(),
            "repository:a:pull"
        );
        assert_eq!(
            ScopeSet::for_request(&http::Method::DELETE, "a", None)
                .unwrap()
                .to_string(),
            "repository:a:delete"
        );
    }
}
