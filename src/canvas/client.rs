//! The HTTP client for Canvas's SIS import API: one place for auth, timeouts, retries,
//! error classification, rate-limit tracking and pagination.
//!
//! The token is sent only as `Authorization: Bearer` (marked sensitive, so HTTP-library traces
//! do not show it) and only to the configured origin: reqwest drops it on a redirect to
//! another host, and a redirect to plain http off loopback is refused.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::error::{HttpError, body_start, canvas_message, parse_retry_after};
use super::paginate::{PAGE_CAP, next_link};
use super::retry::{RetryError, RetryPolicy};
use super::types::{Import, Progress};
use crate::exit::{Exit, Failure, Result};
use crate::settings::{Connection, Network};

/// Largest JSON answer read (a SisImport with 24+24 messages is a few kB; a page of 100 is
/// well under 1 MB). A proxy that streams something huge is cut off here.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

pub struct Client {
    http: reqwest::Client,
    base: Url,
    account: String,
    token: SecretString,
    pub retry: RetryPolicy,
    read_timeout: Duration,
    /// The last `X-Rate-Limit-Remaining` Canvas sent (§7.2), to slow polling before throttling.
    rate_remaining: Mutex<Option<f64>>,
}

/// A parsed JSON answer with its headers.
pub struct Answer {
    pub json: Value,
    pub headers: HeaderMap,
}

/// What a request body is.
pub enum Body {
    Empty,
    /// A file streamed from disk; `sent` counts bytes handed to the connection.
    File {
        path: std::path::PathBuf,
        len: u64,
        content_type: String,
        sent: Arc<AtomicU64>,
        on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    },
    Json(Value),
}

