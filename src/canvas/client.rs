//! The one HTTP stack, for both hosts a submit talks to: Canvas, and the upload host of the
//! file-upload flow (often a storage service on another origin). One client builder
//! ([`build_http`]), one status classification ([`status_error`]), one streamed file body
//! ([`FileBody`]), and the default timeouts as named constants. On it, the client for
//! Canvas's SIS import API: auth, retries, rate-limit tracking and pagination.
//!
//! The token is sent only as `Authorization: Bearer` (marked sensitive, so HTTP-library traces
//! do not show it) and only to the configured origin: reqwest drops it on a redirect to
//! another host, a redirect to plain http off loopback is refused, and requests to the upload
//! host ([`Client::upload_exchange`]) never carry it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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

/// `--connect-timeout`'s default (the settings table says the same; a test checks).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// `--read-timeout`'s default: how long to wait for an answer.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(120);
/// `--retry-budget`'s default.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(600);
/// A file body is given the read timeout plus the time to send it at this speed (bytes per
/// second), so that a big upload on a slow link is not cut off ([`upload_timeout`]).
pub const SLOWEST_UPLOAD_SPEED: u64 = 256 * 1024;
/// A file body is read from disk in chunks of this size.
pub const FILE_CHUNK: usize = 256 * 1024;
/// More than this many redirects is an error.
pub const MAX_REDIRECTS: usize = 5;

/// Largest JSON answer read (a SisImport with 24+24 messages is a few kB; a page of 100 is
/// well under 1 MB). A proxy that streams something huge is cut off here.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;
/// Largest answer read from the upload host (only its status and `Location` matter).
const MAX_UPLOAD_ANSWER: usize = 1024 * 1024;

/// Whether a client follows redirects itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirects {
    /// Up to [`MAX_REDIRECTS`], each to a URL `check_base_url` accepts (Canvas's client).
    Checked,
    /// None: a 3xx is the answer (the upload host, whose `Location` the flow's step 3 follows).
    Manual,
}

/// The one client builder: the user agent, the connect timeout, our resolver (which keeps
/// DNS failures apart), the redirect rule, and the private CA of `--ca-cert` trusted as well
/// as the system roots (`system_roots`: reading them costs a few milliseconds, which a
/// client that never speaks TLS is spared). There is no client-wide read timeout: each
/// request gets its own (a big upload says nothing for a long while).
pub fn build_http(
    ca: &[reqwest::Certificate],
    system_roots: bool,
    connect_timeout: Duration,
    redirects: Redirects,
) -> Result<reqwest::Client> {
    let policy = match redirects {
        Redirects::Manual => reqwest::redirect::Policy::none(),
        Redirects::Checked => reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let next = attempt.url().to_string();
            match crate::settings::check_base_url(&next) {
                Ok(_) => attempt.follow(),
                Err(e) => attempt.error(format!("redirect to {next} refused: {e}")),
            }
        }),
    };
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("canvas-sis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .dns_resolver(super::net::Resolver::shared())
        .redirect(policy)
        .tls_built_in_root_certs(system_roots);
    for c in ca {
        b = b.add_root_certificate(c.clone());
    }
    if !system_roots {
        // A plain-http Canvas is on loopback (`check_base_url`): a proxy from the
        // environment (HTTP_PROXY) would get the token in clear text, and could not reach
        // this host's loopback anyway.
        b = b.no_proxy();
    }
    b.build()
        .map_err(|e| Failure::config(format!("cannot set up HTTPS: {e}")))
}

pub struct Client {
    http: reqwest::Client,
    /// The same, following no redirect (the upload host, and Canvas's POSTs and PUTs), built
    /// when first needed.
    no_redirects_http: OnceLock<std::result::Result<reqwest::Client, String>>,
    ca: Vec<reqwest::Certificate>,
    connect_timeout: Duration,
    pub(super) base: Url,
    account: String,
    token: SecretString,
    pub retry: RetryPolicy,
    pub(super) read_timeout: Duration,
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
    Json(Value),
    /// A file as the raw body (a direct upload, §2.1 (2)).
    File(FileBody),
    /// A multipart form: `fields` first, then the file in the field `file_param` (the
    /// file-upload flow's step 2).
    Multipart {
        fields: Vec<(String, String)>,
        file_param: String,
        file: FileBody,
    },
}

