//! Redaction of secrets in anything that is displayed or logged.
//!
//! The token itself never reaches a format string (it lives in a `SecretString`); this is the
//! second line of defence for text that comes from elsewhere (URLs Canvas returns, HTTP
//! library traces at -vvv) and may carry an `access_token=` or an `Authorization` header.

/// Replace `access_token=…` query values and `Bearer …` credentials with `[redacted]`.
pub fn redact(s: &str) -> std::borrow::Cow<'_, str> {
    let lower = s.to_ascii_lowercase();
    if !lower.contains("access_token=") && !lower.contains("bearer ") {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &lower[i..];
        let key = if rest.starts_with("access_token=") {
            Some("access_token=".len())
        } else if rest.starts_with("bearer ") {
            Some("bearer ".len())
        } else {
            None
        };
        if let Some(k) = key {
            out.push_str(&s[i..i + k]);
            out.push_str("[redacted]");
            i += k;
            while i < bytes.len()
                && !matches!(bytes[i], b'&' | b' ' | b'"' | b'\'' | b'\n' | b',' | b')')
            {
                i += 1;
            }
        } else {
            let ch = s[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A URL's scheme, host and port only: a webhook's path is its secret (Slack's and Teams'
/// incoming-webhook URLs let anyone who has them post to the channel), so logs, stderr and
/// `config show` name only where it goes.
pub fn url_origin(u: &url::Url) -> String {
    let mut o = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
    if let Some(p) = u.port() {
        o.push_str(&format!(":{p}"));
    }
    if u.path() != "/" || u.query().is_some() {
        o.push_str("/…");
    }
    o
}

/// A base URL as messages and `config show` show it: the password of any `user:password@`
/// replaced by `[redacted]`; text that is not a URL at all not shown (a token pasted into
/// `CANVAS_BASE_URL` by mistake must not reach the log), only its length; and at most
/// [`SHOWN_URL`] characters of a long one.
pub fn shown_base_url(s: &str) -> String {
    let shown = match url::Url::parse(s.trim()) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string().replacen(":REDACTED@", ":[redacted]@", 1)
        }
        Ok(_) => s.to_string(),
        // A host name without its scheme is a common slip, worth showing; a Canvas token
        // (`<shard>~<key>`), or anything else with no dot in it, is not shown.
        Err(_) if s.contains('.') && !s.contains('~') => s.to_string(),
        Err(_) => {
            return format!(
                "(not a URL; {} characters, not shown)",
                s.trim().chars().count()
            );
        }
    };
    shorten(&shown)
}

/// The most of a URL a message shows.
pub const SHOWN_URL: usize = 200;

/// At most [`SHOWN_URL`] characters of `s`, then `…`.
pub fn shorten(s: &str) -> String {
    match s.char_indices().nth(SHOWN_URL) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// [`url_origin`] of a URL given as text; text that is not a URL is shown as `(not a URL)`.
pub fn shown_url(s: &str) -> String {
    url::Url::parse(s)
        .map(|u| url_origin(&u))
        .unwrap_or_else(|_| "(not a URL)".into())
}

/// Text with every control character but line break and tab written out (`\x1b`): a value
/// from a CSV or a message from Canvas must not drive the admin's terminal (an escape sequence
/// that sets the window title or writes the clipboard) or hide text (a carriage return).
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A message for stderr as a person reads it: our own continuation lines (indented: `\n  hint:
/// …`) stay, any other line break becomes ` | `, so that no text from elsewhere starts a line
/// of its own (one that would read as a log line of ours in the journal).
pub fn own_lines(message: &str) -> std::borrow::Cow<'_, str> {
    let foreign = |i: usize| !message[i + 1..].starts_with("  ");
    if !message.match_indices('\n').any(|(i, _)| foreign(i)) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len() + 8);
    let mut last = 0;
    for (i, _) in message.match_indices('\n') {
        out.push_str(&message[last..i]);
        out.push_str(if foreign(i) { " | " } else { "\n" });
        last = i + 1;
    }
    out.push_str(&message[last..]);
    std::borrow::Cow::Owned(out)
}

/// A message as one log line (a monitor matches lines): a failure's hint, which `Failure`
/// shows on a line of its own (`\n  hint: …`), follows as `; hint: …`; other line breaks
/// become ` | `.
pub fn one_line(message: &str) -> String {
    message
        .replace("\n  hint: ", "; hint: ")
        .replace("\r\n", "\n")
        .replace(['\r', '\n'], " | ")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_webhook_is_shown_by_its_origin_only() {
        assert_eq!(
            super::shown_url("https://hooks.slack.com/services/T0/B0/XXXXsecret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            super::shown_url("http://127.0.0.1:8080/hook?key=s3cr3t"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(
            super::shown_url("https://example.edu"),
            "https://example.edu"
        );
        assert_eq!(super::shown_url("::"), "(not a URL)");
    }

    #[test]
    fn only_our_indented_lines_stay_lines() {
        assert_eq!(
            super::own_lines("failed\n  hint: retry"),
            "failed\n  hint: retry"
        );
        assert_eq!(
            super::own_lines("x\nDec  6 00:00:00 vm canvas-sis[1]: INFO forged"),
            "x | Dec  6 00:00:00 vm canvas-sis[1]: INFO forged"
        );
        assert_eq!(super::own_lines("end\n"), "end | ");
    }

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(
            super::visible("U77\x1b]0;PWN\x07,\r\nnext\tcol"),
            "U77\\x1b]0;PWN\\x07,\\x0d\nnext\tcol"
        );
        assert_eq!(super::visible("plain"), "plain");
        assert_eq!(super::visible("c1 \u{9b}31m"), "c1 \\x9b31m");
    }

    #[test]
    fn a_password_in_a_url_is_never_shown() {
        assert_eq!(
            super::shown_base_url("http://admin:PASSW0RD@127.0.0.1:8080/x"),
            "http://admin:[redacted]@127.0.0.1:8080/x"
        );
        assert_eq!(super::shown_base_url("https://h.edu/"), "https://h.edu/");
        // A token pasted where the URL goes is not a URL: never shown.
        assert_eq!(
            super::shown_base_url("7~SECRETTOKEN123xyz"),
            "(not a URL; 19 characters, not shown)"
        );
        assert_eq!(
            super::shown_base_url("canvas.example.edu"),
            "canvas.example.edu"
        );
        let long = format!("https://h.edu/{}", "a".repeat(70_000));
        assert_eq!(
            super::shown_base_url(&long).chars().count(),
            super::SHOWN_URL + 1
        );
    }

    #[test]
    fn redacts_query_and_header() {
        assert_eq!(
            redact("GET /x?a=1&access_token=s3cr3t&b=2"),
            "GET /x?a=1&access_token=[redacted]&b=2"
        );
        assert_eq!(
            redact("authorization: Bearer abc.def"),
            "authorization: Bearer [redacted]"
        );
        assert_eq!(redact("nothing here"), "nothing here");
    }
}
