//! The fast path of [`decode`](crate::decode): a strict, allocation-shy JSON reader written
//! for exactly the wire types of this crate.
//!
//! `serde_json` driving the derived `Deserialize` impls costs about twice its own
//! skipping speed (the floor of the `webhook_decode` bench) even into borrowed `&str` fields
//! with no allocation at all: every member goes through the generic key, option and
//! identifier visitors. This reader goes straight from bytes to the typed values.
//!
//! It never has the last word. Whenever it meets anything it does not handle exactly as
//! the serde path would (an escaped member name, a duplicate member, a number that is not a
//! plain integer, a lone surrogate, nesting deeper than 96, trailing bytes, any error) it
//! gives up with `None`, and [`decode`](crate::decode) runs the serde path, which is the
//! reference: it decides every error and every odd case. So the only promise here is:
//! **when this returns `Some`, the value equals what the serde path returns** (checked by
//! the tests below over every fixture and edited fixtures, and by the differential fuzz
//! target `events_fast_path`). Format detection, data before its `type` and the raw data of
//! unknown types are not re-implemented: the top level fills `detect`'s own `Collected` and
//! goes through the same `assemble`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::Severity;
use crate::detect::{Collected, DataModel, Slot};
use crate::report::{
    ClairComponents, ClairOverview, ClairSeverityCount, NativeReportSummary, SbomOverview,
    ScanOverview, Scanner, VulnerabilitySummary,
};
use crate::wire::{RawJson, StrMap};
use crate::{Format, Payload, distribution, v1, v1_documented, v2};

/// Deepest nesting the reader follows before it leaves the input to the serde path.
const MAX_DEPTH: u32 = 96;

/// A cursor over a body already known to be UTF-8.
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