impl Body {
    fn file(&self) -> Option<&FileBody> {
        match self {
            Body::File(f) | Body::Multipart { file: f, .. } => Some(f),
            Body::Empty | Body::Json(_) => None,
        }
    }

    /// Whether the server may have acted on it when a request fails: a file body only once
    /// the whole file was handed to the connection (a server cannot act on a body cut
    /// short: Canvas reads the whole of it first, §2.1, and so does the upload host), so a
    /// stall or a cut midway is retried as nothing sent, never looked up as a lost answer;
    /// anything else is assumed to have arrived.
    fn maybe_sent(&self) -> bool {
        self.file()
            .map(|f| f.sent.load(Ordering::Relaxed) >= f.len)
            .unwrap_or(true)
    }
}

/// The one streamed file body: a file read from disk in [`FILE_CHUNK`]s (constant memory
/// whatever its size), counted as it is handed to the connection, and hashed on the way
/// when asked to.
#[derive(Clone)]
pub struct FileBody {
    pub path: PathBuf,
    /// Its name (the multipart part's `filename`).
    pub name: String,
    pub len: u64,
    pub content_type: &'static str,
    /// Bytes handed to the connection by the current attempt.
    pub sent: Arc<AtomicU64>,
    /// Called with the running total of `sent` (it restarts at 0 when a request is retried).
    pub on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// When set, each pass over the file is hashed as it goes out.
    pub hash: Option<Arc<crate::bundle::StreamHash>>,
    /// When set, the file's last chunk waits for it (and is never sent if it closes): the
    /// server cannot have the whole file before then.
    pub last_chunk_gate: Option<Gate>,
}

/// Something the last chunk of a [`FileBody`] waits for: opened (go on) or closed (stop).
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<(Mutex<Option<bool>>, std::sync::Condvar)>);

impl Gate {
    /// Let the last chunk go (`true`) or never send it (`false`). The first call counts.
    pub fn open(&self, go: bool) {
        let (state, cv) = &*self.0;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            *s = Some(go);
        }
        cv.notify_all();
    }

    /// Whether it was closed: the last chunk was (or will be) held back.
    pub fn closed(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner()) == Some(false)
    }

    /// Wait until it is opened or closed; true to go on.
    fn wait(&self) -> bool {
        let (state, cv) = &*self.0;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(go) = *s {
                return go;
            }
            s = cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl FileBody {
    pub fn new(path: &Path, name: &str, len: u64, content_type: &'static str) -> FileBody {
        FileBody {
            path: path.to_path_buf(),
            name: name.to_string(),
            len,
            content_type,
            sent: Arc::new(AtomicU64::new(0)),
            on_chunk: None,
            hash: None,
            last_chunk_gate: None,
        }
    }

    /// A fresh pass over the file, as a request body. A thread of its own reads the file
    /// (and hashes each chunk while it is in the cache, when asked to) a few chunks ahead of
    /// the connection; it ends when the file does, or when the request is dropped.
    fn stream(&self, shown: &str) -> std::result::Result<reqwest::Body, HttpError> {
        let cannot = |detail: String| HttpError::Transport {
            url: shown.to_string(),
            connect: true,
            timeout: false,
            body_sent: false,
            detail,
            unreachable: None,
        };
        let mut file = std::fs::File::open(&self.path)
            .map_err(|e| cannot(format!("cannot open {}: {e}", self.path.display())))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
        let mut hash = self.hash.as_ref().map(|h| h.start(self.len));
        let gate = self.last_chunk_gate.clone();
        let len = self.len;
        std::thread::Builder::new()
            .name("file-body".into())
            .spawn(move || {
                // Buffers come back here once the connection is done with them: a pass
                // allocates a handful, whatever the file's size.
                let (back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
                let mut read = 0u64;
                loop {
                    let mut buf = returned
                        .try_recv()
                        .unwrap_or_else(|_| vec![0u8; FILE_CHUNK]);
                    let n = match fill(&mut file, &mut buf) {
                        Ok(0) => return,
                        Ok(n) => n,
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    };
                    if let Some(h) = &mut hash {
                        h.update(&buf[..n]);
                    }
                    read += n as u64;
                    if read >= len
                        && let Some(g) = &gate
                        && !g.wait()
                    {
                        let _ = tx.blocking_send(Err(std::io::Error::other(
                            "held back: what had to be done before the end of the upload failed",
                        )));
                        return;
                    }
                    let chunk = Bytes::from_owner(Chunk {
                        buf,
                        len: n,
                        back: back.clone(),
                    });
                    if let Some(h) = &mut hash {
                        h.keep(&chunk);
                    }
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        // The request is gone.
                        return;
                    }
                }
            })
            .map_err(|e| cannot(format!("cannot read {}: {e}", self.path.display())))?;
        self.sent.store(0, Ordering::Relaxed);
        let sent = self.sent.clone();
        let on_chunk = self.on_chunk.clone();
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(move |chunk| {
            if let Ok(c) = &chunk {
                let n = c.len() as u64;
                let total = sent.fetch_add(n, Ordering::Relaxed) + n;
                if let Some(f) = &on_chunk {
                    f(total);
                }
            }
            chunk
        });
        Ok(reqwest::Body::wrap_stream(stream))
    }
}

/// Resolves (with the bytes handed over) once the connection has taken none of the file
/// for `limit` (checked every `limit`, so within two of them), while part of it is still to
/// go; never once the whole file went (the answer's wait is the request timeout's).
async fn stalled(sent: &AtomicU64, len: u64, limit: Duration) -> u64 {
    let mut last = None;
    loop {
        tokio::time::sleep(limit).await;
        let now = sent.load(Ordering::Relaxed);
        if now >= len {
            return std::future::pending().await;
        }
        if last == Some(now) {
            return now;
        }
        last = Some(now);
    }
}

/// How many chunks the file reader may be ahead of the connection.
const READ_AHEAD: usize = 4;

/// Fill `buf` from `f` (less at the end of the file); the number of bytes read.
fn fill(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A chunk of a file body: its buffer goes back to the reader once sent.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
    back: std::sync::mpsc::Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let _ = self.back.send(std::mem::take(&mut self.buf));
    }
}

