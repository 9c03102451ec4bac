//! A builder for Harbor's `q` query syntax.

use std::fmt;

use crate::{Error, Result};

/// The time layout Harbor's `q` parser accepts, as a `chrono` format (Go's
/// `2006-01-02T15:04:05`).
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Harbor's `q` filter: comma-separated `key=value` terms.
///
/// | builder | renders | meaning |
/// | --- | --- | --- |
/// | [`Query::exact`] | `k=v` | equal |
/// | [`Query::fuzzy`] | `k=~v` | contains ("like") |
/// | [`Query::range`] | `k=[min~max]` | between, either side may be open |
/// | [`Query::any_of`] | `k={a b c}` | equal to any |
/// | [`Query::all_of`] | `k=(a b c)` | matches all (e.g. `labels=(1 2)`) |
///
/// Values that start with one of `~ [ { (` are escaped with Harbor's leading `\` so they
/// stay literal. Harbor splits terms on `,` and list items on spaces with no escape, so a
/// value containing `,` (or a list item containing a space) is rejected with
/// [`Error::InvalidInput`] when the request is built, never sent truncated.
///
/// Harbor runs an extra URL-unescape over `q` after normal query decoding; the rendered
/// value therefore escapes `%` and `+` once more (robot names contain `+`), so they arrive
/// as written.
///
/// # Times
///
/// Harbor reads each bound of a range and each item of a list as a time first, then as an
/// integer, else as text with surrounding quotes trimmed (`parseValue` in goharbor/harbor
/// `src/lib/q/builder.go`, commit `c50c7ddd6ea4e335a480b49c618281882ab7eec9`). A time is
/// what Go's `time.Parse("2006-01-02T15:04:05", v)` accepts:
///
/// - `2024-01-31T08:00:00`: date, a `T`, time of day to the second;
/// - an optional fraction of a second (`2024-01-31T08:00:00.5`);
/// - **no zone**: the time is taken as UTC, and `Z` or `+02:00` makes it text;
/// - the space-separated `2020-04-09 02:36:00` given in the spec's text is *not* a time: it
///   is compared as a string.
///
/// An exact term (`k=v`) is never parsed as a time. [`Query::time_range`] writes a range of
/// [`DateTime<Utc>`](chrono::DateTime) values in this form.
///
/// ```
/// use harbor_client::api::Query;
/// let q = Query::new()
///     .exact("name", "nginx")
///     .fuzzy("tags", "v1")
///     .range("creation_time", Some("2024-01-01T00:00:00"), None::<&str>)
///     .any_of("id", [1, 2, 3]);
/// assert_eq!(
///     q.to_string(),
///     "name=nginx,tags=~v1,creation_time=[2024-01-01T00:00:00~],id={1 2 3}"
/// );
/// // Raw strings are taken as written:
/// assert_eq!(Query::from("tags=*").to_string(), "tags=*");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Built { key: String, value: Value },
    Raw(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Exact(String),
    Fuzzy(String),
    Range(Option<String>, Option<String>),
    AnyOf(Vec<String>),
    AllOf(Vec<String>),
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Query::default()
    }

    fn push(mut self, key: &str, value: Value) -> Self {
        self.terms.push(Term::Built {
            key: key.to_owned(),
            value,
        });
        self
    }

    /// `key=value`: exact match.
    #[must_use]
    pub fn exact(self, key: &str, value: impl fmt::Display) -> Self {
        self.push(key, Value::Exact(value.to_string()))
    }

    /// `key=~value`: fuzzy match.
    #[must_use]
    pub fn fuzzy(self, key: &str, value: impl fmt::Display) -> Self {
        self.push(key, Value::Fuzzy(value.to_string()))
    }

    /// `key=[min~max]`: a range; `None` leaves that side open.
    #[must_use]
    pub fn range(
        self,
        key: &str,
        min: Option<impl fmt::Display>,
        max: Option<impl fmt::Display>,
    ) -> Self {
        self.push(
            key,
            Value::Range(min.map(|v| v.to_string()), max.map(|v| v.to_string())),
        )
    }

    /// `key=[min~max]` over times, written as Harbor parses them (`2006-01-02T15:04:05`,
    /// UTC, whole seconds; see [Times](Query#times)); `None` leaves that side open.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use harbor_client::api::Query;
    /// let since = Utc.with_ymd_and_hms(2024, 1, 31, 8, 0, 0).unwrap();
    /// let q = Query::new().time_range("creation_time", Some(since), None);
    /// assert_eq!(q.to_string(), "creation_time=[2024-01-31T08:00:00~]");
    /// ```
    #[must_use]
    pub fn time_range(
        self,
        key: &str,
        min: Option<chrono::DateTime<chrono::Utc>>,
        max: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        let harbor_time = |t: chrono::DateTime<chrono::Utc>| t.format(TIME_FORMAT).to_string();
        self.push(
            key,
            Value::Range(min.map(harbor_time), max.map(harbor_time)),
        )
    }

    /// `key={a b c}`: any of the values.
    #[must_use]
    pub fn any_of<I>(self, key: &str, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        self.push(
            key,
            Value::AnyOf(values.into_iter().map(|v| v.to_string()).collect()),
        )
    }

    /// `key=(a b c)`: all of the values.
    #[must_use]
    pub fn all_of<I>(self, key: &str, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        self.push(
            key,
            Value::AllOf(values.into_iter().map(|v| v.to_string()).collect()),
        )
    }

    /// A term written in Harbor's syntax, appended as is (e.g. `tags=nil`).
    #[must_use]
    pub fn raw_term(mut self, term: impl Into<String>) -> Self {
        self.terms.push(Term::Raw(term.into()));
        self
    }

    /// Whether the query has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The `q` text, validated (before the extra escaping for the wire).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when a key or value cannot be expressed in Harbor's syntax
    /// (empty, or containing `,`; a list item containing a space; a key containing `=`).
    pub fn render(&self) -> Result<String> {
        let mut out = String::new();
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match term {
                Term::Raw(raw) => {
                    check_free_of(raw, ",", "query term")?;
                    if !raw.contains('=') {
                        return Err(Error::invalid("query term", raw, "expected key=value"));
                    }
                    out.push_str(raw);
                }
                Term::Built { key, value } => {
                    if key.is_empty() || key.contains(['=', ',', ' ']) {
                        return Err(Error::invalid(
                            "query key",
                            key,
                            "must be non-empty without '=', ',' or spaces",
                        ));
                    }
                    out.push_str(key);
                    out.push('=');
                    render_value(value, &mut out)?;
                }
            }
        }
        Ok(out)
    }

    /// The value to put in the `q` query parameter: [`Query::render`] with `%` and `+`
    /// escaped once more for Harbor's second unescape.
    ///
    /// # Errors
    ///
    /// As [`Query::render`].
    pub fn to_query_value(&self) -> Result<String> {
        Ok(self.render()?.replace('%', "%25").replace('+', "%2B"))
    }
}

