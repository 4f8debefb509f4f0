//! Big bundles: Canvas's `pre_attachment` file-upload flow (reference §2.1 (3), [docs] only),
//! the `auto` mode's choice, and the warning for a direct upload that may outlast Canvas's
//! request limit.
//!
//! The flow is the standard Canvas file upload:
//! 1. `POST accounts/:id/sis_imports?…&pre_attachment[name]=…&pre_attachment[size]=…` with no
//!    body. Canvas saves the batch in `initializing` and answers with `pre_attachment:
//!    {upload_url, upload_params, file_param}`.
//! 2. A multipart POST to `upload_url`: every `upload_params` field first, the file last in
//!    the field `file_param`. This request never carries the Canvas token: `upload_url` is
//!    often another host (a storage service) and is authorised by its own parameters.
//! 3. A 3xx answer must be followed with a GET to its `Location`; a 201 with a `Location` gets
//!    the same GET for compatibility. The token goes along only when that `Location` is on the
//!    Canvas origin.
//!
//! Then the import starts by itself; we GET it once and hand it back to be watched.
//!
//! A Canvas that ignores `pre_attachment` creates an ordinary import without a file. We abort
//! that import at once and report [`FileUploadOutcome::NotSupported`], so the caller can fall
//! back to the direct upload without leaving a second import behind.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tracing::{info, warn};
use url::Url;

use super::client::{Body, Client, bad_shape, error_chain, not_acted_on, upload_timeout};
use super::error::{HttpError, body_start, canvas_message, parse_retry_after};
use super::types::{Import, State};
use crate::bundle::Bundle;
use crate::exit::{Exit, Failure, Result};
use crate::settings::Connection;
use crate::settings::UploadMode;

/// `--upload-mode auto`: bundles of this size and above use the file-upload flow.
pub const AUTO_THRESHOLD: u64 = 100 * 1024 * 1024;

/// A conservative upload speed (bytes per second) for the direct-upload warning.
pub const ASSUMED_LINK_SPEED: u64 = 5_000_000;

/// Canvas (its front-end proxies) cuts a request off after about a minute (§2.1 (3)).
pub const CANVAS_REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// Read timeout for the upload host when no settings are at hand (the contract's default).
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest answer read from the upload host or a confirmation GET.
const MAX_ANSWER: usize = 1024 * 1024;

/// How the bundle is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The file as the raw body of the create POST (§2.1 (2)).
    Direct,
    /// The `pre_attachment` flow (§2.1 (3)).
    FileUpload,
}

/// `--upload-mode`: `auto` picks the file-upload flow from `threshold` bytes on.
pub fn choose_mode(mode: UploadMode, len: u64, threshold: u64) -> Mode {
    match mode {
        UploadMode::Direct => Mode::Direct,
        UploadMode::FileUpload => Mode::FileUpload,
        UploadMode::Auto if len >= threshold => Mode::FileUpload,
        UploadMode::Auto => Mode::Direct,
    }
}

/// A warning when a direct upload of `len` bytes would likely take longer than Canvas's
/// request limit on a modest link ([`ASSUMED_LINK_SPEED`]).
pub fn direct_upload_warning(len: u64) -> Option<String> {
    let secs = len / ASSUMED_LINK_SPEED;
    if secs < CANVAS_REQUEST_LIMIT.as_secs() {
        return None;
    }
    Some(format!(
        "a direct upload of {} may take about {} at {} MB/s, longer than Canvas's ~{}s request limit; \
         Canvas may drop it midway. Use --upload-mode file-upload (or auto) for big bundles",
        human_bytes(len),
        humantime::format_duration(Duration::from_secs(secs)),
        ASSUMED_LINK_SPEED / 1_000_000,
        CANVAS_REQUEST_LIMIT.as_secs()
    ))
}

/// `1.5 GB`-style sizes for messages (decimal units, as link speeds are).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// What the file-upload flow ended with.
#[derive(Debug)]
// Returned once per submit; boxing the import would only cost the caller a deref.
#[allow(clippy::large_enum_variant)]
pub enum FileUploadOutcome {
    /// The file went up; the import (as shown right after) now runs by itself.
    Created(Import),
    /// This Canvas does not know the flow. `aborted` is the id of the file-less import it
    /// created instead and that we aborted (None when it created none, or it had already
    /// finished). Fall back to the direct upload.
    NotSupported { aborted: Option<u64> },
}

