//! Value checks for single cells (dates, e-mail addresses, booleans, integers, enums).

use super::kinds::Match;

/// Canvas's `value_to_boolean` truthy/falsy spellings (§1.1).
pub fn is_plain_bool(v: &str) -> bool {
    const WORDS: [&str; 12] = [
        "true", "t", "yes", "y", "on", "1", "false", "f", "no", "n", "off", "0",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(v)) || is_int(v)
}

pub fn is_int(v: &str) -> bool {
    let d = v.strip_prefix('-').unwrap_or(v);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

/// Most characters in a login (`Pseudonym::MAX_UNIQUE_ID_LENGTH`).
pub const MAX_LOGIN_CHARS: usize = 100;

/// Why the pseudonym would refuse a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginProblem {
    /// More than [`MAX_LOGIN_CHARS`] characters (Ruby counts characters, not bytes).
    TooLong(usize),
    /// Not `[[:print:]]`: the 1-based position and the character.
    NotPrintable(usize, char),
}

/// What `Pseudonym` says of a (trimmed, non-empty) login: the length is validated
/// before the format, so a long login is "too long" whatever it holds.
pub fn login_problem(v: &str) -> Option<LoginProblem> {
    if v.len() <= MAX_LOGIN_CHARS && v.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return None;
    }
    let n = v.chars().count();
    if n > MAX_LOGIN_CHARS {
        return Some(LoginProblem::TooLong(n));
    }
    v.chars()
        .enumerate()
        .find(|&(_, c)| !is_print(c))
        .map(|(i, c)| LoginProblem::NotPrintable(i + 1, c))
}

/// Onigmo's `[[:print:]]` on UTF-8 text (the graphic characters and the space
/// separators): not a control character (Cc), not a line or paragraph separator, not
/// a noncharacter. (Other unassigned code points are not printable either; they are
/// not checked here.)
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || c == '\u{2028}'
        || c == '\u{2029}'
        || (0xfdd0..=0xfdef).contains(&u)
        || u & 0xfffe == 0xfffe)
}

/// `v` with every character that is not printable escaped (`\t`, `\n`, `\r`,
/// `\u{1b}`), for a message printed on one line.
pub fn escape_unprintable(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        if is_print(c) {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

/// Whether `v` is one of `values` (lower-case, but for [`Match::ExactCase`]).
#[inline]
pub fn enum_ok(v: &str, values: &[&str], mode: Match) -> bool {
    let v = v.as_bytes();
    match mode {
        Match::Prefix => values
            .iter()
            .any(|a| v.len() >= a.len() && eq_lower(&v[..a.len()], a.as_bytes())),
        Match::Exact => values.iter().any(|a| eq_lower(v, a.as_bytes())),
        Match::ExactCase => values.iter().any(|a| v == a.as_bytes()),
    }
}

/// `v` lower-cased (ASCII) equals `lower`.
#[inline]
fn eq_lower(v: &[u8], lower: &[u8]) -> bool {
    v.len() == lower.len()
        && v.iter()
            .zip(lower)
            .all(|(&b, &l)| b.to_ascii_lowercase() == l)
}

/// Whether Canvas takes `v` as an e-mail address. Its `EmailAddressValidator.valid?` is
/// `Mail::Address.new(v)` with a domain, and an address equal to `v` (no display name or
/// angle brackets). The mail gem is lenient, and so is this, so as never to flag an
/// address Canvas accepts: a one-label domain (`a@localhost`), dots anywhere in the
/// local part, any of RFC 5322's `atext` (`+`, `'`, `_`, `/`, …), a quoted local part,
/// a domain literal (`[192.0.2.1]`), non-ASCII text.
pub fn is_email(v: &str) -> bool {
    let b = v.as_bytes();
    let local = if b.first() == Some(&b'"') {
        // A quoted string: to the closing quote, `\` escaping the next byte.
        let mut i = 1;
        loop {
            match b.get(i) {
                None | Some(b'\r' | b'\n') => return false,
                Some(b'\\') => i += 2,
                Some(b'"') => break i + 1,
                Some(_) => i += 1,
            }
        }
    } else {
        let n = b.iter().take_while(|&&c| c == b'.' || is_atext(c)).count();
        if !b[..n].iter().any(|&c| c != b'.') {
            return false;
        }
        n
    };
    if b.get(local) != Some(&b'@') {
        return false;
    }
    let d = &b[local + 1..];
    if let [b'[', inner @ .., b']'] = d {
        return inner
            .iter()
            .all(|&c| c > b' ' && c != 0x7f && !matches!(c, b'[' | b']' | b'\\'));
    }
    !d.is_empty()
        && d.split(|&c| c == b'.')
            .all(|l| !l.is_empty() && l.iter().all(|&c| is_atext(c)))
}

/// RFC 5322's `atext`, and any byte of a non-ASCII character.
#[inline]
fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c) || c >= 0x80
}

