//! What can go wrong talking to Canvas, and what each failure means for the exit code.
//!
//! Canvas answers errors in several shapes (reference §7.1): an `errors` array of objects or
//! of strings, an `errors` map, `message`, `error`/`error_message`, or a bare JSON string.
//! Throttling is a 403 with a plain-text body, or a 429 (§7.2); a JSON 403 is a permission error.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::exit::{Exit, Failure};

/// One failed HTTP exchange.
#[derive(Debug, Clone)]
pub enum HttpError {
    /// No answer: connect error, timeout, connection reset.
    Transport {
        url: String,
        connect: bool,
        timeout: bool,
        /// Whether any of the request body had been sent (matters for a POST: §7 of issue 7).
        body_sent: bool,
        detail: String,
        /// Set when the host could not be reached at all for a reason that waiting rarely
        /// cures (no such host, connection refused): a few quick retries only.
        unreachable: Option<Unreachable>,
    },
    /// The TLS handshake failed in a way only configuration fixes: a certificate that does
    /// not verify, or a server that refuses the handshake. Exit 78, never retried.
    Tls {
        url: String,
        /// The host name the certificate was checked against.
        host: String,
        problem: TlsProblem,
        /// The error chain, for the log.
        detail: String,
    },
    /// The request could not even be built (a URL too long to be an HTTP URI, a header
    /// value reqwest refuses), or its redirects loop or lead where the token may not go:
    /// sending again cannot help. Exit 78.
    Unsendable { url: String, detail: String },
    /// A GET of Canvas's API was redirected to another origin and answered there: not
    /// Canvas's answer for this URL (exit 78, like a redirected POST). Downloads, which go to
    /// a files host by design, do not come this way.
    Elsewhere { url: String, to: String },
    /// Canvas answered with an error status.
    Status {
        url: String,
        status: u16,
        throttled: bool,
        json: bool,
        message: String,
        retry_after: Option<Duration>,
    },
    /// A 2xx whose body is not what the API sends (a proxy page, truncated JSON, missing keys).
    BadBody {
        url: String,
        status: u16,
        detail: String,
        body_start: String,
        /// The answer outgrew the cap on answers: asking again brings the same, so it is
        /// not retried (a proxy's page, or a list that does not page).
        oversized: bool,
    },
}

/// Why a host could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing accepted the connection at `addr` (`host:port`).
    Refused { addr: String },
    /// DNS knows no address for the host.
    NoSuchHost { host: String },
    /// No DNS server answered.
    DnsNoAnswer { host: String },
    /// The lookup failed otherwise (getaddrinfo's words).
    DnsFailed { host: String, why: String },
    /// `addr` accepted the connection and closed it during the TLS handshake (a server or
    /// firewall that ends TLS from this host): as refused, tried briefly, not for the whole
    /// retry budget.
    HandshakeClosed { addr: String },
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreachable::Refused { addr } => write!(f, "connection refused by {addr}"),
            Unreachable::NoSuchHost { host } => {
                write!(f, "no such host: {host} (DNS has no address for it)")
            }
            Unreachable::DnsNoAnswer { host } => write!(
                f,
                "cannot look up {host}: no DNS server answered (temporary failure in name resolution)"
            ),
            Unreachable::DnsFailed { host, why } => write!(f, "cannot look up {host}: {why}"),
            Unreachable::HandshakeClosed { addr } => {
                write!(f, "{addr} closed the connection during the TLS handshake")
            }
        }
    }
}

/// A TLS failure that the configuration (or the server's admins) must fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate chains to no trusted root (a private CA, or self-signed).
    UnknownIssuer,
    /// Past its end date (Unix seconds, when rustls says).
    Expired {
        not_after: Option<u64>,
        now: Option<u64>,
    },
    NotYetValid {
        not_before: Option<u64>,
        now: Option<u64>,
    },
    /// The certificate is for other names (the ones it presents, when known).
    WrongHost { presented: Vec<String> },
    /// A CA certificate (basic constraints CA:TRUE) served as the server's own: refused
    /// even when trusted (`openssl req -x509` makes one by default).
    CaAsServer,
    /// The signature matches no trusted issuer: a self-signed certificate not given with
    /// `--ca-cert`, or one that was altered.
    BadSignature,
    /// Any other certificate problem (rustls's name for it).
    BadCertificate(String),
    /// The server wants a client certificate (TLS 1.3 `certificate_required`).
    ClientCertRequired,
    /// The server ended the handshake with this alert.
    Refused { alert: String },
    /// No TLS version or cipher in common.
    Incompatible(String),
    /// What came back is not TLS (a plain-http port behind an https URL?).
    NotTls(String),
}

