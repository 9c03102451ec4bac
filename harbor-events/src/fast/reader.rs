//! The JSON cursor of the fast path: [`JsonReader`], strict and allocation-shy, scanning
//! strings eight bytes at a time. It implements `harbor_types::wire::Reader`, the
//! primitives the wire types' declarations read themselves with.

use std::borrow::Cow;

use harbor_types::wire::Reader;

/// Deepest nesting the reader follows before it leaves the input to the serde path.
const MAX_DEPTH: u32 = 96;

/// A cursor over a body already known to be UTF-8.
pub(crate) struct JsonReader<'a> {
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

impl<'a> JsonReader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        JsonReader {
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

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
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
}

impl<'a> Reader<'a> for JsonReader<'a> {
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

    /// The exact text of the next value (checked by skipping it).
    fn raw_text(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos)
    }
}