fn digits(s: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *i;
    let mut n: u32 = 0;
    while *i < s.len() && *i - start < max && s[*i].is_ascii_digit() {
        n = n * 10 + (s[*i] - b'0') as u32;
        *i += 1;
    }
    if *i - start < min { None } else { Some(n) }
}

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        _ => 28,
    }
}

/// The common shapes `YYYY-MM-DD` and `YYYY-MM-DDTHH:MM:SSZ`, valid: a shortcut for
/// [`is_date`], which still decides everything this does not accept. The shape is
/// checked eight bytes at a time.
#[inline]
fn is_iso_fast(s: &[u8]) -> bool {
    /// The eight bytes at `i`, little-endian.
    #[inline]
    fn word(s: &[u8], i: usize) -> u64 {
        u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"))
    }
    /// Whether `w` has an ASCII digit in every byte of `digits` (a mask of whole
    /// bytes) and `want`'s bytes everywhere else. A digit is `0x3_` with a low nibble
    /// that does not carry when 6 is added; a byte that carries into the next one
    /// fails its own test, so the carry changes nothing.
    #[inline]
    fn shape(w: u64, digits: u64, want: u64) -> bool {
        const HI: u64 = 0xf0f0_f0f0_f0f0_f0f0;
        const THREES: u64 = 0x3030_3030_3030_3030;
        w & digits & HI == THREES & digits
            && w.wrapping_add(0x0606_0606_0606_0606) & digits & HI == THREES & digits
            && w & !digits == want & !digits
    }
    /// The two-digit number at `i` (already checked to be digits).
    #[inline]
    fn d2(s: &[u8], i: usize) -> u32 {
        u32::from(s[i] - b'0') * 10 + u32::from(s[i + 1] - b'0')
    }
    // `YYYY-MM-`: digits in bytes 0-3, 5, 6.
    const DATE_DIGITS: u64 = 0x00ff_ff00_ffff_ffff;
    const DATE: u64 = u64::from_le_bytes(*b"0000-00-");
    let time = match s.len() {
        10 => false,
        20 => true,
        _ => return false,
    };
    if !shape(word(s, 0), DATE_DIGITS, DATE) {
        return false;
    }
    let day_ok = if time {
        // `DDTHH:MM` and `H:MM:SSZ` (bytes 8-15 and 12-19).
        shape(
            word(s, 8),
            0xffff_00ff_ff00_ffff,
            u64::from_le_bytes(*b"00T00:00"),
        ) && shape(
            word(s, 12),
            0x00ff_ff00_ffff_00ff,
            u64::from_le_bytes(*b"0:00:00Z"),
        )
    } else {
        s[8].is_ascii_digit() && s[9].is_ascii_digit()
    };
    if !day_ok {
        return false;
    }
    let (m, d) = (d2(s, 5), d2(s, 8));
    if !(1..=12).contains(&m) || d == 0 || d > days_in(d2(s, 0) * 100 + d2(s, 2), m) {
        return false;
    }
    !time || (d2(s, 11) <= 24 && d2(s, 14) <= 59 && d2(s, 17) <= 60)
}

/// How Canvas (Rails' `Time.zone.parse`, i.e. Ruby's `Date._parse`) reads a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateRead {
    Ok,
    /// `A/B/YYYY` (or `-`, `.`) with both `A` and `B` up to 12 and different: Ruby reads
    /// it day first, as `[year, month, day]` here, whatever the SIS meant.
    DayFirst([u32; 3]),
    /// A day past the month's end, up to 31 (`2024-02-30`): Ruby's `Time.new`, which
    /// `Time.zone.parse` ends in, rolls it into the next month (`[given, read]`, each
    /// `[year, month, day]`) and Canvas imports that, without a word.
    RollsOver([u32; 3], [u32; 3]),
    Bad,
}

