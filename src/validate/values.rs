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

pub fn enum_ok(v: &str, values: &[&str], mode: Match) -> bool {
    values.iter().any(|a| match mode {
        Match::Prefix => {
            v.len() >= a.len() && v.as_bytes()[..a.len()].eq_ignore_ascii_case(a.as_bytes())
        }
        Match::Exact => v.eq_ignore_ascii_case(a),
        Match::ExactCase => v == *a,
    })
}

/// A lenient e-mail check: `local@domain.tld`, no whitespace, one `@`.
pub fn is_email(v: &str) -> bool {
    if v.is_ascii() {
        return is_email_ascii(v.as_bytes());
    }
    is_email_chars(v)
}

fn is_email_chars(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') || v.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    let mut labels = 0;
    domain.split('.').all(|l| {
        labels += 1;
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    }) && labels >= 2
}

/// `is_email` for ASCII text, byte by byte (for ASCII, `char::is_whitespace` and
/// `char::is_alphanumeric` are their `is_ascii_*` counterparts).
fn is_email_ascii(v: &[u8]) -> bool {
    let Some(at) = v.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&v[..at], &v[at + 1..]);
    if local.is_empty()
        || domain.contains(&b'@')
        || v.iter()
            .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        return false;
    }
    let mut labels = 0;
    domain.split(|&b| b == b'.').all(|l| {
        labels += 1;
        !l.is_empty()
            && l[0] != b'-'
            && l[l.len() - 1] != b'-'
            && l.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
    }) && labels >= 2
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
/// [`is_date`], which still decides everything this does not accept.
#[inline]
fn is_iso_fast(s: &[u8]) -> bool {
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

/// Dates as Rails' `Time.zone.parse` takes them in practice: `YYYY-MM-DD` (or `/`,
/// or `YYYYMMDD`), optionally followed by `T` or a space and `HH:MM[:SS[.frac]]`,
/// then optionally `Z`, `UTC`, `±HH[:MM]`.
pub fn is_date(v: &str) -> bool {
    is_iso_fast(v.as_bytes()) || is_date_general(v)
}

fn is_date_general(v: &str) -> bool {
    let s = v.as_bytes();
    let mut i = 0;
    let (y, m, d);
    if s.len() >= 8
        && s[..8].iter().all(u8::is_ascii_digit)
        && (s.len() == 8 || !s[8].is_ascii_digit())
    {
        y = digits(s, &mut i, 4, 4).unwrap_or(0);
        m = digits(s, &mut i, 2, 2).unwrap_or(0);
        d = digits(s, &mut i, 2, 2).unwrap_or(0);
    } else {
        let Some(yy) = digits(s, &mut i, 4, 4) else {
            return false;
        };
        let sep = match s.get(i) {
            Some(b'-') | Some(b'/') => s[i],
            _ => return false,
        };
        i += 1;
        let Some(mm) = digits(s, &mut i, 1, 2) else {
            return false;
        };
        if s.get(i) != Some(&sep) {
            return false;
        }
        i += 1;
        let Some(dd) = digits(s, &mut i, 1, 2) else {
            return false;
        };
        (y, m, d) = (yy, mm, dd);
    }
    if !(1..=12).contains(&m) || d == 0 || d > days_in(y, m) {
        return false;
    }
    if i == s.len() {
        return true;
    }
    if s[i] != b'T' && s[i] != b't' && s[i] != b' ' {
        return false;
    }
    i += 1;
    let Some(h) = digits(s, &mut i, 1, 2) else {
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
    if h > 24 || mi > 59 || sec > 60 {
        return false;
    }
    while s.get(i) == Some(&b' ') {
        i += 1;
    }
    let rest = &v[i..];
    if rest.is_empty() || rest.eq_ignore_ascii_case("z") || rest.eq_ignore_ascii_case("utc") {
        return true;
    }
    let r = rest.as_bytes();
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
        ] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "yesterday",
            "01/02/2024",
            "2024-01-01T25:00",
            "2024-01-01X",
            "2024-01-01T10:00+99",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
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
                            assert!(is_date_general(&v), "{v}");
                        }
                    }
                }
            }
        }
        assert!(n > 100);
    }

    #[test]
    fn email_ascii_path_agrees() {
        let parts = [
            "a", "@", ".", "-", " ", "\t", "b1", "x.y", "@@", "-c", "d-", "..", "\u{1c}",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in parts {
                        let s = format!("{a}{b}{c}{d}");
                        assert_eq!(is_email_ascii(s.as_bytes()), is_email_chars(&s), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn emails() {
        assert!(is_email("a.b@example.edu"));
        assert!(is_email("ü@bücher.de"));
        for bad in [
            "a@b",
            "ab.com",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "@b.com",
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
}