/// Index of the first `"`, `\` or control character at or after `i`, eight bytes at a time.
///
/// In each word the lowest flagged byte is exact (the classic "has zero byte" and "has byte
/// less than" tricks may only flag bytes above a true hit), so the first hit is found.
#[inline]
fn scan(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let hits = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(ONES * 0x20) & !x))
            & HIGH;
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let digits = b.get(i..i + 4)?;
    digits.iter().try_fold(0u32, |acc, d| {
        let v = char::from(*d).to_digit(16)?;
        Some(acc * 16 + v)
    })
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
        }
    }

    /// The next byte that is not JSON whitespace (not consumed).
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let b = self.text.as_bytes();
        while let Some(&c) = b.get(self.pos) {
            match c {
                b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                _ => return Some(c),
            }
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        let b = self.text.as_bytes();
        if b.get(self.pos..self.pos + lit.len())? == lit {
            self.pos += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// Consumes `null` and says so, or leaves any other value in place.
    #[inline]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A string value, borrowed unless it has escapes.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let b = self.text.as_bytes();
        let start = self.pos;
        let end = scan(b, start)?;
        if b[end] == b'"' {
            self.pos = end + 1;
            return Some(Cow::Borrowed(self.text.get(start..end)?));
        }
        self.escaped(start, end).map(Cow::Owned)
    }

    /// The rest of a string with escapes: `i` is at the first `\` (or a control character).
    fn escaped(&mut self, start: usize, mut i: usize) -> Option<String> {
        let b = self.text.as_bytes();
        let mut out = String::with_capacity(i - start + 16);
        let mut segment = start;
        loop {
            match b[i] {
                b'"' => {
                    out.push_str(self.text.get(segment..i)?);
                    self.pos = i + 1;
                    return Some(out);
                }
                b'\\' => {
                    out.push_str(self.text.get(segment..i)?);
                    let escape = *b.get(i + 1)?;
                    i += 2;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let unit = hex4(b, i)?;
                            i += 4;
                            match unit {
                                0xD800..=0xDBFF => {
                                    if b.get(i..i + 2)? != b"\\u" {
                                        return None;
                                    }
                                    let low = hex4(b, i + 2)?;
                                    if !(0xDC00..=0xDFFF).contains(&low) {
                                        return None;
                                    }
                                    i += 6;
                                    char::from_u32(
                                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00),
                                    )?
                                }
                                0xDC00..=0xDFFF => return None,
                                _ => char::from_u32(unit)?,
                            }
                        }
                        _ => return None,
                    };
                    out.push(c);
                    segment = i;
                }
                _ => return None,
            }
            i = scan(b, i)?;
        }
    }

    /// A member name (escaped names are left to the serde path) and its colon.
    #[inline]
    fn key(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let b = self.text.as_bytes();
        let start = self.pos;
        let end = scan(b, start)?;
        if b[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        let key = self.text.get(start..end)?;
        self.eat(b':')?;
        Some(key)
    }

    /// Consumes the `{` or `[` that opens an object or array.
    #[inline]
    fn open(&mut self, c: u8) -> Option<()> {
        self.eat(c)?;
        self.enter()
    }

    /// Whether another member or element follows in the object or array being read (its
    /// separating comma consumed), or its `close` byte (consumed, `false`).
    #[inline]
    fn more(&mut self, close: u8, first: &mut bool) -> Option<bool> {
        let c = self.peek()?;
        if c == close {
            self.pos += 1;
            self.depth -= 1;
            return Some(false);
        }
        if !*first {
            if c != b',' {
                return None;
            }
            self.pos += 1;
        }
        *first = false;
        Some(true)
    }

    /// The next member name of the object being read, `None` (inner) at its `}`.
    #[inline]
    fn member(&mut self, first: &mut bool) -> Option<Option<&'a str>> {
        if self.more(b'}', first)? {
            self.key().map(Some)
        } else {
            Some(None)
        }
    }

    /// A plain JSON integer: no fraction, no exponent, no `-0`, no leading zero.
    fn integer(&mut self) -> Option<(bool, u64)> {
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let b = self.text.as_bytes();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&d) = b.get(self.pos) {
            if !d.is_ascii_digit() {
                break;
            }
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0
            || (digits > 1 && b[start] == b'0')
            || (negative && value == 0)
            || matches!(b.get(self.pos), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        Some((negative, value))
    }

    fn i64(&mut self) -> Option<i64> {
        match self.integer()? {
            (false, v) => i64::try_from(v).ok(),
            (true, v) => i64::try_from(v).ok().map(|v| -v),
        }
    }

    fn u64(&mut self) -> Option<u64> {
        match self.integer()? {
            (false, v) => Some(v),
            (true, _) => None,
        }
    }

    fn bool(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// Skips any JSON value, checking it as strictly as `serde_json` does.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => {
                self.open(b'{')?;
                let mut first = true;
                while self.member(&mut first)?.is_some() {
                    self.skip()?;
                }
                Some(())
            }
            b'[' => {
                self.open(b'[')?;
                let mut first = true;
                while self.more(b']', &mut first)? {
                    self.skip()?;
                }
                Some(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Any JSON number (grammar only).
    fn number(&mut self) -> Option<()> {
        let b = self.text.as_bytes();
        let digits = |pos: &mut usize| {
            let start = *pos;
            while b.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - start
        };
        let mut pos = self.pos;
        if b.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let int_start = pos;
        let n = digits(&mut pos);
        if n == 0 || (n > 1 && b[int_start] == b'0') {
            return None;
        }
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos) == 0 {
                return None;
            }
        }
        if matches!(b.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(b.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                return None;
            }
        }
        self.pos = pos;
        Some(())
    }

    /// The exact text of the next value (checked by skipping it).
    fn raw_text(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos)
    }

    /// Any value, kept verbatim.
    fn raw(&mut self) -> Option<RawJson<'a>> {
        self.raw_text().map(RawJson::borrowed)
    }
}

/// A type the reader builds directly.
pub(crate) trait Read<'a>: Sized {
    fn read(r: &mut Reader<'a>) -> Option<Self>;
}

fn cow<'a>(r: &mut Reader<'a>) -> Option<Cow<'a, str>> {
    r.string()
}