impl Client {
    pub fn new(net: &Network, s: &Connection) -> Result<Client> {
        let ca = match &s.ca_cert {
            Some(p) => load_ca(p)?,
            None => Vec::new(),
        };
        // A plain-http Canvas (loopback only: the simulator, a test) needs no TLS, except
        // for a redirect to https, which then trusts only --ca-cert.
        let tls = net.base.scheme() == "https";
        let http = build_http(&ca, tls, s.connect_timeout, Redirects::Checked)?;
        Ok(Client {
            http,
            no_redirects_http: OnceLock::new(),
            ca,
            connect_timeout: s.connect_timeout,
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

    /// The client that follows no redirect (the upload host, whose `Location` step 3
    /// follows itself; a POST or PUT to Canvas, which a redirect would turn into a GET).
    fn no_redirects_http(&self, shown: &str) -> std::result::Result<&reqwest::Client, HttpError> {
        let built = self.no_redirects_http.get_or_init(|| {
            build_http(&self.ca, true, self.connect_timeout, Redirects::Manual)
                .map_err(|f| f.message)
        });
        built.as_ref().map_err(|e| HttpError::Tls {
            url: shown.to_string(),
            host: "the upload host".into(),
            problem: super::error::TlsProblem::Incompatible(e.clone()),
            detail: e.clone(),
        })
    }

    /// Send one request and wait for the answer's head. `token`: Canvas's own requests carry
    /// the token and ask for JSON; the upload host's carry neither.
    async fn send(
        &self,
        http: &reqwest::Client,
        method: Method,
        url: &Url,
        shown: &str,
        body: &Body,
        token: bool,
    ) -> std::result::Result<reqwest::Response, HttpError> {
        let mut rb: RequestBuilder = http.request(method, url.clone());
        if token {
            rb = rb
                .bearer_auth(self.token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
        }
        rb = match body {
            Body::Empty => rb.timeout(self.read_timeout),
            Body::Json(v) => rb.timeout(self.read_timeout).json(v),
            Body::File(f) => rb
                .timeout(upload_timeout(f.len, self.read_timeout))
                .header(reqwest::header::CONTENT_TYPE, f.content_type)
                .header(reqwest::header::CONTENT_LENGTH, f.len)
                .body(f.stream(shown)?),
            Body::Multipart {
                fields,
                file_param,
                file: f,
            } => {
                let part = reqwest::multipart::Part::stream_with_length(f.stream(shown)?, f.len)
                    .file_name(f.name.clone())
                    .mime_str(f.content_type)
                    .expect("a valid MIME type");
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields {
                    form = form.text(k.clone(), v.clone());
                }
                rb.timeout(upload_timeout(f.len, self.read_timeout))
                    .multipart(form.part(file_param.clone(), part))
            }
        };
        // The request's own timeout allows for a slow link; a server that stops reading a
        // file body (a stalled proxy) is caught here instead, within two read timeouts.
        let stall = async {
            match body.file() {
                Some(f) => (stalled(&f.sent, f.len, self.read_timeout).await, f.len),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = rb.send() => r.map_err(|e| super::net::from_reqwest(shown, url, e, body.maybe_sent())),
            (n, len) = stall => Err(HttpError::Transport {
                url: shown.to_string(),
                connect: false,
                // Not a timeout of the answer: the body never all went, so nothing was done.
                timeout: false,
                body_sent: false,
                detail: format!(
                    "the server stopped reading the upload after {n} of {len} bytes and did not answer for {} s (a proxy's limit on request bodies?)",
                    self.read_timeout.as_secs()
                ),
                unreachable: None,
            }),
        }
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

    /// One exchange with Canvas: send, read the answer, classify it.
    pub async fn exchange(
        &self,
        method: Method,
        url: &Url,
        body: &Body,
    ) -> Result<Answer, HttpError> {
        let shown = crate::redact::redact(url.as_str()).to_string();
        tracing::debug!(target: "canvas_sis", "{method} {shown}");
        // A redirect is followed for a read only: a POST or PUT would be replayed as a GET
        // (301/302/303), its body and its meaning lost, or an abort "succeed" elsewhere.
        let http = if method == Method::GET || method == Method::HEAD {
            &self.http
        } else {
            self.no_redirects_http(&shown)?
        };
        let resp = self.send(http, method, url, &shown, body, true).await?;
        if resp.url().origin() != url.origin() {
            return Err(HttpError::Elsewhere {
                url: shown,
                to: crate::redact::url_origin(resp.url()),
            });
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(r) = header_f64(&headers, "x-rate-limit-remaining") {
            *self.rate_remaining.lock().expect("not poisoned") = Some(r);
        }
        let bytes = read_capped(resp, MAX_JSON_BODY)
            .await
            .map_err(|e| super::net::from_reqwest(&shown, url, e, body.maybe_sent()))?;
        classify(&shown, status, headers, bytes)
    }

    /// One exchange with the upload host: without the token, redirects not followed. A 2xx
    /// or 3xx answer gives its status and headers (its body is not needed); anything else is
    /// an error. Messages show only the URL's origin and path (its query holds signatures).
    pub async fn upload_exchange(
        &self,
        method: Method,
        url: &Url,
        body: &Body,
    ) -> Result<(StatusCode, HeaderMap), HttpError> {
        let shown = origin_of(url);
        tracing::debug!(target: "canvas_sis", "{method} {shown} (upload host)");
        let http = self.no_redirects_http(&shown)?;
        let resp = self.send(http, method, url, &shown, body, false).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        // Only its status and Location matter; an answer cut off after them is no failure.
        let bytes = read_capped(resp, MAX_UPLOAD_ANSWER)
            .await
            .unwrap_or_default();
        if status.is_success() || status.is_redirection() {
            return Ok((status, headers));
        }
        Err(status_error(&shown, status, &headers, &bytes))
    }

    /// GET with the retry policy.
    pub async fn get(&self, what: &str, url: &Url) -> Result<Answer, RetryError> {
        self.retry
            .run_for(&Method::GET, what, || {
                self.exchange(Method::GET, url, &Body::Empty)
            })
            .await
    }

    /// PUT: retried only when Canvas surely did not act on it (no connection, or a
    /// throttling/unavailable answer); a lost answer is not resent.
    pub async fn put(&self, what: &str, url: &Url) -> Result<Answer, RetryError> {
        self.retry
            .run_for(&Method::PUT, what, || {
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
        let imp = Import::from_value(a.json).map_err(|e| bad_shape(&url, &e))?;
        // Another import's state must never be reported as this one's.
        if imp.id != id {
            return Err(bad_shape(&url, &format!("it describes import {}", imp.id)));
        }
        Ok(imp)
    }

    /// The SIS id of the term Canvas finds by `term` (its own id, `sis_term_id:X`,
    /// `default`, `current`: `GET /accounts/:id/terms/:term`, TermsApiController#show), or
    /// None when it has none. A 404 is exit 5: Canvas would refuse a batch import in it.
    pub async fn term_sis_id(&self, term: &str) -> Result<Option<String>> {
        let seg: String =
            percent_encoding::utf8_percent_encode(term.trim(), percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let url = self.account_url(&format!("terms/{seg}"));
        let a = self
            .get(&format!("GET term {term}"), &url)
            .await
            .map_err(|e| {
                not_found_as(
                    e,
                    format!(
                        "term {term} does not exist in account {}: Canvas would refuse the batch import (404); nothing was sent",
                        self.account_display()
                    ),
                )
            })?;
        Ok(a.json
            .get("sis_term_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string))
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
                    // A long list read page after page drains Canvas's bucket as polls do:
                    // spaced out the same way when it runs low (§7.2).
                    let wait = super::retry::pace(Duration::ZERO, self.rate_remaining());
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
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

/// A request with a file body may run long: the read timeout plus the time to send the file
/// at [`SLOWEST_UPLOAD_SPEED`].
pub fn upload_timeout(len: u64, read_timeout: Duration) -> Duration {
    read_timeout + Duration::from_secs(len / SLOWEST_UPLOAD_SPEED)
}

fn header_f64(h: &HeaderMap, name: &str) -> Option<f64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The PEM certificates of `--ca-cert` (exit 78 when unreadable or holding none).
pub(crate) fn load_ca(ca: &Path) -> Result<Vec<reqwest::Certificate>> {
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

/// A Canvas answer as JSON, or an `HttpError` (§7.1, §7.2).
fn classify(
    url: &str,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, HttpError> {
    if !status.is_success() {
        return Err(status_error(url, status, &headers, &body));
    }
    if body.len() >= MAX_JSON_BODY {
        return Err(HttpError::BadBody {
            url: url.into(),
            status: status.as_u16(),
            detail: format!(
                "the answer is larger than {} MiB, more than any Canvas API answer (a proxy's page, or a list that does not page?)",
                MAX_JSON_BODY >> 20
            ),
            body_start: body_start(&body),
            oversized: true,
        });
    }
    if !is_json(&headers) && !body.is_empty() {
        let ct = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        return Err(HttpError::BadBody {
            url: url.into(),
            status: status.as_u16(),
            detail: format!("expected JSON, got content type {ct} (a proxy or maintenance page?)"),
            body_start: body_start(&body),
            oversized: false,
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
            oversized: false,
        })?
    };
    Ok(Answer { json: v, headers })
}

/// The one status classification, for either host: an answer that is not a success as an
/// `HttpError`, with whether it is throttling (a 429, or a 403 that says so or leaves no
/// rate limit, §7.2), its `Retry-After`, and the message of whatever error shape it has (§7.1).
pub fn status_error(url: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> HttpError {
    let json = is_json(headers);
    let code = status.as_u16();
    let text = String::from_utf8_lossy(body);
    let remaining = header_f64(headers, "x-rate-limit-remaining");
    let throttled = code == 429
        || (code == 403
            && (text.contains("Rate Limit Exceeded")
                || (!json && remaining.is_some_and(|r| r <= 0.0))));
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let message = if status.is_redirection() {
        // Only a request that is never followed gets here (a POST or PUT): where it was sent.
        let to = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| crate::redact::redact(l).to_string())
            .unwrap_or_else(|| "nowhere (no Location)".into());
        format!("redirected to {to}")
    } else if json {
        canvas_message(body)
    } else {
        body_start(body)
    };
    HttpError::Status {
        url: url.into(),
        status: code,
        throttled,
        json,
        message,
        retry_after,
    }
}

/// An upload URL for messages: its origin and path (its query carries signatures).
pub fn origin_of(u: &Url) -> String {
    format!("{}{}", u.origin().ascii_serialization(), u.path())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timeouts_are_the_settings_tables() {
        use crate::settings::table::{Value, def};
        for (key, want) in [
            ("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
            ("read_timeout", DEFAULT_READ_TIMEOUT),
            ("retry_budget", DEFAULT_RETRY_BUDGET),
        ] {
            let d = def(key);
            assert_eq!(
                d.kind.parse(d.default.unwrap()),
                Ok(Value::Duration(want)),
                "{key}"
            );
        }
    }

    #[test]
    fn upload_urls_are_shown_without_their_query() {
        let u = Url::parse("https://files.example/upload/x?sig=1").unwrap();
        assert_eq!(origin_of(&u), "https://files.example/upload/x");
    }
}