/// The HTTP client for the upload host: no Canvas token, no automatic redirects (step 3 is
/// handled here), the private CA of `--ca-cert` trusted as for Canvas.
pub struct UploadHttp {
    http: reqwest::Client,
    read_timeout: Duration,
}

impl UploadHttp {
    /// With `--ca-cert`, `--connect-timeout` and `--read-timeout` from the settings.
    pub fn new(c: &Connection) -> Result<UploadHttp> {
        build_upload_http(c.ca_cert.as_deref(), c.connect_timeout, c.read_timeout)
    }

    /// The system's roots and the contract's default timeouts (30 s connect, 120 s read).
    pub fn defaults() -> Result<UploadHttp> {
        build_upload_http(None, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    }
}

fn build_upload_http(
    ca_cert: Option<&Path>,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<UploadHttp> {
    // No client-wide read timeout: the upload host says nothing while a big file goes up.
    // Each request gets a total timeout instead (`upload_timeout`).
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("canvas-sis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .dns_resolver(super::net::Resolver::shared())
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_cert {
        for c in crate::canvas::client::load_ca(ca)? {
            b = b.add_root_certificate(c);
        }
    }
    let http = b
        .build()
        .map_err(|e| Failure::config(format!("cannot set up HTTPS: {e}")))?;
    Ok(UploadHttp { http, read_timeout })
}

/// The file-upload flow with default timeouts and the system's roots for the upload host.
/// Prefer [`file_upload_with`] and [`UploadHttp::new`] where the settings are at hand
/// (`--ca-cert`, timeouts).
pub async fn file_upload(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
) -> Result<FileUploadOutcome, Failure> {
    let http = UploadHttp::defaults()?;
    file_upload_with(client, &http, bundle, query, on_chunk).await
}

/// The file-upload flow (see the module doc). `query` is what the direct upload would send
/// (`import_type`, `extension`, options). `on_chunk` is called with the running total of
/// file bytes handed to the connection (it restarts at 0 if the upload is retried).
pub async fn file_upload_with(
    client: &Client,
    http: &UploadHttp,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
) -> Result<FileUploadOutcome, Failure> {
    let pending = AtomicU64::new(0);
    file_upload_observed(client, http, bundle, query, on_chunk, &pending).await
}

/// [`file_upload_with`] that also stores the import's id in `pending` as soon as step 1 has
/// created it (0 until then). If the future is dropped before it completes (Ctrl-C during
/// the upload), that import waits in `initializing` for a file that will not come: pass the
/// id to [`abort_waiting`].
pub async fn file_upload_observed(
    client: &Client,
    http: &UploadHttp,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    pending: &AtomicU64,
) -> Result<FileUploadOutcome, Failure> {
    // Step 1: metadata only.
    let url = step1_url(client, bundle, query);
    let answer = client
        .retry
        .run_with("file-upload step 1 (create)", not_acted_on, || {
            client.exchange(Method::POST, &url, &Body::Empty)
        })
        .await
        .map_err(|e| {
            let lost = matches!(e.last, HttpError::Transport { .. } | HttpError::BadBody { .. });
            let f = e.into_failure();
            if lost {
                f.hint("the answer was lost, so Canvas may hold a new import in `initializing` that will never run; check `canvas-sis list --created-since 1h` and abort it before submitting again")
            } else {
                f
            }
        })?;
    let json = answer.json;
    let pre = json.get("pre_attachment").filter(|p| p.is_object());
    let upload_url = pre
        .and_then(|p| p.get("upload_url"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(upload_url) = upload_url else {
        return not_supported(client, json).await;
    };
    let pre = pre.expect("has upload_url").clone();
    let imp = Import::from_value(json).map_err(|e| bad_shape(&url, &e))?;
    let id = imp.id;
    pending.store(id, Ordering::Relaxed);
    let upload_url = Url::parse(&upload_url)
        .ok()
        .filter(|u| crate::settings::check_base_url(u.as_str()).is_ok())
        .ok_or_else(|| {
            Failure::new(
                Exit::Unavailable,
                format!(
                    "import {id}: Canvas gave an upload URL that is not https ({}); not sending the bundle there",
                    origin_of_str(&upload_url)
                ),
            )
            .kind("file_upload_failed")
        });
    let upload_url = match upload_url {
        Ok(u) => u,
        Err(f) => {
            abort_quietly(client, id, "its upload URL was refused").await;
            return Err(f);
        }
    };
    let params: Vec<(String, String)> = match pre.get("upload_params") {
        Some(Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), param_text(v)))
            .collect(),
        _ => Vec::new(),
    };
    let file_param = pre
        .get("file_param")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("file")
        .to_string();
    info!(
        target: "canvas_sis",
        import_id = id,
        "import {id} initialized for the file-upload flow; uploading {} ({} bytes) to {}",
        bundle.name,
        bundle.len,
        upload_url.origin().ascii_serialization()
    );

    // Step 2: the multipart upload, without the Canvas token.
    let sent = Arc::new(AtomicU64::new(0));
    let step2 = client
        .retry
        .run_with("file-upload step 2 (upload)", not_acted_on, || {
            upload_once(
                http,
                &upload_url,
                &params,
                &file_param,
                bundle,
                &sent,
                on_chunk.clone(),
            )
        })
        .await;
    let (status, headers) = match step2 {
        Ok(a) => a,
        Err(e) => return Err(after_failed_upload(client, id, e.into_failure()).await),
    };

    // Step 3: confirm.
    if let Some(loc) = location(&headers, &upload_url) {
        let required = status.is_redirection();
        if let Err(e) = confirm(client, http, &loc).await {
            if required {
                let f = Failure::new(
                    Exit::Unavailable,
                    format!("file-upload step 3 (confirm at {}): {e}", origin_of(&loc)),
                )
                .kind("file_upload_failed");
                return Err(after_failed_upload(client, id, f).await);
            }
            warn!(target: "canvas_sis", "file-upload step 3 (confirm at {}): {e}; the upload itself succeeded (HTTP {status})", origin_of(&loc));
        }
    } else if status.is_redirection() {
        let f = Failure::new(
            Exit::Unavailable,
            format!(
                "the upload host answered HTTP {status} without a Location to confirm the upload at"
            ),
        )
        .kind("file_upload_failed");
        return Err(after_failed_upload(client, id, f).await);
    }
    info!(target: "canvas_sis", import_id = id, "import {id}: file uploaded (HTTP {})", status.as_u16());
    let imp = client.show(id).await?;
    Ok(FileUploadOutcome::Created(imp))
}

fn step1_url(client: &Client, bundle: &Bundle, query: &[(&'static str, String)]) -> Url {
    let mut url = client.account_url("sis_imports");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
        q.append_pair("pre_attachment[name]", &bundle.name);
        q.append_pair("pre_attachment[size]", &bundle.len.to_string());
        q.append_pair("pre_attachment[content_type]", bundle.content_type());
    }
    url
}

/// Canvas ignored `pre_attachment` and created an ordinary import without a file: abort it.
async fn not_supported(client: &Client, json: Value) -> Result<FileUploadOutcome> {
    let Ok(imp) = Import::from_value(json) else {
        warn!(target: "canvas_sis", "this Canvas does not support the file-upload flow (no pre_attachment in its answer, and no import); falling back to the direct upload");
        return Ok(FileUploadOutcome::NotSupported { aborted: None });
    };
    let id = imp.id;
    let url = client.account_url(&format!("sis_imports/{id}/abort"));
    match client.put(&format!("PUT abort import {id}"), &url).await {
        Ok(_) => {
            warn!(
                target: "canvas_sis",
                import_id = id,
                "this Canvas does not support the file-upload flow: it created import {id} without a file (no pre_attachment in its answer); aborted import {id}, falling back to the direct upload"
            );
            Ok(FileUploadOutcome::NotSupported { aborted: Some(id) })
        }
        Err(e) if e.last.status() == Some(404) => {
            // §2.5: 404 means it already finished (an empty import ends at once).
            warn!(
                target: "canvas_sis",
                import_id = id,
                "this Canvas does not support the file-upload flow: it created import {id} without a file, which has already finished (nothing to abort); falling back to the direct upload"
            );
            Ok(FileUploadOutcome::NotSupported { aborted: None })
        }
        Err(e) => Err(Failure::new(
            Exit::Unavailable,
            format!(
                "this Canvas does not support the file-upload flow: it created import {id} without a file, and aborting it failed: {}",
                e.last
            ),
        )
        .kind("file_upload_failed")
        .hint(format!(
            "abort it with `canvas-sis abort {id} --yes`, then submit again with --upload-mode direct"
        ))),
    }
}

/// After a failed step 2/3: if the import still waits for its file, abort it so it does not
/// linger in `initializing`; if Canvas has it (the answer was lost after the upload), say so.
async fn after_failed_upload(client: &Client, id: u64, f: Failure) -> Failure {
    match client.show(id).await {
        Ok(imp) if imp.state == State::Initializing => {
            abort_quietly(client, id, "its upload failed").await;
            f.hint(format!(
                "import {id} was aborted; nothing will be imported. Submit again when the upload host is reachable"
            ))
        }
        Ok(imp) => f.hint(format!(
            "Canvas shows import {id} as {} nonetheless, so the file may have arrived: `canvas-sis watch {id}`",
            imp.state_str()
        )),
        Err(_) => f.hint(format!(
            "import {id} may be left in `initializing`; check `canvas-sis status {id}` and abort it"
        )),
    }
}

/// After an interrupted file upload: abort import `id` if it still waits for its file
/// (`initializing`). Returns true when it was aborted; false when the file had arrived (the
/// import runs: watch it) or Canvas could not be asked.
pub async fn abort_waiting(client: &Client, id: u64) -> bool {
    match client.show(id).await {
        Ok(imp) if imp.state == State::Initializing => {
            let url = client.account_url(&format!("sis_imports/{id}/abort"));
            match client.put(&format!("PUT abort import {id}"), &url).await {
                Ok(_) => {
                    warn!(target: "canvas_sis", import_id = id, "aborted import {id}: its upload was interrupted");
                    true
                }
                Err(e) => {
                    warn!(target: "canvas_sis", import_id = id, "could not abort import {id} after the interrupted upload: {}; abort it with `canvas-sis abort {id} --yes`", e.last);
                    false
                }
            }
        }
        Ok(_) => false,
        Err(e) => {
            warn!(target: "canvas_sis", import_id = id, "could not check import {id} after the interrupted upload: {e}; it may wait in `initializing`: `canvas-sis status {id}`");
            false
        }
    }
}

async fn abort_quietly(client: &Client, id: u64, why: &str) {
    let url = client.account_url(&format!("sis_imports/{id}/abort"));
    match client.put(&format!("PUT abort import {id}"), &url).await {
        Ok(_) => warn!(target: "canvas_sis", import_id = id, "aborted import {id}: {why}"),
        Err(e) => {
            warn!(target: "canvas_sis", import_id = id, "could not abort import {id} ({why}): {}", e.last)
        }
    }
}

/// Form fields are text; Canvas sends strings, but accept numbers and booleans.
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One multipart POST of the file to the upload host.
async fn upload_once(
    http: &UploadHttp,
    url: &Url,
    params: &[(String, String)],
    file_param: &str,
    bundle: &Bundle,
    sent: &Arc<AtomicU64>,
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
) -> std::result::Result<(StatusCode, HeaderMap), HttpError> {
    let shown = origin_of(url);
    sent.store(0, Ordering::Relaxed);
    let transport =
        |connect: bool, timeout: bool, body_sent: bool, detail: String| HttpError::Transport {
            url: shown.clone(),
            connect,
            timeout,
            body_sent,
            detail,
            unreachable: None,
        };
    let file = std::fs::File::open(&bundle.path).map_err(|e| {
        transport(
            true,
            false,
            false,
            format!("cannot open {}: {e}", bundle.path.display()),
        )
    })?;
    let counter = sent.clone();
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024)
            .map(move |chunk| {
                if let Ok(c) = &chunk {
                    let n = c.len() as u64;
                    let total = counter.fetch_add(n, Ordering::Relaxed) + n;
                    if let Some(f) = &on_chunk {
                        f(total);
                    }
                }
                chunk
            });
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), bundle.len)
        .file_name(bundle.name.clone())
        .mime_str(bundle.content_type())
        .expect("a valid MIME type");
    let mut form = Form::new();
    for (k, v) in params {
        form = form.text(k.clone(), v.clone());
    }
    let form = form.part(file_param.to_string(), part);
    let resp = http
        .http
        .post(url.clone())
        .timeout(upload_timeout(bundle.len, http.read_timeout))
        .multipart(form)
        .send()
        .await
        .map_err(|e| {
            let body_sent = sent.load(Ordering::Relaxed) > 0;
            super::net::from_reqwest(&shown, url, e, body_sent)
        })?;
    let (status, headers, body) = answer(resp).await;
    if status.is_success() || status.is_redirection() {
        return Ok((status, headers));
    }
    Err(status_error(&shown, status, &headers, &body))
}

fn status_error(url: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> HttpError {
    let json = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    let text = String::from_utf8_lossy(body);
    let code = status.as_u16();
    HttpError::Status {
        url: url.to_string(),
        status: code,
        throttled: code == 429 || (code == 403 && text.contains("Rate Limit Exceeded")),
        json,
        message: if json {
            canvas_message(body)
        } else {
            body_start(body)
        },
        retry_after: headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after),
    }
}

/// The `Location` of a step-2 answer, resolved against the upload URL.
fn location(headers: &HeaderMap, base: &Url) -> Option<Url> {
    let v = headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
    base.join(v.trim()).ok()
}

/// Step 3: GET the Location, with the token only on the Canvas origin.
async fn confirm(client: &Client, http: &UploadHttp, loc: &Url) -> std::result::Result<(), String> {
    if loc.origin() == client.base().origin() {
        return client
            .retry
            .run("file-upload step 3 (confirm)", || {
                client.exchange(Method::GET, loc, &Body::Empty)
            })
            .await
            .map(|_| ())
            .map_err(|e| e.last.to_string());
    }
    crate::settings::check_base_url(loc.as_str()).map_err(|e| format!("not followed: {e}"))?;
    let resp = http
        .http
        .get(loc.clone())
        .timeout(http.read_timeout)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let (status, headers, body) = answer(resp).await;
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(status_error(&origin_of(loc), status, &headers, &body).to_string())
    }
}