fn opt_cow<'a>(r: &mut Reader<'a>) -> Option<Option<Cow<'a, str>>> {
    if r.null()? {
        Some(None)
    } else {
        r.string().map(Some)
    }
}

fn read<'a, T: Read<'a>>(r: &mut Reader<'a>) -> Option<T> {
    T::read(r)
}

fn opt<'a, T: Read<'a>>(r: &mut Reader<'a>) -> Option<Option<T>> {
    if r.null()? {
        Some(None)
    } else {
        T::read(r).map(Some)
    }
}

fn opt_box<'a, T: Read<'a>>(r: &mut Reader<'a>) -> Option<Option<Box<T>>> {
    if r.null()? {
        Some(None)
    } else {
        T::read(r).map(|v| Some(Box::new(v)))
    }
}

fn opt_vec<'a, T: Read<'a>>(r: &mut Reader<'a>) -> Option<Option<Vec<T>>> {
    if r.null()? {
        Some(None)
    } else {
        vec(r).map(Some)
    }
}

fn vec<'a, T: Read<'a>>(r: &mut Reader<'a>) -> Option<Vec<T>> {
    r.open(b'[')?;
    let mut out = Vec::new();
    let mut first = true;
    while r.more(b']', &mut first)? {
        out.push(T::read(r)?);
    }
    Some(out)
}

fn int<'a>(r: &mut Reader<'a>) -> Option<i64> {
    r.i64()
}

fn opt_i64<'a>(r: &mut Reader<'a>) -> Option<Option<i64>> {
    if r.null()? {
        Some(None)
    } else {
        r.i64().map(Some)
    }
}

fn uint<'a>(r: &mut Reader<'a>) -> Option<u64> {
    r.u64()
}

fn opt_bool<'a>(r: &mut Reader<'a>) -> Option<Option<bool>> {
    if r.null()? {
        Some(None)
    } else {
        r.bool().map(Some)
    }
}

fn unix<'a>(r: &mut Reader<'a>) -> Option<DateTime<Utc>> {
    crate::wire::unix::from_secs::<serde_json::Error>(r.i64()?).ok()
}

fn opt_unix<'a>(r: &mut Reader<'a>) -> Option<Option<DateTime<Utc>>> {
    if r.null()? {
        Some(None)
    } else {
        unix(r).map(Some)
    }
}

fn rfc3339<'a>(r: &mut Reader<'a>) -> Option<DateTime<Utc>> {
    crate::wire::rfc3339::parse::<serde_json::Error>(&r.string()?).ok()
}

fn opt_rfc3339<'a>(r: &mut Reader<'a>) -> Option<Option<DateTime<Utc>>> {
    if r.null()? {
        Some(None)
    } else {
        rfc3339(r).map(Some)
    }
}

fn severity_or_empty<'a>(r: &mut Reader<'a>) -> Option<Option<Severity>> {
    Some(
        opt_cow(r)?
            .filter(|t| !t.is_empty())
            .map(|t| Severity::from_text(&t)),
    )
}

/// `Option<Option<Vec<Cow>>>` as `wire::opt_nullable_strings` reads it (present: `Some`).
fn nullable_strings<'a>(r: &mut Reader<'a>) -> Option<Option<Option<Vec<Cow<'a, str>>>>> {
    if r.null()? {
        return Some(Some(None));
    }
    r.open(b'[')?;
    let mut out = Vec::new();
    let mut first = true;
    while r.more(b']', &mut first)? {
        out.push(r.string()?);
    }
    Some(Some(Some(out)))
}

fn str_map<'a, V>(
    r: &mut Reader<'a>,
    value: fn(&mut Reader<'a>) -> Option<V>,
) -> Option<StrMap<'a, V>> {
    r.open(b'{')?;
    let mut map = StrMap::new();
    let mut first = true;
    while let Some(key) = r.member(&mut first)? {
        let v = value(r)?;
        map.push_parsed(Cow::Borrowed(key), v);
    }
    Some(map)
}

fn opt_str_map_cow<'a>(r: &mut Reader<'a>) -> Option<Option<StrMap<'a, Cow<'a, str>>>> {
    if r.null()? {
        Some(None)
    } else {
        str_map(r, cow).map(Some)
    }
}