/// Dates as `Time.zone.parse` takes them in practice: year first (`YYYY-MM-DD`,
/// `YYYY/MM/DD`, `YYYYMMDD`), day first (`DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`), or
/// with a month name (`Jan 3, 2013`, `3 January 2013`, `Thu, 03 Jan 2013`); then
/// optionally `T` or a space and `HH:MM[:SS[.frac]]` with `am`/`pm`, and a zone (`Z`,
/// `UTC`, `GMT`, US abbreviations, `±HH[:MM]`). Calendar dates are checked.
pub fn read_date(v: &str) -> DateRead {
    if is_iso_fast(v.as_bytes()) {
        DateRead::Ok
    } else {
        read_date_general(v)
    }
}

fn valid_day(y: u32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= days_in(y, m)
}

fn read_date_general(v: &str) -> DateRead {
    let s = v.as_bytes();
    if s.len() >= 4 && s[..4].iter().all(u8::is_ascii_digit) {
        return year_first(s).map_or(DateRead::Bad, |(i, ymd)| judge(s, i, ymd, false));
    }
    if let Some((i, ymd)) = day_first(s) {
        return judge(s, i, ymd, true);
    }
    with_month_name(s).map_or(DateRead::Bad, |(i, ymd)| judge(s, i, ymd, false))
}

/// A date read up to `i` as `[y, m, d]` (`day_first` when Ruby read it so), against the
/// calendar as `Time.new` applies it: a month over 12 or a day over 31 raises (Canvas's
/// "Bad date format"), a day past the month's end rolls over.
fn judge(s: &[u8], i: usize, [y, m, d]: [u32; 3], day_first: bool) -> DateRead {
    if !time_tail(s, i) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return DateRead::Bad;
    }
    let last = days_in(y, m);
    if d > last {
        // December has 31 days: the next month is in the same year.
        return DateRead::RollsOver([y, m, d], [y, m + 1, d - last]);
    }
    if day_first && d <= 12 && d != m {
        DateRead::DayFirst([y, m, d])
    } else {
        DateRead::Ok
    }
}

/// For a date that is bad only because Ruby reads it day first (`12/25/2024`), the
/// month-first reading the SIS probably meant, as `YYYY-MM-DD`.
pub fn month_first_reading(v: &str) -> Option<String> {
    let (i, [y, m, d]) = day_first(v.as_bytes())?;
    (i == v.len() && !valid_day(y, m, d) && valid_day(y, d, m))
        .then(|| format!("{y:04}-{d:02}-{m:02}"))
}

/// `YYYY-MM-DD`, `YYYY/MM/DD` (one-digit month or day too) or `YYYYMMDD`: the index
/// after it and `[year, month, day]`, not yet checked.
fn year_first(s: &[u8]) -> Option<(usize, [u32; 3])> {
    let mut i = 0;
    let (y, m, d);
    if s.len() >= 8
        && s[..8].iter().all(u8::is_ascii_digit)
        && s.get(8).is_none_or(|c| !c.is_ascii_digit())
    {
        y = digits(s, &mut i, 4, 4)?;
        m = digits(s, &mut i, 2, 2)?;
        d = digits(s, &mut i, 2, 2)?;
    } else {
        y = digits(s, &mut i, 4, 4)?;
        let sep = *s.get(i).filter(|&&c| c == b'-' || c == b'/')?;
        i += 1;
        m = digits(s, &mut i, 1, 2)?;
        if s.get(i) != Some(&sep) {
            return None;
        }
        i += 1;
        d = digits(s, &mut i, 1, 2)?;
    }
    Some((i, [y, m, d]))
}