/// A certificate date for messages.
fn date(secs: Option<u64>) -> Option<String> {
    let t = jiff::Timestamp::from_second(i64::try_from(secs?).ok()?).ok()?;
    Some(t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
}

impl TlsProblem {
    fn describe(&self, host: &str) -> String {
        match self {
            TlsProblem::UnknownIssuer => format!(
                "the TLS certificate of {host} is not trusted: it is signed by an unknown issuer (a private CA, or self-signed)"
            ),
            TlsProblem::Expired { not_after, now } => match (date(*not_after), date(*now)) {
                (Some(end), Some(now)) => {
                    format!("the TLS certificate of {host} expired on {end} (it is now {now})")
                }
                _ => format!("the TLS certificate of {host} has expired"),
            },
            TlsProblem::NotYetValid { not_before, now } => match (date(*not_before), date(*now)) {
                (Some(start), Some(now)) => format!(
                    "the TLS certificate of {host} is not valid before {start} (it is now {now})"
                ),
                _ => format!("the TLS certificate of {host} is not valid yet"),
            },
            TlsProblem::WrongHost { presented } if presented.is_empty() => {
                format!("the TLS certificate is not valid for the name {host}")
            }
            TlsProblem::WrongHost { presented } => format!(
                "the TLS certificate is not valid for the name {host}: it is for {}",
                presented.join(", ")
            ),
            TlsProblem::CaAsServer => format!(
                "the TLS certificate of {host} is a CA certificate (CA:TRUE) used as the server's own certificate, which TLS clients refuse even when it is trusted"
            ),
            TlsProblem::BadSignature => format!(
                "the TLS certificate of {host} does not verify: its signature matches no trusted issuer (a self-signed certificate, or one signed with a key of another type or altered)"
            ),
            TlsProblem::BadCertificate(what) => {
                format!("the TLS certificate of {host} does not verify ({what})")
            }
            TlsProblem::ClientCertRequired => format!(
                "{host} refused the TLS handshake: it requires a client certificate (alert CertificateRequired)"
            ),
            TlsProblem::Refused { alert } => {
                format!("{host} refused the TLS handshake (alert {alert})")
            }
            TlsProblem::Incompatible(what) => {
                format!("{host} and canvas-sis have no TLS version or cipher in common ({what})")
            }
            TlsProblem::NotTls(what) => {
                format!("{host} did not answer with TLS ({what})")
            }
        }
    }

    fn hint(&self, host: &str) -> String {
        match self {
            TlsProblem::UnknownIssuer => "if Canvas (or a proxy in front of it) uses a private CA, give its PEM certificate with --ca-cert PATH or ca_cert in the config file".into(),
            TlsProblem::Expired { .. } => "the server's certificate must be renewed by whoever runs it; if the dates look wrong, check this host's clock".into(),
            TlsProblem::NotYetValid { .. } => "check this host's clock (date, NTP); else the certificate was issued with a future start date".into(),
            TlsProblem::WrongHost { presented } if !presented.is_empty() => format!(
                "set --base-url (base_url) to a name the certificate is valid for ({}), or have the certificate reissued for {host}",
                presented.join(", ")
            ),
            TlsProblem::WrongHost { .. } => format!(
                "check the host name in --base-url (base_url), or have the certificate reissued for {host}"
            ),
            TlsProblem::CaAsServer => "have the server use a certificate signed by that CA (basic constraints CA:FALSE), or reissue its self-signed certificate with CA:FALSE; then give the CA (or that certificate) with --ca-cert PATH or ca_cert".into(),
            TlsProblem::BadSignature => "if the server's certificate is self-signed or from a private CA, give it (or the CA) with --ca-cert PATH or ca_cert; else ask its admins".into(),
            TlsProblem::BadCertificate(_) => "the certificate the server sends is not acceptable: ask its admins; for a private CA give it with --ca-cert PATH or ca_cert".into(),
            TlsProblem::ClientCertRequired => "canvas-sis sends no client certificate: use a URL for this Canvas that does not require one".into(),
            TlsProblem::Refused { .. } => "the server (or a proxy in front of it) may want a client certificate, which canvas-sis does not send, or allow only TLS versions or ciphers canvas-sis does not offer (TLS 1.2 and 1.3)".into(),
            TlsProblem::Incompatible(_) => "the server must offer TLS 1.2 or 1.3 with a current cipher".into(),
            TlsProblem::NotTls(_) => "check the scheme and port of --base-url (base_url): an https:// URL needs a TLS port (usually 443)".into(),
        }
    }
}

impl HttpError {
    /// What to do about it, when there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            HttpError::Tls { host, problem, .. } => Some(problem.hint(host)),
            HttpError::Unsendable { .. } => Some(
                "check --base-url (base_url) and the account id: the request they make cannot be sent".into(),
            ),
            HttpError::Elsewhere { .. } => Some(
                "set --base-url (base_url) to the address Canvas itself answers at".into(),
            ),
            HttpError::Transport {
                unreachable: Some(u),
                ..
            } => Some(
                match u {
                    Unreachable::Refused { .. } => {
                        "check the port in --base-url (base_url), and that Canvas (or the proxy in front of it) is running"
                    }
                    Unreachable::NoSuchHost { .. } => {
                        "check the host name in --base-url (base_url)"
                    }
                    Unreachable::DnsNoAnswer { .. } | Unreachable::DnsFailed { .. } => {
                        "check this host's network and DNS settings (/etc/resolv.conf)"
                    }
                    Unreachable::HandshakeClosed { .. } => {
                        "check that --base-url's port serves TLS, and whether the server or a firewall in front of it only lets some client addresses in"
                    }
                }
                .to_string(),
            ),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The exit code this error means when it is final.
    pub fn exit(&self) -> Exit {
        match self {
            HttpError::Transport { .. } | HttpError::BadBody { .. } => Exit::Unavailable,
            HttpError::Tls { .. } | HttpError::Unsendable { .. } | HttpError::Elsewhere { .. } => {
                Exit::Config
            }
            HttpError::Status {
                status, throttled, ..
            } => match (*status, *throttled) {
                (_, true) => Exit::Unavailable,
                (401, _) | (403, _) => Exit::NoPerm,
                (404, _) => Exit::NotFound,
                (400 | 409 | 422, _) => Exit::Usage,
                (300..=399, _) => Exit::Config,
                _ => Exit::Unavailable,
            },
        }
    }

    /// The failure's cause (`exit::KINDS`), with the exit code [`HttpError::exit`] gives.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::Transport {
                unreachable: Some(Unreachable::Refused { .. }),
                ..
            } => "connection_refused",
            HttpError::Transport {
                unreachable: Some(Unreachable::HandshakeClosed { .. }),
                ..
            } => "unreachable",
            HttpError::Transport {
                unreachable: Some(_),
                ..
            } => "dns",
            HttpError::Transport { .. } => "unreachable",
            HttpError::BadBody { .. } => "bad_response",
            HttpError::Unsendable { .. } => "config_invalid",
            HttpError::Elsewhere { .. } => "redirected",
            HttpError::Tls { problem, .. } => match problem {
                TlsProblem::UnknownIssuer
                | TlsProblem::Expired { .. }
                | TlsProblem::NotYetValid { .. }
                | TlsProblem::WrongHost { .. }
                | TlsProblem::CaAsServer
                | TlsProblem::BadSignature
                | TlsProblem::BadCertificate(_) => "tls_certificate",
                TlsProblem::ClientCertRequired
                | TlsProblem::Refused { .. }
                | TlsProblem::Incompatible(_)
                | TlsProblem::NotTls(_) => "tls_handshake",
            },
            HttpError::Status {
                status, throttled, ..
            } => match (*status, *throttled) {
                (_, true) => "throttled",
                (401, _) => "unauthorized",
                (403, _) => "forbidden",
                (404, _) => "not_found",
                (400 | 409 | 422, _) => "canvas_rejected",
                (300..=399, _) => "redirected",
                (500..=599, _) => "server_error",
                _ => "unexpected_status",
            },
        }
    }

    pub fn into_failure(self) -> Failure {
        let exit = self.exit();
        let kind = self.kind();
        if let Some(h) = self.hint() {
            return Failure::new(exit, self.to_string()).kind(kind).hint(h);
        }
        let hint = match &self {
            // §1.4 check_account: these come before any permission check, and no
            // permission fixes them.
            HttpError::Status {
                status: 403,
                message,
                ..
            } if message.contains("SIS imports are not enabled") => Some(
                "SIS imports are turned off for this account: a Canvas admin must enable them, or --account-id names the wrong root account",
            ),
            HttpError::Status {
                status: 400,
                message,
                ..
            } if message.contains("only be executed on root accounts") => Some(
                "--account-id names a sub-account; SIS imports go to the root account (self, its number, or sis_account_id:X)",
            ),
            HttpError::Status { status: 401, .. } => Some(
                "check the token (CANVAS_ACCESS_TOKEN, --token-file); it may be expired, revoked or lack the scopes for SIS imports",
            ),
            HttpError::Status {
                status: 403,
                throttled: false,
                ..
            } => Some(
                "the token's user needs the import_sis (or manage_sis) permission on the root account",
            ),
            HttpError::Status { status: 404, .. } => Some(
                "check --account-id (it must be a root account: a number, self, or sis_account_id:X) and the id given",
            ),
            HttpError::Transport { connect: true, .. } => {
                Some("check --base-url and that this host can reach Canvas")
            }
            HttpError::Status {
                status: 300..=399, ..
            } => Some(
                "base_url is probably not Canvas's own address (http for https, an old or vanity host name): set it to the origin the redirect names; a POST or PUT is never followed",
            ),
            // A proxy in front of Canvas (or the upload host) limits request bodies; trying
            // again will not help.
            HttpError::Status { status: 413, .. } => Some(
                "the bundle is larger than a proxy in front of Canvas accepts in one request: send it with --upload-mode file-upload (Canvas's upload host takes big files), or have the proxy's body limit raised",
            ),
            _ => None,
        };
        let f = Failure::new(exit, self.to_string()).kind(kind);
        match hint {
            Some(h) => f.hint(h),
            None => f,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Transport {
                url,
                unreachable: Some(u),
                ..
            } => write!(f, "{url}: {u}"),
            HttpError::Tls {
                url, host, problem, ..
            } => write!(f, "{url}: {}", problem.describe(host)),
            HttpError::Unsendable { url, detail } => write!(
                f,
                "{}: the request cannot be made: {detail}",
                crate::redact::shorten(url)
            ),
            HttpError::Elsewhere { url, to } => write!(
                f,
                "{url}: redirected to {to}, another host; its answer is not taken for Canvas's"
            ),
            HttpError::Transport {
                url,
                timeout,
                connect,
                detail,
                ..
            } => {
                let what = if *timeout {
                    "timed out"
                } else if *connect {
                    "could not connect"
                } else {
                    "connection failed"
                };
                write!(f, "{url}: {what}: {detail}")
            }
            HttpError::Status {
                url,
                status,
                throttled: true,
                ..
            } => write!(
                f,
                "{url}: Canvas is throttling requests (HTTP {status}, rate limit exceeded)"
            ),
            HttpError::Status {
                url,
                status,
                message,
                ..
            } => write!(f, "{url}: Canvas answered HTTP {status}: {message}"),
            HttpError::BadBody {
                url,
                status,
                detail,
                body_start,
                ..
            } => write!(
                f,
                "{url}: unexpected answer (HTTP {status}): {detail}; body starts {body_start:?}"
            ),
        }
    }
}