fn opt_str_map_u64<'a>(r: &mut Reader<'a>) -> Option<Option<StrMap<'a, u64>>> {
    if r.null()? {
        Some(None)
    } else {
        str_map(r, uint).map(Some)
    }
}

fn opt_str_map_raw<'a>(r: &mut Reader<'a>) -> Option<Option<StrMap<'a, RawJson<'a>>>> {
    if r.null()? {
        Some(None)
    } else {
        str_map(r, Reader::raw).map(Some)
    }
}

fn opt_str_map_selectors<'a>(
    r: &mut Reader<'a>,
) -> Option<Option<StrMap<'a, Vec<v2::Selector<'a>>>>> {
    if r.null()? {
        Some(None)
    } else {
        str_map(r, vec).map(Some)
    }
}

fn opt_raw<'a>(r: &mut Reader<'a>) -> Option<Option<RawJson<'a>>> {
    if r.null()? {
        Some(None)
    } else {
        r.raw().map(Some)
    }
}

/// `Read` for a struct read as its derived `Deserialize` reads it: members matched by name,
/// unknown members skipped, a repeated member refused (serde's "duplicate field"), missing
/// members at their `Default` unless listed as required. The struct is built with a literal,
/// so a field added to a wire type and not listed here (or under `skip`) fails the build.
macro_rules! read_struct {
    (
        $ty:ty { $($key:literal => $field:ident : $reader:expr),* $(,)? }
        $(skip [$($skip:ident),*])?
        $(required [$($req:ident),*])?
    ) => {
        impl<'a> Read<'a> for $ty {
            fn read(r: &mut Reader<'a>) -> Option<Self> {
                $(let mut $field = None;)*
                r.open(b'{')?;
                let mut first = true;
                while let Some(key) = r.member(&mut first)? {
                    match key {
                        $($key => {
                            if $field.is_some() {
                                return None;
                            }
                            $field = Some($reader(r)?);
                        })*
                        _ => r.skip()?,
                    }
                }
                // A required member that is missing: serde's "missing field".
                $($( $req.as_ref()?; )*)?
                Some(Self {
                    $($field: $field.unwrap_or_default(),)*
                    $($($skip: Default::default(),)*)?
                })
            }
        }
    };
}

read_struct!(v2::EventData<'a> {
    "resources" => resources: opt_vec,
    "repository" => repository: opt,
    "replication" => replication: opt_box,
    "retention" => retention: opt_box,
    "scan" => scan: opt,
    "custom_attributes" => custom_attributes: opt_str_map_cow,
} skip [raw]);

read_struct!(v2::Resource<'a> {
    "digest" => digest: opt_cow,
    "tag" => tag: opt_cow,
    "resource_url" => resource_url: opt_cow,
    "scan_overview" => scan_overview: opt,
    "sbom_overview" => sbom_overview: opt_box,
});

read_struct!(v2::Repository<'a> {
    "date_created" => date_created: opt_unix,
    "name" => name: cow,
    "namespace" => namespace: cow,
    "repo_full_name" => repo_full_name: cow,
    "repo_type" => repo_type: cow,
});

read_struct!(v2::Scan<'a> { "scan_type" => scan_type: opt_cow });

read_struct!(v2::Replication<'a> {
    "harbor_hostname" => harbor_hostname: opt_cow,
    "job_status" => job_status: opt_cow,
    "description" => description: opt_cow,
    "artifact_type" => artifact_type: opt_cow,
    "authentication_type" => authentication_type: opt_cow,
    "override_mode" => override_mode: opt_bool,
    "trigger_type" => trigger_type: opt_cow,
    "policy_creator" => policy_creator: opt_cow,
    "execution_timestamp" => execution_timestamp: opt_unix,
    "src_resource" => src_resource: opt,
    "dest_resource" => dest_resource: opt,
    "successful_artifact" => successful_artifact: opt_vec,
    "failed_artifact" => failed_artifact: opt_vec,
    "execution_id" => execution_id: opt_i64,
    "task_id" => task_id: opt_i64,
});