/// `A/B/YYYY`, `A-B-YYYY` or `A.B.YYYY`, read as Ruby's `Date._parse` does (day first):
/// the index after it and `[year, month, day]`, not yet checked.
fn day_first(s: &[u8]) -> Option<(usize, [u32; 3])> {
    let mut i = 0;
    let d = digits(s, &mut i, 1, 2)?;
    let sep = *s.get(i).filter(|&&c| c == b'-' || c == b'/' || c == b'.')?;
    i += 1;
    let m = digits(s, &mut i, 1, 2)?;
    if s.get(i) != Some(&sep) {
        return None;
    }
    i += 1;
    let y = digits(s, &mut i, 4, 4)?;
    if s.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((i, [y, m, d]))
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The word at `i` (ASCII letters) and the index after it.
fn word(s: &[u8], i: usize) -> (&[u8], usize) {
    let n = s[i.min(s.len())..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    (&s[i..i + n], i + n)
}

/// A name from `names` written out or cut to at least three letters (`Sept` too).
fn name_index(w: &[u8], names: &[&str]) -> Option<usize> {
    if w.len() < 3 {
        return None;
    }
    let w = w.to_ascii_lowercase();
    names.iter().position(|n| n.as_bytes().starts_with(&w))
}

fn skip(s: &[u8], mut i: usize, set: &[u8]) -> usize {
    while s.get(i).is_some_and(|c| set.contains(c)) {
        i += 1;
    }
    i
}

/// `[Weekday[,]] Month D[st][,] YYYY` or `[Weekday[,]] D[st][-| ]Month[-| ]YYYY`: the index
/// after it and `[year, month, day]`, not yet checked.
fn with_month_name(s: &[u8]) -> Option<(usize, [u32; 3])> {
    let mut i = 0;
    let (w, after) = word(s, i);
    if name_index(w, &WEEKDAYS).is_some() {
        i = skip(s, after, b"., ");
    }
    let day = |i: &mut usize| -> Option<u32> {
        let d = digits(s, i, 1, 2)?;
        let (suffix, after) = word(s, *i);
        if [&b"st"[..], b"nd", b"rd", b"th"]
            .iter()
            .any(|x| suffix.eq_ignore_ascii_case(x))
        {
            *i = after;
        }
        Some(d)
    };
    let (m, d);
    let (w, after) = word(s, i);
    if let Some(mi) = name_index(w, &MONTHS) {
        m = mi as u32 + 1;
        i = skip(s, after, b".");
        let j = skip(s, i, b" ");
        if j == i {
            return None;
        }
        i = j;
        d = day(&mut i)?;
        i = skip(s, i, b", ");
    } else {
        d = day(&mut i)?;
        let j = skip(s, i, b" -");
        let (w, after) = word(s, j);
        m = name_index(w, &MONTHS)? as u32 + 1;
        i = skip(s, after, b".");
        i = skip(s, i, b" -,");
    }
    let start = i;
    let y = digits(s, &mut i, 4, 4)?;
    if i == start || s.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((i, [y, m, d]))
}

/// What may follow a date: nothing, or `T`/space, `H:MM[:SS[.frac]]`, `am`/`pm`, a zone.
fn time_tail(s: &[u8], mut i: usize) -> bool {
    if i == s.len() {
        return true;
    }
    if s[i] != b'T' && s[i] != b't' && s[i] != b' ' {
        return false;
    }
    i += 1;
    let Some(mut h) = digits(s, &mut i, 1, 2) else {
        return false;
    };
    if s.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    let Some(mi) = digits(s, &mut i, 2, 2) else {
        return false;
    };
    let mut sec = 0;
    if s.get(i) == Some(&b':') {
        i += 1;
        let Some(x) = digits(s, &mut i, 2, 2) else {
            return false;
        };
        sec = x;
        if s.get(i) == Some(&b'.') {
            i += 1;
            if digits(s, &mut i, 1, 9).is_none() {
                return false;
            }
        }
    }
    i = skip(s, i, b" ");
    let (w, after) = word(s, i);
    if w.eq_ignore_ascii_case(b"am") || w.eq_ignore_ascii_case(b"pm") {
        if !(1..=12).contains(&h) {
            return false;
        }
        h = 0;
        i = skip(s, after, b" ");
    }
    if h > 24 || mi > 59 || sec > 60 {
        return false;
    }
    let (w, after) = word(s, i);
    const ZONES: [&str; 11] = [
        "z", "utc", "gmt", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt",
    ];
    if !w.is_empty() {
        if after != s.len() || !ZONES.iter().any(|z| w.eq_ignore_ascii_case(z.as_bytes())) {
            return false;
        }
        return true;
    }
    if i == s.len() {
        return true;
    }
    let r = &s[i..];
    if r[0] != b'+' && r[0] != b'-' {
        return false;
    }
    let mut j = 1;
    let Some(oh) = digits(r, &mut j, 2, 2) else {
        return false;
    };
    if r.get(j) == Some(&b':') {
        j += 1;
    }
    if j < r.len() && digits(r, &mut j, 2, 2).is_none() {
        return false;
    }
    j == r.len() && oh <= 14
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_as_the_pseudonym_validates_them() {
        use LoginProblem::*;
        assert_eq!(login_problem("jdoe@example.edu"), None);
        assert_eq!(login_problem(&"é".repeat(100)), None);
        assert_eq!(login_problem("a b\u{a0}c\u{200b}"), None);
        assert_eq!(login_problem(&"x".repeat(101)), Some(TooLong(101)));
        assert_eq!(
            login_problem(&format!("\t{}", "é".repeat(100))),
            Some(TooLong(101))
        );
        assert_eq!(login_problem("ab\u{7f}"), Some(NotPrintable(3, '\u{7f}')));
        assert_eq!(login_problem("é\u{85}"), Some(NotPrintable(2, '\u{85}')));
        assert_eq!(
            login_problem("a\u{2028}"),
            Some(NotPrintable(2, '\u{2028}'))
        );
        assert_eq!(
            login_problem("a\u{fffe}"),
            Some(NotPrintable(2, '\u{fffe}'))
        );
        assert_eq!(escape_unprintable("a\tb\u{1b}é"), "a\\tb\\u{1b}é");
    }

    fn is_date(v: &str) -> bool {
        read_date(v) != DateRead::Bad
    }

    #[test]
    fn dates() {
        for ok in [
            "2013-01-03",
            "2013-1-03 00:00:00",
            "2013-05-03 00:00:00-06:00",
            "2024-02-29T23:59:59Z",
            "2024-02-29T23:59:59.123+0100",
            "2024/08/20",
            "20240820",
            "2024-08-20 10:00 UTC",
            "2024-08-20 10:00 pm",
            "2024-08-20 10:00:00 PDT",
            "Jan 3 2013",
            "January 3, 2013",
            "jan. 3rd, 2013 10:00 AM",
            "Sept 30 2024",
            "3 January 2013",
            "03-Jan-2013",
            "Thu, 03 Jan 2013 10:00:00 GMT",
            "Thursday 3 Jan 2013",
            "13/02/2024",
            "01.01.2024 08:00",
        ] {
            assert_eq!(read_date(ok), DateRead::Ok, "{ok}");
        }
        for (v, ymd) in [
            ("01/02/2024", [2024, 2, 1]),
            ("1-2-2024", [2024, 2, 1]),
            ("03.04.2024 10:00", [2024, 4, 3]),
        ] {
            assert_eq!(read_date(v), DateRead::DayFirst(ymd), "{v}");
        }
        assert_eq!(
            month_first_reading("12/25/2024").as_deref(),
            Some("2024-12-25")
        );
        assert_eq!(month_first_reading("31/12/2024"), None);
        assert_eq!(month_first_reading("02/30/2024"), None);
        // Days 29 to 31 past the month's end roll over, as Ruby's `Time.new` does.
        for (v, given, read) in [
            ("2023-02-29", [2023, 2, 29], [2023, 3, 1]),
            ("2024-02-30", [2024, 2, 30], [2024, 3, 1]),
            ("2024-04-31T10:00:00Z", [2024, 4, 31], [2024, 5, 1]),
            ("30/02/2024", [2024, 2, 30], [2024, 3, 1]),
            ("Feb 29 2023", [2023, 2, 29], [2023, 3, 1]),
        ] {
            assert_eq!(read_date(v), DateRead::RollsOver(given, read), "{v}");
        }
        for bad in [
            "2024-02-32",
            "2024-02-00",
            "2024-13-01",
            "yesterday",
            "12/25/2024",
            "01/02/24",
            "Jan 32 2024",
            "Jnu 3 2013",
            "Ja 3 2013",
            "3 Jan",
            "Jan 3 2013 13:00 pm",
            "Jan 3 2013 XYZ",
            "2024-08-20 10:00 Z Z",
            "2024-01-01T25:00",
            "2024-01-01X",
            "2024-01-01T10:00+99",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    /// The byte-by-byte version of [`is_iso_fast`].
    fn is_iso_reference(s: &[u8]) -> bool {
        #[inline]
        fn d2(s: &[u8], i: usize) -> Option<u32> {
            let (a, b) = (s[i].wrapping_sub(b'0'), s[i + 1].wrapping_sub(b'0'));
            (a < 10 && b < 10).then_some(a as u32 * 10 + b as u32)
        }
        if (s.len() != 10 && s.len() != 20) || s[4] != b'-' || s[7] != b'-' {
            return false;
        }
        let (Some(c), Some(yy), Some(m), Some(d)) = (d2(s, 0), d2(s, 2), d2(s, 5), d2(s, 8)) else {
            return false;
        };
        if !(1..=12).contains(&m) || d == 0 || d > days_in(c * 100 + yy, m) {
            return false;
        }
        if s.len() == 10 {
            return true;
        }
        if s[10] != b'T' || s[13] != b':' || s[16] != b':' || s[19] != b'Z' {
            return false;
        }
        matches!((d2(s, 11), d2(s, 14), d2(s, 17)), (Some(h), Some(mi), Some(sec)) if h <= 24 && mi <= 59 && sec <= 60)
    }

    /// The word-at-a-time shortcut decides exactly as the byte-by-byte one, whatever
    /// byte is at any position of the two shapes.
    #[test]
    fn iso_shortcut_matches_bytes() {
        let bases = ["2024-02-29", "2023-12-31T23:59:59Z", "1999-01-01T24:00:60Z"];
        let mut n = 0;
        for base in bases {
            for i in 0..base.len() {
                for b in 0..=255u8 {
                    let mut v = base.as_bytes().to_vec();
                    v[i] = b;
                    let (fast, slow) = (is_iso_fast(&v), is_iso_reference(&v));
                    assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&v));
                    n += usize::from(fast);
                }
            }
        }
        assert!(n > 100);
    }

    #[test]
    fn fast_dates_agree() {
        let mut n = 0;
        for y in ["2024", "1900", "2000", "2023", "20x4"] {
            for m in ["00", "01", "02", "12", "13", "1x"] {
                for d in ["00", "01", "28", "29", "30", "31", "32"] {
                    for t in [
                        "",
                        "T00:00:00Z",
                        "T24:59:60Z",
                        "T25:00:00Z",
                        "T10:60:00Z",
                        "T10:00:61Z",
                        "t10:00:00Z",
                        "T10:00:00z",
                        "T1:00:00ZZ",
                    ] {
                        let v = format!("{y}-{m}-{d}{t}");
                        if is_iso_fast(v.as_bytes()) {
                            n += 1;
                            assert!(is_date(&v), "{v}");
                            assert_eq!(read_date_general(&v), DateRead::Ok, "{v}");
                        }
                    }
                }
            }
        }
        assert!(n > 100);
    }

    #[test]
    fn emails() {
        // What `Mail::Address` takes with a domain, as Canvas's check does.
        for ok in [
            "a.b@example.edu",
            "ü@bücher.de",
            "a@b",
            "user@localhost",
            "o'brien+sis@example.edu",
            "a..b@example.edu",
            "\"a b\"@example.edu",
            "a@[192.0.2.1]",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "ab.com",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "@b.com",
            "a@",
            "a@b.",
            "Bob <a@b.com>",
            "a,b@c.com",
            "\"a@b.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn enums_and_bools() {
        assert!(enum_ok("Active", &["active"], Match::Prefix));
        assert!(enum_ok("active_whatever", &["active"], Match::Prefix));
        assert!(!enum_ok("activ", &["active"], Match::Prefix));
        assert!(!enum_ok("active_x", &["active"], Match::Exact));
        assert!(enum_ok("ACTIVE", &["active"], Match::Exact));
        assert!(!enum_ok(
            "studentenrollment",
            &["StudentEnrollment"],
            Match::ExactCase
        ));
        assert!(is_plain_bool("Yes") && is_plain_bool("2") && !is_plain_bool("abc"));
    }

    /// `enum_ok` compares with the table's values lower-cased: they must be.
    #[test]
    fn enum_values_are_lower_case() {
        for k in crate::validate::kinds::KINDS {
            for c in k.cols {
                if let crate::validate::kinds::Rule::Enum { values, mode, .. } = c.rule
                    && mode != Match::ExactCase
                {
                    for v in values {
                        assert_eq!(*v, v.to_ascii_lowercase(), "{}.{}", k.name, c.name);
                    }
                }
            }
        }
    }
}