/// The first bytes of a body, for messages.
pub fn body_start(body: &[u8]) -> String {
    let n = body.len().min(120);
    let mut s = String::from_utf8_lossy(&body[..n]).replace(['\n', '\r'], " ");
    if body.len() > n {
        s.push('…');
    }
    s
}

/// The human message out of any of Canvas's error shapes (§7.1).
pub fn canvas_message(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return body_start(body);
    };
    fn from_errors(e: &Value) -> Option<String> {
        match e {
            Value::Array(items) => {
                let msgs: Vec<String> = items
                    .iter()
                    .filter_map(|i| match i {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => {
                            o.get("message").and_then(Value::as_str).map(str::to_string)
                        }
                        _ => None,
                    })
                    .collect();
                (!msgs.is_empty()).then(|| msgs.join("; "))
            }
            Value::Object(map) => {
                let msgs: Vec<String> = map
                    .iter()
                    .flat_map(|(field, errs)| {
                        let list = errs.as_array().cloned().unwrap_or_default();
                        list.into_iter().map(move |e| {
                            let m = e
                                .get("message")
                                .and_then(Value::as_str)
                                .or_else(|| e.as_str())
                                .unwrap_or("invalid")
                                .to_string();
                            format!("{field}: {m}")
                        })
                    })
                    .collect();
                (!msgs.is_empty()).then(|| msgs.join("; "))
            }
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
    match &v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("errors")
            .and_then(from_errors)
            .or_else(|| {
                o.get("error_message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .or_else(|| o.get("message").and_then(Value::as_str).map(str::to_string))
            .or_else(|| o.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| body_start(body)),
        _ => body_start(body),
    }
}

/// `Retry-After`: seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let t = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let d = t.duration_since(jiff::Timestamp::now());
    Some(d.unsigned_abs().min(Duration::from_secs(86400)))
        .filter(|_| d.is_positive())
        .or(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canvas_error_shape() {
        assert_eq!(
            canvas_message(br#"{"errors":[{"message":"Invalid access token."}]}"#),
            "Invalid access token."
        );
        assert_eq!(
            canvas_message(br#"{"errors":["SIS imports can only be executed on root accounts"]}"#),
            "SIS imports can only be executed on root accounts"
        );
        assert_eq!(
            canvas_message(br#"{"error":true,"error_message":"Missing attachment"}"#),
            "Missing attachment"
        );
        assert_eq!(
            canvas_message(br#"{"error":"Invalid content type, UTF-8 required"}"#),
            "Invalid content type, UTF-8 required"
        );
        assert_eq!(
            canvas_message(br#""cannot set both undelete_only and unconclude_only""#),
            "cannot set both undelete_only and unconclude_only"
        );
        assert_eq!(
            canvas_message(
                br#"{"errors":{"diffing_data_set_identifier":[{"attribute":"d","type":"too_long","message":"is too long"}]}}"#
            ),
            "diffing_data_set_identifier: is too long"
        );
        assert_eq!(
            canvas_message(b"403 Forbidden (Rate Limit Exceeded)\n"),
            "403 Forbidden (Rate Limit Exceeded) "
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn exit_codes() {
        let s = |status, throttled, json| HttpError::Status {
            url: "u".into(),
            status,
            throttled,
            json,
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(s(401, false, true).exit(), Exit::NoPerm);
        assert_eq!(s(403, false, true).exit(), Exit::NoPerm);
        assert_eq!(s(403, true, false).exit(), Exit::Unavailable);
        assert!(s(403, true, false).retryable());
        assert!(!s(403, false, true).retryable());
        assert_eq!(s(404, false, true).exit(), Exit::NotFound);
        assert!(!s(500, false, true).retryable());
        assert!(s(503, false, false).retryable());
        for (e, kind) in [
            (s(401, false, true), "unauthorized"),
            (s(403, false, true), "forbidden"),
            (s(403, true, false), "throttled"),
            (s(429, true, false), "throttled"),
            (s(404, false, true), "not_found"),
            (s(422, false, true), "canvas_rejected"),
            (s(503, false, false), "server_error"),
            (s(413, false, false), "unexpected_status"),
        ] {
            assert_eq!(e.kind(), kind);
            let f = e.into_failure();
            assert_eq!(f.kind, kind);
            assert!(
                crate::exit::KINDS
                    .iter()
                    .any(|(k, c, _)| *k == kind && *c == f.exit.code())
            );
        }
    }

    #[test]
    fn kinds_of_transport_and_tls_failures() {
        let transport = |unreachable| HttpError::Transport {
            url: "u".into(),
            connect: true,
            timeout: false,
            body_sent: false,
            detail: String::new(),
            unreachable,
        };
        let tls = |problem| HttpError::Tls {
            url: "u".into(),
            host: "h".into(),
            problem,
            detail: String::new(),
        };
        let cases = [
            (transport(None), "unreachable"),
            (
                transport(Some(Unreachable::Refused { addr: "a".into() })),
                "connection_refused",
            ),
            (
                transport(Some(Unreachable::NoSuchHost { host: "h".into() })),
                "dns",
            ),
            (
                transport(Some(Unreachable::DnsNoAnswer { host: "h".into() })),
                "dns",
            ),
            (tls(TlsProblem::UnknownIssuer), "tls_certificate"),
            (
                tls(TlsProblem::WrongHost { presented: vec![] }),
                "tls_certificate",
            ),
            (tls(TlsProblem::ClientCertRequired), "tls_handshake"),
            (tls(TlsProblem::NotTls("x".into())), "tls_handshake"),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
            let f = e.into_failure();
            assert_eq!(f.kind, kind);
            assert!(
                crate::exit::KINDS
                    .iter()
                    .any(|(k, c, _)| *k == kind && *c == f.exit.code())
            );
        }
    }
}