read_struct!(v2::ReplicationResource<'a> {
    "registry_name" => registry_name: opt_cow,
    "registry_type" => registry_type: cow,
    "endpoint" => endpoint: cow,
    "provider" => provider: opt_cow,
    "namespace" => namespace: opt_cow,
});

read_struct!(v2::ArtifactInfo<'a> {
    "type" => artifact_type: cow,
    "status" => status: cow,
    "name_tag" => name_tag: cow,
    "references" => references: nullable_strings,
    "fail_reason" => fail_reason: opt_cow,
});

read_struct!(v2::Retention<'a> {
    "total" => total: int,
    "retained" => retained: int,
    "harbor_hostname" => harbor_hostname: opt_cow,
    "project_name" => project_name: opt_cow,
    "retention_policy_id" => retention_policy_id: opt_i64,
    "retention_rule" => retention_rule: opt_vec,
    "result" => result: opt_cow,
    "deleted_artifact" => deleted_artifact: opt_vec,
});

read_struct!(v2::RetentionRule<'a> {
    "template" => template: opt_cow,
    "params" => params: opt_str_map_raw,
    "tag_selectors" => tag_selectors: opt_vec,
    "scope_selectors" => scope_selectors: opt_str_map_selectors,
});

read_struct!(v2::Selector<'a> {
    "kind" => kind: cow,
    "decoration" => decoration: cow,
    "pattern" => pattern: cow,
    "extras" => extras: cow,
});

read_struct!(v1::EventData<'a> {
    "resources" => resources: opt_vec,
    "repository" => repository: read,
    "custom_attributes" => custom_attributes: opt_str_map_cow,
});

read_struct!(v1::Resource<'a> {
    "digest" => digest: opt_cow,
    "tag" => tag: cow,
    "resource_url" => resource_url: opt_cow,
    "scan_overview" => scan_overview: opt,
});

read_struct!(v1_documented::DocumentedEvent<'a> {
    "project" => project: cow,
    "repo_name" => repo_name: cow,
    "tag" => tag: cow,
    "full_name" => full_name: cow,
    "trigger_time" => trigger_time: unix,
    "image_id" => image_id: cow,
    "project_type" => project_type: cow,
});

read_struct!(distribution::Event<'a> {
    "id" => id: cow,
    "timestamp" => timestamp: rfc3339,
    "action" => action: cow,
    "target" => target: read,
    "request" => request: read,
    "actor" => actor: read,
    "source" => source: read,
} required [timestamp, action, target]);

read_struct!(distribution::Target<'a> {
    "mediaType" => media_type: opt_cow,
    "size" => size: opt_i64,
    "digest" => digest: opt_cow,
    "length" => length: opt_i64,
    "repository" => repository: opt_cow,
    "fromRepository" => from_repository: opt_cow,
    "url" => url: opt_cow,
    "tag" => tag: opt_cow,
    "references" => references: opt_raw,
});

read_struct!(distribution::Request<'a> {
    "id" => id: opt_cow,
    "addr" => addr: opt_cow,
    "host" => host: opt_cow,
    "method" => method: opt_cow,
    "useragent" => useragent: opt_cow,
});

read_struct!(distribution::Actor<'a> { "name" => name: opt_cow });

read_struct!(distribution::Source<'a> {
    "addr" => addr: opt_cow,
    "instanceID" => instance_id: opt_cow,
});

read_struct!(NativeReportSummary<'a> {
    "report_id" => report_id: cow,
    "scan_status" => scan_status: cow,
    "severity" => severity: severity_or_empty,
    "duration" => duration: int,
    "summary" => summary: opt,
    "start_time" => start_time: rfc3339,
    "end_time" => end_time: rfc3339,
    "scanner" => scanner: opt,
    "complete_percent" => complete_percent: opt_i64,
});

read_struct!(VulnerabilitySummary<'a> {
    "total" => total: uint,
    "fixable" => fixable: uint,
    "summary" => summary: opt_str_map_u64,
});