impl Client {
    pub fn new(net: &Network, s: &Connection) -> Result<Client> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("canvas-sis/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(s.connect_timeout)
            .dns_resolver(super::net::Resolver::shared())
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("more than 5 redirects");
                }
                let next = attempt.url().to_string();
                match crate::settings::check_base_url(&next) {
                    Ok(_) => attempt.follow(),
                    Err(e) => attempt.error(format!("redirect to {next} refused: {e}")),
                }
            }));
        if let Some(ca) = &s.ca_cert {
            for c in load_ca(ca)? {
                b = b.add_root_certificate(c);
            }
        }
        let http = b
            .build()
            .map_err(|e| Failure::config(format!("cannot set up HTTPS: {e}")))?;
        Ok(Client {
            http,
            base: net.base.clone(),
            account: account_segment(&net.account),
            token: net.token.clone(),
            retry: RetryPolicy::new(s.retry_budget),
            read_timeout: s.read_timeout,
            rate_remaining: Mutex::new(None),
        })
    }

    /// `…/api/v1/accounts/:account/REST`
    pub fn account_url(&self, rest: &str) -> Url {
        let mut u = self
            .base
            .join(&format!("api/v1/accounts/{}", self.account))
            .expect("valid base");
        if !rest.is_empty() {
            u = Url::parse(&format!("{}/{}", u.as_str().trim_end_matches('/'), rest))
                .expect("valid");
        }
        u
    }

    /// `…/api/v1/REST`
    pub fn api_url(&self, rest: &str) -> Url {
        self.base
            .join(&format!("api/v1/{rest}"))
            .expect("valid base")
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn rate_remaining(&self) -> Option<f64> {
        *self.rate_remaining.lock().expect("not poisoned")
    }

    fn request(&self, method: Method, url: &Url, body: &Body) -> Result<RequestBuilder, HttpError> {
        let mut rb = self
            .http
            .request(method, url.clone())
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        match body {
            Body::Empty => {
                rb = rb.timeout(self.read_timeout);
            }
            Body::Json(v) => {
                rb = rb.timeout(self.read_timeout).json(v);
            }
            Body::File {
                path,
                len,
                content_type,
                sent,
                on_chunk,
            } => {
                let file = std::fs::File::open(path).map_err(|e| HttpError::Transport {
                    url: url.to_string(),
                    connect: true,
                    timeout: false,
                    body_sent: false,
                    detail: format!("cannot open {}: {e}", path.display()),
                    unreachable: None,
                })?;
                let sent = sent.clone();
                let on_chunk = on_chunk.clone();
                let stream = tokio_util::io::ReaderStream::with_capacity(
                    tokio::fs::File::from_std(file),
                    256 * 1024,
                )
                .map(move |chunk| {
                    if let Ok(c) = &chunk {
                        let total =
                            sent.fetch_add(c.len() as u64, Ordering::Relaxed) + c.len() as u64;
                        if let Some(f) = &on_chunk {
                            f(total);
                        }
                    }
                    chunk
                });
                rb = rb
                    .timeout(upload_timeout(*len, self.read_timeout))
                    .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                    .header(reqwest::header::CONTENT_LENGTH, *len)
                    .body(reqwest::Body::wrap_stream(stream));
            }
        }
        Ok(rb)
    }

    /// A plain GET for a file download (not JSON, not retried): the token goes only to the
    /// Canvas origin, never to another host such as a files or S3 host.
    pub(crate) fn download_request(&self, url: &Url) -> RequestBuilder {
        let rb = self.http.get(url.clone());
        if url.origin() == self.base.origin() {
            rb.bearer_auth(self.token.expose_secret())
        } else {
            rb
        }
    }

    /// One exchange: send, read the answer, classify it.
    pub async fn exchange(
        &self,
        method: Method,
        url: &Url,
        body: &Body,
    ) -> Result<Answer, HttpError> {
        let shown = crate::redact::redact(url.as_str()).to_string();
        tracing::debug!(target: "canvas_sis", "{method} {shown}");
        let rb = self.request(method, url, body)?;
        let sent_before = match body {
            Body::File { sent, .. } => {
                sent.store(0, Ordering::Relaxed);
                Some(sent.clone())
            }
            _ => None,
        };
        let transport = |e: reqwest::Error| {
            let body_sent = sent_before
                .as_ref()
                .map(|s| s.load(Ordering::Relaxed) > 0)
                .unwrap_or(true);
            super::net::from_reqwest(&shown, url, e, body_sent)
        };
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(r) = header_f64(&headers, "x-rate-limit-remaining") {
            *self.rate_remaining.lock().expect("not poisoned") = Some(r);
        }
        let bytes = read_capped(resp, MAX_JSON_BODY).await.map_err(transport)?;
        classify(&shown, status, headers, bytes)
    }

    /// GET with the retry policy.
    pub async fn get(&self, what: &str, url: &Url) -> Result<Answer, RetryError> {
        self.retry
            .run(what, || self.exchange(Method::GET, url, &Body::Empty))
            .await
    }

    /// PUT: retried only when Canvas surely did not act on it (no connection, or a
    /// throttling/unavailable answer); a lost answer is not resent.
    pub async fn put(&self, what: &str, url: &Url) -> Result<Answer, RetryError> {
        self.retry
            .run_with(what, not_acted_on, || {
                self.exchange(Method::PUT, url, &Body::Empty)
            })
            .await
    }

    /// GET one import (§2.4).
    pub async fn show(&self, id: u64) -> Result<Import> {
        let url = self.account_url(&format!("sis_imports/{id}"));
        let a = self
            .get(&format!("GET import {id}"), &url)
            .await
            .map_err(|e| not_found_as(e, self.no_such_import(id)))?;
        Import::from_value(a.json).map_err(|e| bad_shape(&url, &e))
    }

    /// The message for a 404 on an import id.
    pub fn no_such_import(&self, id: u64) -> String {
        format!(
            "import {id} does not exist in account {}",
            self.account_display()
        )
    }

    pub fn account_display(&self) -> String {
        percent_encoding::percent_decode_str(&self.account)
            .decode_utf8_lossy()
            .to_string()
    }

    pub async fn progress(&self, id: u64) -> Result<Progress> {
        let url = self.api_url(&format!("progress/{id}"));
        let a = self.get(&format!("GET progress {id}"), &url).await?;
        Progress::from_value(a.json).map_err(|e| bad_shape(&url, &e))
    }

    /// Every item of a paginated list (§7.4), following `rel="next"` until it is absent or
    /// `limit` items are in hand. `key` names the wrapper (`sis_imports`, `sis_import_errors`).
    pub async fn list_all(
        &self,
        first: Url,
        key: &str,
        limit: Option<usize>,
    ) -> Result<Vec<Value>> {
        let mut url = first;
        let mut out = Vec::new();
        for page in 1..=PAGE_CAP {
            let a = self.get(&format!("GET {key} page {page}"), &url).await?;
            let items = match &a.json {
                Value::Object(o) => o.get(key).and_then(Value::as_array),
                // Tolerate a bare array, which some proxies and older docs show.
                Value::Array(items) => Some(items),
                _ => None,
            }
            .ok_or_else(|| bad_shape(&url, &format!("expected {{\"{key}\": [...]}}")))?;
            out.extend(items.iter().cloned());
            if let Some(l) = limit
                && out.len() >= l
            {
                out.truncate(l);
                return Ok(out);
            }
            let next = a
                .headers
                .get_all(reqwest::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link);
            match next {
                None => return Ok(out),
                Some(n) => {
                    let next_url = Url::parse(&n)
                        .map_err(|e| bad_shape(&url, &format!("bad next link {n:?}: {e}")))?;
                    // Never follow a next link off the Canvas origin with our token.
                    if next_url.origin() != self.base.origin() {
                        return Err(Failure::new(
                            Exit::Unavailable,
                            format!(
                                "{url}: the next-page link points to another host ({n}); not followed"
                            ),
                        )
                        .kind("link_refused"));
                    }
                    url = next_url;
                }
            }
        }
        Err(Failure::new(
            Exit::Unavailable,
            format!(
                "more than {PAGE_CAP} pages from {key}; stopped (narrow the query, e.g. --created-since)"
            ),
        )
        .kind("too_many_pages"))
    }
}

