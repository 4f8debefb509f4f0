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