read_struct!(Scanner<'a> {
    "name" => name: cow,
    "vendor" => vendor: cow,
    "version" => version: cow,
});

read_struct!(SbomOverview<'a> {
    "report_id" => report_id: opt_cow,
    "scan_status" => scan_status: opt_cow,
    "start_time" => start_time: opt_rfc3339,
    "end_time" => end_time: opt_rfc3339,
    "duration" => duration: opt_i64,
    "sbom_repository" => sbom_repository: opt_cow,
    "sbom_digest" => sbom_digest: opt_cow,
    "scanner" => scanner: opt,
});

read_struct!(ClairComponents {
    "total" => total: int,
    "summary" => summary: opt_vec,
});

read_struct!(ClairSeverityCount {
    "severity" => severity: int,
    "count" => count: int,
});

impl<'a> Read<'a> for ScanOverview<'a> {
    /// As `ScanOverview`'s `Deserialize`: a first member named like a Clair overview field
    /// makes it the 1.9 Clair overview (later members set fields, last one wins, unknown
    /// ones skipped); otherwise a map of report summaries (a repeated MIME type replaces).
    fn read(r: &mut Reader<'a>) -> Option<Self> {
        r.open(b'{')?;
        let mut first = true;
        let Some(key) = r.member(&mut first)? else {
            return Some(ScanOverview::Reports(StrMap::new()));
        };
        if crate::report::CLAIR_FIELDS.contains(&key) {
            let mut clair = ClairOverview::default();
            let mut next = Some(key);
            while let Some(key) = next {
                match key {
                    "image_digest" => clair.image_digest = r.string()?,
                    "scan_status" => clair.scan_status = r.string()?,
                    "job_id" => clair.job_id = r.i64()?,
                    "severity" => clair.severity = r.i64()?,
                    "components" => clair.components = opt(r)?,
                    "details_key" => clair.details_key = r.string()?,
                    "creation_time" => clair.creation_time = rfc3339(r)?,
                    "update_time" => clair.update_time = rfc3339(r)?,
                    _ => r.skip()?,
                }
                next = r.member(&mut first)?;
            }
            return Some(ScanOverview::Clair(Box::new(clair)));
        }
        let mut reports = StrMap::new();
        reports.insert(key, NativeReportSummary::read(r)?);
        while let Some(key) = r.member(&mut first)? {
            reports.insert(key, NativeReportSummary::read(r)?);
        }
        Some(ScanOverview::Reports(reports))
    }
}

/// A data member read with the model `detect` chose, as its visitor reads it: `null` is
/// [`Slot::Null`] except for raw data, which keeps even `null` verbatim.
fn data_slot<'a>(r: &mut Reader<'a>, model: DataModel) -> Option<Slot<'a>> {
    if model == DataModel::Raw {
        return Some(Slot::Raw(r.raw_text()?));
    }
    if r.null()? {
        return Some(Slot::Null);
    }
    Some(match model {
        DataModel::V1 => Slot::V1(Box::new(v1::EventData::read(r)?)),
        DataModel::V2 => Slot::V2(Box::new(v2::EventData::read(r)?)),
        DataModel::Guess | DataModel::Raw => Slot::Guess(Box::new(v2::EventData::read(r)?)),
    })
}