/// Upload URLs carry signatures in their query: show only the origin and path.
fn origin_of(u: &Url) -> String {
    format!("{}{}", u.origin().ascii_serialization(), u.path())
}

fn origin_of_str(s: &str) -> String {
    Url::parse(s)
        .map(|u| origin_of(&u))
        .unwrap_or_else(|_| "an unparsable URL".into())
}

/// A [`Client`] for tests and benchmarks, without a config file or command line.
#[doc(hidden)]
pub fn client_for_tests(base_url: &str, token: &str, account: &str) -> Result<Client> {
    use crate::settings::{Network, Source, Sourced};
    let base = crate::settings::check_base_url(base_url).map_err(Failure::config)?;
    let net = Network {
        base,
        account: account.to_string(),
        token: secrecy::SecretString::from(token.to_string()),
    };
    let c = Connection {
        base_url: Some(Sourced {
            value: base_url.to_string(),
            source: Source::Default,
        }),
        account_id: Sourced {
            value: account.to_string(),
            source: Source::Default,
        },
        token: None,
        ca_cert: None,
        retry_budget: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(60),
        dropped_token: None,
    };
    Client::new(&net, &c)
}

/// Status, headers and (at most `MAX_ANSWER` bytes of) body of an upload-host answer.
async fn answer(
    resp: reqwest::Response,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = crate::canvas::client::read_capped(resp, MAX_ANSWER)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    (status, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_by_size() {
        let t = AUTO_THRESHOLD;
        // The settings table's default is this threshold.
        let d = crate::settings::table::def("import.file_upload_threshold");
        assert_eq!(
            d.kind.parse(d.default.unwrap()),
            Ok(crate::settings::table::Value::Size(t))
        );
        assert_eq!(choose_mode(UploadMode::Auto, t - 1, t), Mode::Direct);
        assert_eq!(choose_mode(UploadMode::Auto, t, t), Mode::FileUpload);
        assert_eq!(choose_mode(UploadMode::Direct, 10 * t, t), Mode::Direct);
        assert_eq!(choose_mode(UploadMode::FileUpload, 1, t), Mode::FileUpload);
    }

    #[test]
    fn warning_only_past_the_limit() {
        assert!(direct_upload_warning(AUTO_THRESHOLD).is_none());
        assert!(direct_upload_warning(299_000_000).is_none());
        let w = direct_upload_warning(1_000_000_000).expect("1 GB warns");
        assert!(w.contains("--upload-mode file-upload"), "{w}");
        assert!(w.contains("1.0 GB"), "{w}");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(104_857_600), "104.9 MB");
    }

    #[test]
    fn location_is_resolved() {
        let base = Url::parse("https://files.example/upload/x?sig=1").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LOCATION,
            "/api/v1/files/9/create_success".parse().unwrap(),
        );
        assert_eq!(
            location(&h, &base).unwrap().as_str(),
            "https://files.example/api/v1/files/9/create_success"
        );
        assert_eq!(origin_of(&base), "https://files.example/upload/x");
    }
}