fn check_free_of(v: &str, chars: &str, what: &'static str) -> Result<()> {
    if v.contains(|c| chars.contains(c)) {
        return Err(Error::invalid(
            what,
            v,
            format!("Harbor's q syntax cannot carry any of {chars:?} here"),
        ));
    }
    Ok(())
}

fn literal(v: &str, out: &mut String) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid("query value", v, "empty"));
    }
    check_free_of(v, ",", "query value")?;
    if v.starts_with(['~', '[', '{', '(', '\\']) {
        out.push('\\');
    }
    out.push_str(v);
    Ok(())
}

fn list(items: &[String], open: char, close: char, out: &mut String) -> Result<()> {
    if items.is_empty() {
        return Err(Error::invalid("query list", "", "empty list"));
    }
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if item.is_empty() {
            return Err(Error::invalid("query list item", item, "empty"));
        }
        check_free_of(item, ", (){}", "query list item")?;
        if i > 0 {
            out.push(' ');
        }
        out.push_str(item);
    }
    out.push(close);
    Ok(())
}

fn render_value(value: &Value, out: &mut String) -> Result<()> {
    match value {
        Value::Exact(v) => literal(v, out),
        Value::Fuzzy(v) => {
            if v.is_empty() {
                return Err(Error::invalid("query value", v, "empty"));
            }
            check_free_of(v, ",", "query value")?;
            out.push('~');
            out.push_str(v);
            Ok(())
        }
        Value::Range(min, max) => {
            if min.is_none() && max.is_none() {
                return Err(Error::invalid("query range", "", "both ends open"));
            }
            out.push('[');
            for (i, bound) in [min, max].into_iter().enumerate() {
                if i == 1 {
                    out.push('~');
                }
                if let Some(b) = bound {
                    check_free_of(b, ",~[]", "query range bound")?;
                    out.push_str(b);
                }
            }
            out.push(']');
            Ok(())
        }
        Value::AnyOf(items) => list(items, '{', '}', out),
        Value::AllOf(items) => list(items, '(', ')', out),
    }
}

impl fmt::Display for Query {
    /// The rendered query, or `<invalid query: …>` when it cannot be rendered.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.render() {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<invalid query: {e}>"),
        }
    }
}

impl From<&str> for Query {
    /// A query written in Harbor's syntax (split on `,` into raw terms).
    fn from(s: &str) -> Self {
        Query {
            terms: s
                .split(',')
                .filter(|t| !t.is_empty())
                .map(|t| Term::Raw(t.to_owned()))
                .collect(),
        }
    }
}

impl From<String> for Query {
    fn from(s: String) -> Self {
        Query::from(s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_form() {
        let q = Query::new()
            .exact("name", "~literal")
            .all_of("labels", [1, 2])
            .range("size", None::<u64>, Some(10u64));
        assert_eq!(
            q.render().unwrap(),
            "name=\\~literal,labels=(1 2),size=[~10]"
        );
    }

    #[test]
    fn rejects_what_harbor_cannot_parse() {
        assert!(Query::new().exact("a", "x,y").render().is_err());
        assert!(Query::new().exact("a", "").render().is_err());
        assert!(Query::new().any_of("a", ["x y"]).render().is_err());
        assert!(
            Query::new()
                .any_of("a", Vec::<String>::new())
                .render()
                .is_err()
        );
        assert!(
            Query::new()
                .range("a", None::<u8>, None::<u8>)
                .render()
                .is_err()
        );
        assert!(Query::new().exact("a=b", "x").render().is_err());
        assert!(Query::from("novalue").render().is_err());
    }

    #[test]
    fn times_are_written_in_harbors_layout() {
        use chrono::TimeZone as _;
        let t = chrono::Utc
            .with_ymd_and_hms(2024, 1, 31, 8, 5, 9)
            .unwrap()
            .checked_add_signed(chrono::TimeDelta::milliseconds(250))
            .unwrap();
        let q = Query::new().time_range("push_time", None, Some(t));
        // Whole seconds, a `T`, no zone: what `time.Parse("2006-01-02T15:04:05", v)` reads.
        assert_eq!(q.render().unwrap(), "push_time=[~2024-01-31T08:05:09]");
    }

    #[test]
    fn escapes_for_the_second_unescape() {
        let q = Query::new()
            .exact("name", "robot$proj+bot")
            .exact("x", "50%");
        assert_eq!(q.to_query_value().unwrap(), "name=robot$proj%2Bbot,x=50%25");
    }
}