/// reqwest's error with its causes (the top level alone often says only "error sending request").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    crate::redact::redact(&s).to_string()
}

/// The account id as the path segment every request uses (`sis_account_id:X` →
/// `sis_account_id%3AX`); `submit --dry-run` prints the same.
pub fn account_segment(account: &str) -> String {
    percent_encoding::utf8_percent_encode(account, SEGMENT).to_string()
}

/// Path-segment encoding for the account id (`sis_account_id:X` → `sis_account_id%3AX`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Retryable for a non-idempotent request: only when Canvas surely did not act on it.
pub fn not_acted_on(e: &HttpError) -> bool {
    match e {
        HttpError::Transport {
            connect,
            body_sent,
            timeout,
            ..
        } => *connect || (!*body_sent && !*timeout),
        HttpError::Status { .. } => e.retryable(),
        HttpError::BadBody { .. } | HttpError::Tls { .. } => false,
    }
}

/// A direct upload may run long: allow the read timeout plus the time to send the file at a
/// slow 256 KiB/s.
pub fn upload_timeout(len: u64, read_timeout: Duration) -> Duration {
    read_timeout + Duration::from_secs(len / (256 * 1024))
}

fn header_f64(h: &HeaderMap, name: &str) -> Option<f64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The PEM certificates of `--ca-cert` (exit 78 when unreadable or holding none).
pub(crate) fn load_ca(ca: &std::path::Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(ca).map_err(|e| {
        Failure::config(format!("cannot read CA certificate {}: {e}", ca.display()))
            .kind("ca_cert_invalid")
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        Failure::config(format!("{} is not a PEM certificate: {e}", ca.display()))
            .kind("ca_cert_invalid")
    })?;
    if certs.is_empty() {
        return Err(
            Failure::config(format!("{} holds no PEM certificate", ca.display()))
                .kind("ca_cert_invalid"),
        );
    }
    Ok(certs)
}

/// An answer's body, cut off at `max` bytes (a proxy that streams something huge stops here).
pub(crate) async fn read_capped(
    resp: reqwest::Response,
    max: usize,
) -> std::result::Result<Bytes, reqwest::Error> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(Bytes::from(out))
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(reqwest::header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(|ct| ct.to_ascii_lowercase().contains("json"))
        .unwrap_or(false)
}

/// Turn a status, headers and body into an answer or an `HttpError` (§7.1, §7.2).
fn classify(
    url: &str,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, HttpError> {
    let json = is_json(&headers);
    if status.is_success() {
        if !json && !body.is_empty() {
            let ct = headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string();
            return Err(HttpError::BadBody {
                url: url.into(),
                status: status.as_u16(),
                detail: format!(
                    "expected JSON, got content type {ct} (a proxy or maintenance page?)"
                ),
                body_start: body_start(&body),
            });
        }
        // Canvas prefixes JSON with while(1); only for session cookies (§7.3); tolerate it.
        let text = body.strip_prefix(b"while(1);").unwrap_or(&body);
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(text).map_err(|e| HttpError::BadBody {
                url: url.into(),
                status: status.as_u16(),
                detail: format!("invalid or truncated JSON ({e})"),
                body_start: body_start(&body),
            })?
        };
        return Ok(Answer { json: v, headers });
    }
    let code = status.as_u16();
    let text = String::from_utf8_lossy(&body);
    let remaining = header_f64(&headers, "x-rate-limit-remaining");
    let throttled = code == 429
        || (code == 403
            && (text.contains("Rate Limit Exceeded")
                || (!json && remaining.is_some_and(|r| r <= 0.0))));
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let message = if json {
        canvas_message(&body)
    } else {
        body_start(&body)
    };
    Err(HttpError::Status {
        url: url.into(),
        status: code,
        throttled,
        json,
        message,
        retry_after,
    })
}

/// A 200 whose JSON lacks what the API promises.
pub fn bad_shape(url: &Url, what: &str) -> Failure {
    Failure::new(
        Exit::Unavailable,
        format!(
            "{}: unexpected answer from Canvas: {what}",
            crate::redact::redact(url.as_str())
        ),
    )
    .kind("bad_response")
}

/// A 404 gets a message naming what was looked for.
pub fn not_found_as(e: RetryError, message: String) -> Failure {
    if e.last.status() == Some(404) {
        Failure::new(Exit::NotFound, message)
            .hint("check the id (canvas-sis list) and --account-id")
    } else {
        e.into_failure()
    }
}
