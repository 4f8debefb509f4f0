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
    },
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
    },
}

impl HttpError {
    /// Whether the same request may simply be sent again.
    pub fn retryable(&self) -> bool {
        match self {
            HttpError::Transport { .. } => true,
            HttpError::Status {
                status, throttled, ..
            } => *throttled || matches!(status, 429 | 502 | 503 | 504),
            HttpError::BadBody { .. } => true,
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
            HttpError::Status {
                status, throttled, ..
            } => match (*status, *throttled) {
                (_, true) => Exit::Unavailable,
                (401, _) | (403, _) => Exit::NoPerm,
                (404, _) => Exit::NotFound,
                (400 | 409 | 422, _) => Exit::Usage,
                _ => Exit::Unavailable,
            },
        }
    }

    pub fn into_failure(self) -> Failure {
        let exit = self.exit();
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
            _ => None,
        };
        let f = Failure::new(exit, self.to_string());
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
    }
}