/// The top-level object, collected exactly as `detect`'s speculative visitor collects it
/// (data met before its `type` read as 2.x data; data under a type this crate does not know
/// kept verbatim), then assembled by the same code.
pub(crate) fn payload<'a>(text: &'a str, hint: Option<Format>) -> Option<Payload<'a>> {
    let mut r = Reader::new(text);
    let mut c = Collected::<'a>::default();
    r.open(b'{')?;
    let mut first = true;
    while let Some(key) = r.member(&mut first)? {
        match key {
            "type" => {
                let text = r.string()?;
                c.type_known = crate::detect::known_type(&text);
                c.type_ = Some(text);
            }
            "occur_at" => c.occur_at = Some(unix(&mut r)?),
            "operator" => c.operator = Some(r.string()?),
            "event_data" => {
                let model = c.event_data_model(hint, true);
                c.event_data = Some(data_slot(&mut r, model)?);
            }
            "specversion" => c.specversion = Some(r.string()?),
            "id" => c.id = Some(r.string()?),
            "source" => c.source = Some(r.string()?),
            "datacontenttype" => c.datacontenttype = Some(r.string()?),
            "time" => c.time = Some(rfc3339(&mut r)?),
            "requestid" => c.requestid = Some(r.string()?),
            "data" => {
                let model = c.data_model(true);
                c.data = Some(data_slot(&mut r, model)?);
            }
            "event_type" => c.event_type = Some(r.string()?),
            "events" => {
                c.events = Some(if r.null()? {
                    Slot::Null
                } else if c.events_documented(hint) {
                    Slot::Documented(vec(&mut r)?)
                } else {
                    Slot::Distribution(vec(&mut r)?)
                });
            }
            _ => {
                if c.extensions.len() < crate::detect::MAX_EXTENSIONS {
                    let value = r.raw()?;
                    c.extensions.insert(key, value);
                } else {
                    r.skip()?;
                }
            }
        }
    }
    if !r.at_end() {
        return None;
    }
    crate::detect::assemble::<serde_json::Error>(c, hint).ok()
}

#[cfg(test)]
mod tests {
    //! The reader against the reference: wherever it answers, it answers as the serde path.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::{Path, PathBuf};

    use proptest::prelude::*;

    use super::payload;
    use crate::Format;

    /// No hint (detection), then each format.
    fn hints() -> impl Iterator<Item = Option<Format>> {
        std::iter::once(None).chain(Format::ALL.map(Some))
    }

