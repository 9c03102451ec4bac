//! Harbor's two time encodings: Unix seconds (`occur_at`, `date_created`,
//! `execution_timestamp`) and RFC 3339 as Go's `time.Time` writes it (scan times, the
//! registry's `timestamp`, CloudEvents `time`), both as `DateTime<Utc>`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::de;

/// Unix seconds as a time; `None` when out of chrono's range.
#[inline]
pub fn from_unix_secs(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// As [`from_unix_secs`], with serde's error for a decode.
///
/// # Errors
///
/// When `secs` is out of the supported range.
pub fn from_unix_secs_de<E: de::Error>(secs: i64) -> Result<DateTime<Utc>, E> {
    from_unix_secs(secs).ok_or_else(|| {
        E::custom(format_args!(
            "Unix time {secs} is out of the supported range"
        ))
    })
}

/// A time as Go's `RFC3339Nano` writes it: trailing zeros of the fraction trimmed, `Z`.
pub fn format_rfc3339(t: &DateTime<Utc>) -> String {
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Serializes a time as RFC 3339 ([`format_rfc3339`]) for a wire format. RFC 3339 writes
/// four-digit years only: a time outside the years 0000 to 9999 (a Unix time in
/// milliseconds read as seconds lands in the year 52142) is an error, not a string that no
/// reader, this crate's included, would take back.
///
/// # Errors
///
/// The serializer's error, for a year outside 0000 to 9999.
pub fn serialize_rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    if !(0..=9999).contains(&t.year()) {
        return Err(serde::ser::Error::custom(format_args!(
            "the time {} is outside the years 0000 to 9999 that RFC 3339 can write",
            format_rfc3339(t)
        )));
    }
    s.serialize_str(&format_rfc3339(t))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form Harbor and the registry write, without
/// chrono's general parser; anything else goes to chrono.
#[inline]
fn parse_utc_fast(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i).is_some_and(|x| *x == c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':'))
        || b.last() != Some(&b'Z')
    {
        return None;
    }
    let mut nanos = 0u32;
    let end = b.len() - 1;
    if end > 19 {
        if !sep(19, b'.') || end - 20 > 9 || end == 20 {
            return None;
        }
        nanos = num(20..end)? * 10u32.pow(u32::try_from(9 - (end - 20)).ok()?);
    } else if end != 19 {
        return None;
    }
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let time =
        chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// Parses an RFC 3339 time (any offset, normalised to UTC).
///
/// # Errors
///
/// chrono's error when `text` is not RFC 3339.
#[inline]
pub fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    if let Some(t) = parse_utc_fast(text) {
        return Ok(t);
    }
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

/// As [`parse_rfc3339`], with serde's error for a decode.
///
/// # Errors
///
/// When `text` is not RFC 3339.
pub fn parse_rfc3339_de<E: de::Error>(text: &str) -> Result<DateTime<Utc>, E> {
    parse_rfc3339(text).map_err(|e| E::custom(format_args!("invalid RFC 3339 time {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_year_rfc3339_cannot_write_is_a_serialize_error() {
        let far = from_unix_secs(1_583_283_222_332).unwrap(); // milliseconds read as seconds
        let err = serialize_rfc3339(&far, serde_json::value::Serializer).unwrap_err();
        assert!(err.to_string().contains("+52142"), "{err}");
        let t = parse_rfc3339("9999-12-31T23:59:59Z").unwrap();
        assert_eq!(
            serialize_rfc3339(&t, serde_json::value::Serializer).unwrap(),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn rfc3339_is_written_as_go_writes_it() {
        for text in [
            "2023-04-03T06:12:47Z",
            "2021-05-03T22:10:30.632281Z",
            "2024-05-01T10:00:00.123456789Z",
            "2024-05-01T10:00:00.1Z",
            "0001-01-01T00:00:00Z",
        ] {
            let t = parse_rfc3339(text).unwrap();
            assert_eq!(format_rfc3339(&t), text);
        }
        for bad in [
            "2024-13-01T00:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T25:00:00Z",
            "2024-05-01",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        let t = parse_rfc3339("2024-05-01T12:00:00.500+02:00").unwrap();
        assert_eq!(format_rfc3339(&t), "2024-05-01T10:00:00.5Z");
        assert!(from_unix_secs(i64::MAX).is_none());
    }
}