    /// Checks one body under one hint; `true` when the reader answered.
    fn agrees(text: &str, hint: Option<Format>) -> bool {
        let Some(fast) = payload(text, hint) else {
            return false;
        };
        let reference = crate::decode::decode_reference(text.as_bytes(), Some(text), hint)
            .unwrap_or_else(|e| panic!("reader took what the reference refuses ({e}): {text}"));
        // Debug shows every field, in order (map entries too): stricter than `==`.
        assert_eq!(
            format!("{fast:?}"),
            format!("{reference:?}"),
            "{hint:?}: {text}"
        );
        assert_eq!(fast, reference);
        true
    }

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                json_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }

    fn corpus() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        json_files(&root.join("tests/fixtures"), &mut paths);
        let shared = root.join("../../shared/fixtures/harbor-webhooks");
        if shared.is_dir() {
            json_files(&shared, &mut paths);
        }
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    #[test]
    fn every_fixture_is_read_by_the_reader_and_agrees() {
        let corpus = corpus();
        assert!(corpus.len() >= 45, "fixtures not found");
        let mut declined = Vec::new();
        for text in &corpus {
            for hint in hints() {
                let answered = agrees(text, hint);
                // Every payload the crate accepts as it detects takes the fast path: a
                // fixture falling back would be a silent slowdown.
                if hint.is_none() && !answered && crate::decode(text.as_bytes()).is_ok() {
                    declined.push(text.chars().take(120).collect::<String>());
                }
            }
        }
        assert!(declined.is_empty(), "the reader declined: {declined:#?}");
    }

    #[test]
    fn odd_inputs_agree_or_go_to_the_reference() {
        let cases = [
            // escapes, surrogates, control characters
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"a\u00e9\ud83d\ude00\n\"b\\/"}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"\ud83d"}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"\ude00"}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"\x"}"#,
            "{\"type\":\"PUSH_ARTIFACT\",\"occur_at\":1,\"operator\":\"a\u{1}b\"}",
            r#"{"typ\u0065":"PUSH_ARTIFACT","occur_at":1}"#,
            // numbers
            r#"{"type":"PUSH_ARTIFACT","occur_at":-0}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1.0}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1e3}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":01}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":99999999999999999999}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":-9223372036854775808}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":9223372036854775807}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"x":[1.5e-3,-0.0,1E+2,{"a":[true,false,null]}]}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"x":1.}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"x":-}"#,
            // duplicates, structure
            r#"{"type":"PUSH_ARTIFACT","type":"PULL_ARTIFACT","occur_at":1}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":[{"tag":"a","tag":"b"}]}}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"custom_attributes":{"a":"1","a":"2"}}}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1} x"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1}  "#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":[{},]}}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":null,"repository":null}}"#,
            r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"repository":{"name":null}}}"#,
            r#"{"type":"pushImage","occur_at":1,"event_data":{"repository":null}}"#,
            r#"{"event_data":{"repository":null},"type":"pushImage","occur_at":1}"#,
            r#"{"event_data":null,"type":"FUTURE","occur_at":1}"#,
            r#"{"type":"FUTURE","occur_at":1,"event_data":null}"#,
            r#"{"type":"FUTURE","occur_at":1,"event_data":{"resources":[{"tag":1}]}}"#,
            r#"{"event_data":{"x":1},"type":"FUTURE","occur_at":1}"#,
            r#"{"specversion":"1.0","id":"i","source":"s","type":"harbor.artifact.pushed","time":"2024-01-01T00:00:00Z","data":null,"ext":{"a":1},"ext":2}"#,
            r#"{"specversion":"1.0","id":"i","source":"s","type":"harbor.future","time":"2024-01-01T00:00:00+02:00","data":{"a":[1]}}"#,
            r#"{"specversion":"1.0","id":"i","source":"s","type":"harbor.artifact.pushed","time":"nope"}"#,
            r#"{"events":[{"timestamp":"2024-01-01T00:00:00Z","action":"push","target":{"references":null}}]}"#,
            r#"{"events":[{"timestamp":"2024-01-01T00:00:00Z","action":"push"}]}"#,
            r#"{"events":null}"#,
            r#"{"event_type":"pushImage","events":[{"trigger_time":1}]}"#,
            r#"{"events":[],"event_type":"pushImage"}"#,
            r#"{"type":"SCANNING_COMPLETED","occur_at":1,"event_data":{"resources":[{"scan_overview":{"job_id":1,"job_id":2,"x":{},"components":null}}]}}"#,
            r#"{"type":"SCANNING_COMPLETED","occur_at":1,"event_data":{"resources":[{"scan_overview":{"m":{"severity":""},"m":{"severity":"HIGH","summary":{"summary":{"High":1,"High":2}}}}}]}}"#,
            r#"[]"#,
            r#"{}"#,
            r#""x""#,
        ];
        for text in cases {
            for hint in hints() {
                agrees(text, hint);
            }
        }
        let deep = format!(
            r#"{{"type":"PUSH_ARTIFACT","occur_at":1,"x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(
            !agrees(&deep, None),
            "nesting beyond the limit goes to the reference"
        );
    }

    fn edited(seed: &str, edits: &[(prop::sample::Index, u8, u8)]) -> Option<String> {
        const BYTES: &[u8] = b" \n{}[],:\"\\0123456789-.eEtrufalsn_axyz";
        let mut bytes = seed.as_bytes().to_vec();
        for (at, op, byte) in edits {
            let b = BYTES[usize::from(*byte) % BYTES.len()];
            match op % 3 {
                0 => {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
                1 => bytes.insert(at.index(bytes.len() + 1), b),
                _ => {
                    bytes.remove(at.index(bytes.len()));
                }
            }
            if bytes.is_empty() {
                return None;
            }
        }
        String::from_utf8(bytes).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// JSON-ish edits (structural bytes, digits, escapes) to every kind of fixture:
        /// whatever the reader answers, the reference answers the same.
        #[test]
        fn edited_fixtures_agree(
            seed in any::<prop::sample::Index>(),
            edits in proptest::collection::vec(
                (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..6),
            hint in 0..=Format::ALL.len(),
        ) {
            let corpus = corpus();
            let seed = &corpus[seed.index(corpus.len())];
            if let Some(text) = edited(seed, &edits) {
                agrees(&text, hints().nth(hint).flatten());
            }
        }
    }
}
