//! HTTP side: a custom accept loop (so a handler can drop its TCP connection without any
//! response), request recording, routing and the endpoint handlers of §2.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, BodyDataStream};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::Service;

use crate::content::{self, ScanResult};
use crate::process::StoredUpload;
use crate::state::{self, FileRef, Shared, default_options};
use crate::{RecordedRequest, Scenario};

/// Per-connection kill switch, handed to handlers as a request extension.
#[derive(Clone)]
struct Kill(Arc<Notify>);

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    listener: &'static str,
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    api: std::net::TcpListener,
    files: std::net::TcpListener,
    stop: watch::Receiver<bool>,
) {
    let (api, files) = match (TcpListener::from_std(api), TcpListener::from_std(files)) {
        (Ok(a), Ok(f)) => (a, f),
        _ => return,
    };
    let api_router = Router::new().fallback(entry).with_state(App {
        shared: shared.clone(),
        listener: "api",
    });
    let files_router = Router::new().fallback(entry).with_state(App {
        shared,
        listener: "files",
    });
    let mut stop_main = stop.clone();
    tokio::select! {
        _ = accept_loop(api, api_router, stop.clone()) => {}
        _ = accept_loop(files, files_router, stop.clone()) => {}
        _ = stop_main.wait_for(|v| *v) => {}
    }
}

async fn accept_loop(listener: TcpListener, router: Router, stop: watch::Receiver<bool>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let k2 = kill.clone();
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(Kill(k2.clone()));
                let mut r = router.clone();
                async move { r.call(req.map(Body::new)).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                // Dropping the connection future closes the socket with no response.
                _ = kill.notified() => {}
                _ = stop.wait_for(|v| *v) => {}
            }
        });
    }
}

/// Hashes the request body as it is read, and writes length and digest into the record.
struct Hashing {
    inner: BodyDataStream,
    hasher: Option<Sha256>,
    len: u64,
    shared: Arc<Shared>,
    idx: usize,
}

impl Hashing {
    fn finalize(&mut self) {
        if let Some(h) = self.hasher.take() {
            let hex = hex::encode(h.finalize());
            let mut reqs = self.shared.requests.lock().unwrap();
            if let Some(r) = reqs.get_mut(self.idx) {
                r.body_len = self.len;
                r.body_sha256 = hex;
            }
        }
    }
}

impl Drop for Hashing {
    // A body that is dropped unfinished (e.g. after multipart's closing boundary) still
    // records what was read.
    fn drop(&mut self) {
        self.finalize();
    }
}

impl Stream for Hashing {
    type Item = Result<Bytes, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.len += b.len() as u64;
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&b);
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) => {
                self.finalize();
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

async fn drain(body: Body) {
    let mut s = body.into_data_stream();
    while let Some(Ok(_)) = s.next().await {}
}

async fn read_small(body: Body, limit: usize) -> Vec<u8> {
    let mut s = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(Ok(b)) = s.next().await {
        if out.len() < limit {
            out.extend_from_slice(&b);
        }
    }
    out
}

async fn entry(State(app): State<App>, req: Request) -> Response {
    let kill = req.extensions().get::<Kill>().cloned();
    let (parts, body) = req.into_parts();
    let idx = {
        let mut reqs = app.shared.requests.lock().unwrap();
        reqs.push(RecordedRequest {
            listener: app.listener,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body_len: 0,
            body_sha256: hex::encode(Sha256::digest(b"")),
            at: SystemTime::now(),
            status: 0,
        });
        reqs.len() - 1
    };
    let body = Body::from_stream(Hashing {
        inner: body.into_data_stream(),
        hasher: Some(Sha256::new()),
        len: 0,
        shared: app.shared.clone(),
        idx,
    });
    let mut body = Some(body);
    let resp = if app.listener == "api" {
        api(&app, &parts, &mut body, kill).await
    } else {
        files(&app, &parts, &mut body).await
    };
    if let Some(b) = body.take() {
        drain(b).await;
    }
    if let Some(r) = app.shared.requests.lock().unwrap().get_mut(idx) {
        r.status = resp.status().as_u16();
    }
    resp
}

// ---------------------------------------------------------------- responses

fn json_resp(status: u16, v: &Value) -> Response {
    raw_resp(
        status,
        "application/json; charset=utf-8",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn raw_resp(status: u16, ctype: &str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_str(ctype).unwrap());
    r
}

/// §7.1: record not found.
fn not_found() -> Response {
    json_resp(
        404,
        &json!({"errors":[{"message":"The specified resource does not exist."}]}),
    )
}

/// §7.1: unhandled exception.
fn internal_error(report: u64) -> Response {
    json_resp(
        500,
        &json!({"errors":[{"message":"An error occurred.","error_code":"internal_server_error"}],
                "error_report_id": report}),
    )
}

fn www_auth(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"canvas-lms\""),
    );
    r
}

/// §7.1: no credentials at all.
fn unauthenticated() -> Response {
    www_auth(json_resp(
        401,
        &json!({"status":"unauthenticated","errors":[{"message":"user authorization required"}]}),
    ))
}

/// §7.1: bad or unknown token.
fn invalid_token() -> Response {
    www_auth(json_resp(
        401,
        &json!({"errors":[{"message":"Invalid access token."}]}),
    ))
}

/// §7.2: the throttled answer.
fn throttled(status: u16) -> Response {
    let text = if status == 429 {
        "429 Too Many Requests (Rate Limit Exceeded)\n"
    } else {
        "403 Forbidden (Rate Limit Exceeded)\n"
    };
    let mut r = raw_resp(status, "text/plain; charset=utf-8", text);
    r.headers_mut()
        .insert("x-rate-limit-remaining", HeaderValue::from_static("0.0"));
    if status == 429 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn gateway_error(status: u16) -> Response {
    let reason = match status {
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Gateway Time-out",
    };
    raw_resp(
        status,
        "text/html",
        format!(
            "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ),
    )
}

fn maintenance_page() -> Response {
    raw_resp(
        200,
        "text/html; charset=utf-8",
        "<!DOCTYPE html>\n<html><head><title>Canvas is down for maintenance</title></head>\n<body><h1>Canvas is undergoing scheduled maintenance</h1>\n<p>We'll be back shortly. Thank you for your patience.</p></body></html>\n",
    )
}

// ---------------------------------------------------------------- params

/// Query (and form) parameters, decoded, in order.
#[derive(Clone, Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(q: Option<&str>) -> Self {
        Params(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    /// Rails: the last value of a scalar key wins.
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(n, _)| n == k)
    }
    /// Present and not blank.
    fn present(&self, k: &str) -> Option<&str> {
        self.get(k).filter(|v| !v.trim().is_empty())
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn bool(&self, k: &str) -> bool {
        self.get(k).is_some_and(value_to_boolean)
    }
    fn extend_json(&mut self, prefix: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}[{k}]")
                    };
                    self.extend_json(&key, v);
                }
            }
            Value::Null => {}
            Value::String(s) => self.0.push((prefix.into(), s.clone())),
            other => self.0.push((prefix.into(), other.to_string())),
        }
    }
}

pub(crate) use crate::wire::value_to_boolean;

fn ruby_to_i(v: &str) -> i64 {
    let t = v.trim();
    let (neg, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let d: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n = d.parse::<i64>().unwrap_or(0);
    if neg { -n } else { n }
}

fn media_type(h: &HeaderMap) -> (String, Option<String>) {
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut it = ct.split(';');
    let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
    let mut charset = None;
    for p in it {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("charset")
        {
            charset = Some(v.trim().trim_matches('"').to_string());
        }
    }
    (mt, charset)
}

enum Auth {
    Valid,
    Missing,
    Invalid,
}

/// §7.1: Bearer header or `access_token` query parameter.
fn auth(app: &App, parts: &Parts, q: &Params) -> Auth {
    let token = &app.shared.cfg.token;
    if let Some(h) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let h = h.trim();
        if h.len() > 7 && h[..7].eq_ignore_ascii_case("bearer ") {
            return if h[7..].trim() == token {
                Auth::Valid
            } else {
                Auth::Invalid
            };
        }
    }
    match q.get("access_token") {
        Some(t) if t == token => Auth::Valid,
        Some(_) => Auth::Invalid,
        None => Auth::Missing,
    }
}

fn decode_seg(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// §1.4: the accounts of this fake Canvas.
fn account(id: &str) -> Option<u64> {
    match id {
        "1" | "self" | "sis_account_id:root" => Some(1),
        "2" | "sis_account_id:sub" => Some(2),
        "3" | "sis_account_id:nosis" => Some(3),
        _ => None,
    }
}

/// §1.4 check_account.
fn check_account(acct: u64) -> Option<Response> {
    match acct {
        2 => Some(json_resp(
            400,
            &json!({"errors":["SIS imports can only be executed on root accounts"]}),
        )),
        3 => Some(json_resp(
            403,
            &json!({"errors":["SIS imports are not enabled for this account"]}),
        )),
        _ => None,
    }
}

fn account_json(id: u64) -> Value {
    let (name, parent, root, sis) = match id {
        1 => ("Fake University", Value::Null, Value::Null, "root"),
        2 => ("Fake Sub-Account", json!(1), json!(1), "sub"),
        _ => (
            "Fake College (SIS disabled)",
            Value::Null,
            Value::Null,
            "nosis",
        ),
    };
    json!({"id": id, "name": name, "uuid": format!("fake-account-uuid-{id}"),
           "parent_account_id": parent, "root_account_id": root,
           "workflow_state": "active", "default_time_zone": "Etc/UTC",
           "default_storage_quota_mb": 500, "default_user_storage_quota_mb": 50,
           "default_group_storage_quota_mb": 50, "sis_account_id": sis,
           "integration_id": null, "sis_import_id": null, "lti_guid": null})
}

/// §2.1: an active term of the root account (`api_find` on
/// `@account.enrollment_terms.active`, app/controllers/sis_imports_api_controller.rb): by
/// Canvas id or `sis_term_id:`, terms made by imports included; `default`, `current` and
/// `sis_term_id:default` name the default term.
fn term(shared: &Shared, id: &str) -> Option<u64> {
    let id = id.trim();
    if matches!(id, "default" | "current" | "sis_term_id:default") {
        return Some(crate::store::DEFAULT_TERM);
    }
    let inner = shared.inner.lock().unwrap();
    inner
        .store
        .find_term(id)
        .filter(|t| t.state == "active")
        .map(|t| t.id)
}

// ---------------------------------------------------------------- routing

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Route {
    UsersSelf,
    Account,
    Progress,
    FileDownload,
    List,
    Create,
    Importing,
    AbortAll,
    Show,
    Abort,
    Restore,
    Errors,
    AccountErrors,
    ReportCreate,
    ReportIndex,
    ReportShow,
    AccountFile,
    Term,
}

fn classify(method: &Method, segs: &[String]) -> Option<Route> {
    let s: Vec<&str> = segs.iter().map(|s| s.as_str()).collect();
    let m = method.as_str();
    let r = match (m, s.as_slice()) {
        ("GET", ["api", "v1", "users", "self"]) => Route::UsersSelf,
        ("GET", ["api", "v1", "accounts", _]) => Route::Account,
        ("GET", ["api", "v1", "progress", _]) => Route::Progress,
        ("GET", ["files", _, "download"]) => Route::FileDownload,
        ("GET", ["api", "v1", "accounts", _, "sis_imports"]) => Route::List,
        ("POST", ["api", "v1", "accounts", _, "sis_imports"]) => Route::Create,
        ("GET", ["api", "v1", "accounts", _, "sis_imports", "importing"]) => Route::Importing,
        (
            "PUT",
            [
                "api",
                "v1",
                "accounts",
                _,
                "sis_imports",
                "abort_all_pending",
            ],
        ) => Route::AbortAll,
        ("GET", ["api", "v1", "accounts", _, "sis_imports", _]) => Route::Show,
        ("PUT", ["api", "v1", "accounts", _, "sis_imports", _, "abort"]) => Route::Abort,
        (
            "PUT",
            [
                "api",
                "v1",
                "accounts",
                _,
                "sis_imports",
                _,
                "restore_states",
            ],
        ) => Route::Restore,
        ("GET", ["api", "v1", "accounts", _, "sis_imports", _, "errors"]) => Route::Errors,
        ("GET", ["api", "v1", "accounts", _, "sis_import_errors"]) => Route::AccountErrors,
        ("POST", ["api", "v1", "accounts", _, "reports", _]) => Route::ReportCreate,
        ("GET", ["api", "v1", "accounts", _, "reports", _]) => Route::ReportIndex,
        ("GET", ["api", "v1", "accounts", _, "reports", _, _]) => Route::ReportShow,
        ("GET", ["accounts", _, "files", _, "download"]) => Route::AccountFile,
        ("GET", ["api", "v1", "accounts", _, "terms", _]) => Route::Term,
        _ => return None,
    };
    Some(r)
}

async fn api(app: &App, parts: &Parts, body: &mut Option<Body>, kill: Option<Kill>) -> Response {
    let shared = &app.shared;
    let scenario = shared.cfg.scenario;
    let mut segs: Vec<String> = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(decode_seg)
        .collect();
    // §2: a `.json` suffix on the path is accepted.
    if let Some(last) = segs.last_mut()
        && let Some(stripped) = last.strip_suffix(".json")
    {
        *last = stripped.to_string();
    }
    let route = classify(&parts.method, &segs);
    let q = Params::parse(parts.uri.query());

    // §7.2: throttling comes first, before authentication.
    let cost = if scenario == Scenario::RateLimitDecreasing {
        150.0
    } else {
        REQUEST_COST
    };
    let (mut throttle, mut remaining) = {
        let mut inner = shared.inner.lock().unwrap();
        let (t, rem) = inner.charge(cost);
        let fault = match scenario {
            Scenario::Throttled403 => inner.take_fault("throttle").map(|_| 403),
            Scenario::Throttled429 => inner.take_fault("throttle").map(|_| 429),
            _ => None,
        };
        (if t { Some(403) } else { fault }, rem)
    };
    if scenario == Scenario::RateLimitDecreasing && throttle.is_none() && remaining < 1.0 {
        throttle = Some(403);
    }
    if let Some(st) = throttle {
        return throttled(st);
    }
    // §7.2 (app/middleware/request_throttle.rb, `reserve_capacity(up_front_cost)`): every
    // request in flight holds 50 units of the bucket until it ends, so a client with others
    // in flight reads that much less. Sequential clients (every test but the concurrent
    // ones) never see it; `rate-limit-decreasing` keeps its fixed steps.
    let _reserved = {
        let mut inner = shared.inner.lock().unwrap();
        if scenario != Scenario::RateLimitDecreasing {
            remaining = (remaining - UP_FRONT_COST * inner.in_flight as f64).max(0.0);
        }
        inner.in_flight += 1;
        InFlight(shared.clone())
    };
    if scenario == Scenario::Flaky5xx {
        let key = format!("flaky:{route:?}");
        if let Some(n) = shared.inner.lock().unwrap().take_fault(&key) {
            return gateway_error([502, 503, 504][n as usize % 3]);
        }
    }
    if scenario == Scenario::Unavailable503BeforeCreate
        && route == Some(Route::Create)
        && shared.inner.lock().unwrap().take_fault("503").is_some()
    {
        return gateway_error(503);
    }

    let au = auth(app, parts, &q);
    if matches!(au, Auth::Invalid) {
        return invalid_token();
    }
    let authed = matches!(au, Auth::Valid);
    let Some(route) = route else {
        return if authed {
            with_rate_cost(not_found(), remaining, cost)
        } else {
            unauthenticated()
        };
    };
    let resp = handle(app, parts, body, kill, route, &segs, &q, authed).await;
    if authed {
        with_rate_cost(resp, remaining, cost)
    } else {
        resp
    }
}

/// What each request costs the bucket here. Canvas charges a request's CPU and database
/// seconds (§7.2, `RequestThrottle#calculate_cost`), typically 0.01–5; a constant is this
/// simulator's choice, so that tests read the same headers every run. With the bucket
/// leaking 10 a second, a sequential client reads about 600 remaining, as on a real Canvas.
const REQUEST_COST: f64 = 0.05;
/// §7.2: the reservation of a request in flight (`up_front_cost`, default 50).
const UP_FRONT_COST: f64 = 50.0;

/// A request's up-front reservation, released when the request ends (or is dropped).
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.0.inner.lock() {
            inner.in_flight = inner.in_flight.saturating_sub(1);
        }
    }
}

/// §7.2: `X-Request-Cost` (what this request was charged) and `X-Rate-Limit-Remaining`
/// (`RequestThrottle#call`) on authenticated responses.
fn with_rate_cost(mut r: Response, remaining: f64, cost: f64) -> Response {
    let h = r.headers_mut();
    if !h.contains_key("x-rate-limit-remaining") {
        if let Ok(v) = HeaderValue::from_str(&cost.to_string()) {
            h.insert("x-request-cost", v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("{remaining:.1}")) {
            h.insert("x-rate-limit-remaining", v);
        }
    }
    r
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    app: &App,
    parts: &Parts,
    body: &mut Option<Body>,
    kill: Option<Kill>,
    route: Route,
    segs: &[String],
    q: &Params,
    authed: bool,
) -> Response {
    let shared = &app.shared;
    match route {
        Route::UsersSelf | Route::Account | Route::Progress if !authed => unauthenticated(),
        Route::ReportCreate | Route::ReportIndex | Route::ReportShow | Route::AccountFile
            if !authed =>
        {
            unauthenticated()
        }
        Route::ReportCreate | Route::ReportIndex | Route::ReportShow => {
            reports(app, parts, body, route, segs, q).await
        }
        Route::AccountFile => {
            // `account_file_download_url` (a report's `file_url`): to the files host.
            let id: u64 = segs[3].parse().unwrap_or(0);
            let known = shared.inner.lock().unwrap().files.contains_key(&id);
            if account(&segs[1]) != Some(1) || !known {
                return not_found();
            }
            let loc = format!(
                "{}/files/{id}/download?download_frd=1&verifier={}",
                shared.files_url,
                state::verifier(id)
            );
            let mut r = raw_resp(302, "text/html; charset=utf-8", "");
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_str(&loc).unwrap());
            r
        }
        // `UsersController#api_show` (app/controllers/users_controller.rb, `user_json` of
        // lib/api/v1/user.rb) for the token's admin; the values are this fake's.
        Route::UsersSelf => json_resp(
            200,
            &json!({"id":1,"name":"Sandbox Admin","sortable_name":"Admin, Sandbox",
                    "last_name":"Admin","first_name":"Sandbox","short_name":"Sandbox Admin",
                    "sis_user_id":"admin","integration_id":null,"login_id":"admin@example.edu",
                    "avatar_url":null,"created_at":"2020-01-01T00:00:00Z",
                    "locale":null,"effective_locale":"en","permissions":{}}),
        ),
        // `AccountsController#show` (app/controllers/accounts_controller.rb, `account_json`
        // of lib/api/v1/account.rb); the values are this fake's.
        Route::Account => match account(&segs[3]) {
            Some(id) => json_resp(200, &account_json(id)),
            None => not_found(),
        },
        // `TermsApiController#show` (app/controllers/terms_api_controller.rb): `api_find` of
        // the account's terms (a Canvas id, `sis_term_id:X`, `default`, `current`), rendered
        // by `enrollment_term_json` (lib/api/v1/enrollment_term.rb) with its overrides.
        Route::Term => {
            if account(&segs[3]).is_none() {
                return not_found();
            }
            let id = segs[5].trim();
            let want = if matches!(id, "default" | "current") {
                Some(crate::store::DEFAULT_TERM)
            } else {
                shared
                    .inner
                    .lock()
                    .unwrap()
                    .store
                    .find_term(id)
                    .map(|t| t.id)
            };
            let inner = shared.inner.lock().unwrap();
            match want.and_then(|t| inner.store.term(t)) {
                Some(t) => json_resp(
                    200,
                    &json!({
                        "id": t.id,
                        "name": t.name,
                        "start_at": t.start.map(|x| x.to_string()),
                        "end_at": t.end.map(|x| x.to_string()),
                        "created_at": "2026-01-01T00:00:00Z",
                        "workflow_state": t.state,
                        "grading_period_group_id": null,
                        "sis_term_id": t.sis,
                        "sis_import_id": t.batch,
                        "overrides": {},
                    }),
                ),
                None => not_found(),
            }
        }
        Route::Progress => {
            let id: u64 = segs[3].parse().unwrap_or(0);
            let mut inner = shared.inner.lock().unwrap();
            match inner.progresses.iter().position(|p| p.id == id) {
                Some(pi) => {
                    // A unit of time for the restore job (state.rs `poll_progress`).
                    inner.poll_progress(pi);
                    json_resp(200, &inner.progresses[pi].json(&origin(shared, parts)))
                }
                None => not_found(),
            }
        }
        // `FilesController#show` with `download_frd` (app/controllers/files_controller.rb):
        // Canvas redirects a download to the files domain (`safer_domain_url`), which
        // serves it with the verifier; here the files host is the second listener.
        Route::FileDownload => {
            let id: u64 = segs[1].parse().unwrap_or(0);
            let known = shared.inner.lock().unwrap().files.contains_key(&id);
            if !known {
                return not_found();
            }
            let v = q.get("verifier").map(str::to_owned);
            if v.is_none() && !authed {
                return unauthenticated();
            }
            let v = v.unwrap_or_else(|| state::verifier(id));
            let loc = format!("{}/files/{id}/download?verifier={v}", shared.files_url);
            let mut r = raw_resp(302, "text/html; charset=utf-8", "");
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_str(&loc).unwrap());
            r
        }
        _ => {
            // sis_imports endpoints: account lookup and check_account before the
            // permission check (§1.4, §7.1 note on order).
            let Some(acct) = account(&segs[3]) else {
                return not_found();
            };
            if let Some(r) = check_account(acct) {
                return r;
            }
            if !authed {
                return unauthenticated();
            }
            sis(app, parts, body, kill, route, segs, q).await
        }
    }
}

async fn sis(
    app: &App,
    parts: &Parts,
    body: &mut Option<Body>,
    kill: Option<Kill>,
    route: Route,
    segs: &[String],
    q: &Params,
) -> Response {
    let shared = &app.shared;
    let scenario = shared.cfg.scenario;
    let files_url = &shared.files_url;
    match route {
        Route::Create => create(app, parts, body, kill, q).await,
        Route::List => list(app, parts, q),
        Route::Importing => {
            // §2.3: wrapper, only importing/cleanup_batch, not paginated. The read is a
            // unit of time for the account's jobs first (state.rs `tick`).
            let mut inner = shared.inner.lock().unwrap();
            inner.tick();
            let v: Vec<Value> = inner
                .batches
                .iter()
                .filter(|b| b.state == "importing" || b.state == "cleanup_batch")
                .map(|b| b.json(files_url))
                .collect();
            json_resp(200, &json!({ "sis_imports": v }))
        }
        Route::AbortAll => {
            // §2.6.
            shared.inner.lock().unwrap().abort_all_pending();
            json_resp(200, &json!({"aborted": true}))
        }
        Route::Show => {
            let Some(id) = segs[5].parse::<u64>().ok() else {
                return not_found();
            };
            let fault = match scenario {
                Scenario::Hang | Scenario::TruncatedJson | Scenario::Html200 => {
                    shared.inner.lock().unwrap().take_fault("show").is_some()
                }
                _ => false,
            };
            if fault && scenario == Scenario::Hang {
                tokio::time::sleep(shared.cfg.hang_for).await;
            }
            let mut inner = shared.inner.lock().unwrap();
            let Some(idx) = inner.find(id) else {
                return not_found();
            };
            if fault && scenario == Scenario::Html200 {
                return maintenance_page();
            }
            if fault && scenario == Scenario::TruncatedJson {
                let full = serde_json::to_vec(&inner.batches[idx].json(files_url)).unwrap();
                let half = full[..full.len() / 2].to_vec();
                return raw_resp(200, "application/json; charset=utf-8", half);
            }
            // A unit of time for this import's jobs (state.rs `poll`, `tick`: Canvas runs
            // them on its own; here reads are the clock).
            inner.poll(idx);
            json_resp(200, &inner.batches[idx].json(files_url))
        }
        Route::Abort => {
            let Some(id) = segs[5].parse::<u64>().ok() else {
                return not_found();
            };
            let mut inner = shared.inner.lock().unwrap();
            let Some(idx) = inner.find(id) else {
                return not_found();
            };
            // §2.5: abort of a finished batch is 404.
            if !inner.abort(idx) {
                return not_found();
            }
            json_resp(200, &inner.batches[idx].json(files_url))
        }
        Route::Restore => {
            let Some(id) = segs[5].parse::<u64>().ok() else {
                return not_found();
            };
            let mut p = q.clone();
            if let Some(b) = body.take() {
                let bytes = read_small(b, 1 << 20).await;
                merge_body_params(parts, &bytes, &mut p);
            }
            let (bm, ud, uc) = (
                p.bool("batch_mode"),
                p.bool("undelete_only"),
                p.bool("unconclude_only"),
            );
            let mut inner = shared.inner.lock().unwrap();
            let Some(idx) = inner.find(id) else {
                return not_found();
            };
            if ud && uc {
                // §2.7: a bare JSON string.
                return json_resp(
                    400,
                    &json!("cannot set both undelete_only and unconclude_only"),
                );
            }
            let pi = inner.restore(
                idx,
                state::RestoreFlags {
                    batch_mode: bm,
                    undelete_only: ud,
                    unconclude_only: uc,
                },
            );
            json_resp(200, &inner.progresses[pi].json(&origin(shared, parts)))
        }
        Route::Errors | Route::AccountErrors => errors(app, parts, route, segs, q),
        _ => not_found(),
    }
}

/// The provisioning report endpoints (app/controllers/account_reports_controller.rb):
/// `create` answers the new Report (`created`, progress 0) and runs it; `show` polls one
/// (each GET moves it a step, state.rs `poll_report`); `index` lists that report type's,
/// newest first. Only `provisioning_csv`, on the root account, exists in this fake: any
/// other report type is Canvas's 404 for a report it does not offer.
async fn reports(
    app: &App,
    parts: &Parts,
    body: &mut Option<Body>,
    route: Route,
    segs: &[String],
    q: &Params,
) -> Response {
    let shared = &app.shared;
    if account(&segs[3]) != Some(1) || segs[5] != "provisioning_csv" {
        return not_found();
    }
    let api = origin(shared, parts);
    match route {
        Route::ReportCreate => {
            // `params[:parameters]` from the query, a form, a JSON body or multipart fields.
            let mut p = q.clone();
            if let Some(b) = body.take() {
                let (mt, _) = media_type(&parts.headers);
                if mt == "multipart/form-data" {
                    let _ = read_multipart(shared, parts, b, "", &mut p).await;
                } else {
                    let bytes = read_small(b, 1 << 20).await;
                    merge_body_params(parts, &bytes, &mut p);
                }
            }
            let mut params = serde_json::Map::new();
            for (k, v) in &p.0 {
                if let Some(name) = k
                    .strip_prefix("parameters[")
                    .and_then(|r| r.strip_suffix(']'))
                {
                    params.insert(name.to_string(), json!(v));
                }
            }
            let mut inner = shared.inner.lock().unwrap();
            let ri = inner.create_report(params);
            json_resp(200, &inner.reports[ri].json(&api, &shared.files_url))
        }
        Route::ReportShow => {
            let id: u64 = segs[6].parse().unwrap_or(0);
            let mut inner = shared.inner.lock().unwrap();
            let Some(ri) = inner.reports.iter().position(|r| r.id == id) else {
                return not_found();
            };
            inner.poll_report(ri);
            json_resp(200, &inner.reports[ri].json(&api, &shared.files_url))
        }
        _ => {
            let (page, per) = paging(q);
            let inner = shared.inner.lock().unwrap();
            let all: Vec<Value> = inner
                .reports
                .iter()
                .rev()
                .map(|r| r.json(&api, &shared.files_url))
                .collect();
            let start = ((page - 1) * per) as usize;
            let items: Vec<Value> = all.iter().skip(start).take(per as usize).cloned().collect();
            let has_next = all.len() > start + per as usize;
            let link = link_header(app, parts, q, page, per, has_next, None);
            let mut r = json_resp(200, &Value::Array(items));
            r.headers_mut()
                .insert(header::LINK, HeaderValue::from_str(&link).unwrap());
            r
        }
    }
}

fn merge_body_params(parts: &Parts, bytes: &[u8], p: &mut Params) {
    let (mt, _) = media_type(&parts.headers);
    if mt == "application/json" {
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            p.extend_json("", &v);
        }
    } else if mt == "application/x-www-form-urlencoded" {
        for (k, v) in form_urlencoded::parse(bytes) {
            p.0.push((k.into_owned(), v.into_owned()));
        }
    }
}

// ---------------------------------------------------------------- request origin

/// The scheme and host the client used, for the URLs this API hands back (Link headers,
/// Progress `url`). Canvas builds them with Rails URL helpers, which take both from the
/// request: `api_v1_account_sis_imports_url` in app/controllers/sis_imports_api_controller.rb
/// for `Api.paginate` (lib/api.rb), and `polymorphic_url([:api_v1, progress])` in
/// lib/api/v1/progress.rb. So a client that came in as `http://localhost:PORT` is sent
/// back there, not to the bind address. The scheme is the request URI's (absolute form),
/// else `X-Forwarded-Proto` (which Rails trusts), else http; the host is the `Host`
/// header (or the URI's authority). A missing or malformed host falls back to the bind
/// address.
fn origin(shared: &Shared, parts: &Parts) -> String {
    let scheme = parts
        .uri
        .scheme_str()
        .map(str::to_ascii_lowercase)
        .or_else(|| {
            parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_ascii_lowercase())
        })
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| "http".into());
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(|h| h.trim().to_string())
        })
        .filter(|h| {
            !h.is_empty()
                && !h.contains('@')
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    match host {
        Some(h) => format!("{scheme}://{h}"),
        None => shared.api_url.clone(),
    }
}

// ---------------------------------------------------------------- pagination

/// §7.4: page/per_page parsing (default 10, clamped 1–100; non-numeric → 1).
fn paging(q: &Params) -> (u64, u64) {
    let page = q.get("page").map(ruby_to_i).unwrap_or(1).max(1) as u64;
    let per = q.get("per_page").map(ruby_to_i).unwrap_or(10).clamp(1, 100) as u64;
    (page, per)
}

/// §7.4: the Link header.
fn link_header(
    app: &App,
    parts: &Parts,
    q: &Params,
    page: u64,
    per: u64,
    has_next: bool,
    last: Option<u64>,
) -> String {
    let base_params: Vec<(String, String)> = q
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "page" | "per_page" | "access_token" | "api_key"))
        .cloned()
        .collect();
    let base = origin(&app.shared, parts);
    let url = |p: u64| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base_params {
            ser.append_pair(k, v);
        }
        ser.append_pair("page", &p.to_string());
        ser.append_pair("per_page", &per.to_string());
        format!("{base}{}?{}", parts.uri.path(), ser.finish())
    };
    let mut links = vec![format!("<{}>; rel=\"current\"", url(page))];
    if has_next {
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", url(1)));
    if let Some(l) = last {
        links.push(format!("<{}>; rel=\"last\"", url(l)));
    }
    links.join(",")
}

fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    None
}

const STATES: &[&str] = &[
    "initializing",
    "created",
    "importing",
    "cleanup_batch",
    "imported",
    "imported_with_messages",
    "aborted",
    "failed",
    "failed_with_messages",
    "restoring",
    "partially_restored",
    "restored",
];

/// §2.2.
fn list(app: &App, parts: &Parts, q: &Params) -> Response {
    let shared = &app.shared;
    let since = q.get("created_since").and_then(parse_time);
    let before = q.get("created_before").and_then(parse_time);
    let mut wanted: Vec<&str> = q.all("workflow_state[]");
    wanted.extend(q.all("workflow_state"));
    // Unknown values dropped; none valid → no filter.
    wanted.retain(|s| STATES.contains(s));
    let (page, per) = paging(q);
    let mut inner = shared.inner.lock().unwrap();
    // A unit of time for the account's jobs (state.rs `tick`), then the page as it is now.
    inner.tick();
    let mut items: Vec<&state::Batch> = inner
        .batches
        .iter()
        .filter(|b| since.is_none_or(|t| b.created_at > t))
        .filter(|b| before.is_none_or(|t| b.created_at < t))
        .filter(|b| wanted.is_empty() || wanted.contains(&b.state.as_str()))
        .collect();
    // Newest first.
    items.sort_by_key(|b| std::cmp::Reverse((b.created_at, b.id)));
    let start = ((page - 1) * per) as usize;
    let page_items: Vec<Value> = items
        .iter()
        .skip(start)
        .take(per as usize)
        .map(|b| b.json(&shared.files_url))
        .collect();
    let has_next = items.len() > start + per as usize;
    let link = link_header(app, parts, q, page, per, has_next, None);
    let mut r = json_resp(200, &json!({ "sis_imports": page_items }));
    r.headers_mut()
        .insert(header::LINK, HeaderValue::from_str(&link).unwrap());
    r
}

/// §2.8.
fn errors(app: &App, parts: &Parts, route: Route, segs: &[String], q: &Params) -> Response {
    let shared = &app.shared;
    let inner = shared.inner.lock().unwrap();
    let batch = if route == Route::Errors {
        let Some(id) = segs[5].parse::<u64>().ok() else {
            return not_found();
        };
        if inner.find(id).is_none() {
            return not_found();
        }
        Some(id)
    } else {
        None
    };
    let failure_only = q.bool("failure");
    let mut rows: Vec<&state::ErrorRow> = inner
        .errors
        .iter()
        .filter(|e| batch.is_none_or(|b| e.batch_id == b))
        .filter(|e| !failure_only || e.msg.failure)
        .collect();
    // created_at descending.
    rows.sort_by_key(|e| std::cmp::Reverse(e.id));
    let (page, per) = paging(q);
    let start = ((page - 1) * per) as usize;
    let out: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(per as usize)
        .map(|e| {
            json!({"sis_import_id": e.batch_id, "file": e.msg.file,
                   "message": e.msg.message, "row": e.msg.row})
        })
        .collect();
    let last = (rows.len() as u64).div_ceil(per).max(1);
    let has_next = rows.len() > start + per as usize;
    let link = link_header(app, parts, q, page, per, has_next, Some(last));
    let mut r = json_resp(200, &json!({ "sis_import_errors": out }));
    r.headers_mut()
        .insert(header::LINK, HeaderValue::from_str(&link).unwrap());
    r
}

// ---------------------------------------------------------------- uploads

static UPLOAD_SEQ: AtomicU64 = AtomicU64::new(1);

fn temp_path(shared: &Shared) -> std::path::PathBuf {
    let n = UPLOAD_SEQ.fetch_add(1, Ordering::Relaxed);
    shared.tmp.path().join(format!("upload-{n}"))
}

/// Stream a byte stream to a new temp file; returns its path and size.
async fn stream_to_file<S, E>(
    shared: &Shared,
    mut s: S,
) -> std::io::Result<(std::path::PathBuf, u64)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let path = temp_path(shared);
    let mut f = tokio::fs::File::create(&path).await?;
    let mut n = 0u64;
    while let Some(chunk) = s.next().await {
        match chunk {
            Ok(b) => {
                n += b.len() as u64;
                f.write_all(&b).await?;
            }
            // A body cut off before its Content-Length (the client went away) never reaches
            // Canvas's controller: the web server in front of Rails reads the whole body
            // first (§2.1: the upload is the request's body). Nothing is created.
            Err(_) => {
                drop(f);
                let _ = std::fs::remove_file(&path);
                return Err(std::io::Error::other("request body cut off"));
            }
        }
    }
    f.flush().await?;
    Ok((path, n))
}

/// A stored upload waiting to be read.
struct Upload {
    path: Option<std::path::PathBuf>,
    ext: String,
    name: String,
}

fn ext_of(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Parse a multipart body: text fields into `params`, the file field `file_field` to disk.
async fn read_multipart(
    shared: &Shared,
    parts: &Parts,
    body: Body,
    file_field: &str,
    params: &mut Params,
) -> Result<Option<(std::path::PathBuf, String)>, String> {
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(ct).map_err(|e| e.to_string())?;
    let mut mp = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut file = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(e.to_string()),
        };
        let name = field.name().unwrap_or("").to_string();
        if field.file_name().is_some() || name == file_field {
            let fname = field.file_name().unwrap_or("upload").to_string();
            if name == file_field && file.is_none() {
                let (path, _) = stream_to_file(shared, field.map(|r| r.map_err(|e| e.to_string())))
                    .await
                    .map_err(|e| e.to_string())?;
                file = Some((path, fname));
            } else {
                let mut field = field;
                while let Ok(Some(_)) = field.chunk().await {}
            }
        } else {
            let v = field.text().await.unwrap_or_default();
            params.0.push((name, v));
        }
    }
    Ok(file)
}

/// §2.1: the allowed drop statuses.
fn valid_drop_status(s: &str) -> bool {
    matches!(
        s,
        "deleted" | "completed" | "inactive" | "deleted_last_completed"
    )
}

/// §2.1 Import SIS data.
async fn create(
    app: &App,
    parts: &Parts,
    body: &mut Option<Body>,
    kill: Option<Kill>,
    q: &Params,
) -> Response {
    let shared = app.shared.clone();
    let scenario = shared.cfg.scenario;
    let (mt, charset) = media_type(&parts.headers);
    let multipart = mt == "multipart/form-data";
    let mut p = q.clone();
    let mut upload: Option<Upload> = None;
    let mut json_pre = false;

    // Receive the whole request first (Rails does too); bodies go to disk.
    if let Some(b) = body.take() {
        if multipart {
            match read_multipart(&shared, parts, b, "attachment", &mut p).await {
                Ok(Some((path, fname))) => {
                    // §2.1 (1): the original file name's extension decides.
                    upload = Some(Upload {
                        path: Some(path),
                        ext: ext_of(&fname),
                        name: fname.rsplit('/').next().unwrap_or(&fname).to_string(),
                    })
                }
                Ok(None) => {}
                Err(_) => {
                    // In Canvas, Rack rejects a malformed multipart body before any
                    // controller runs (a 400 from Rails' params parsing); that page is not
                    // an API error document. This JSON body is this simulator's choice.
                    return json_resp(
                        400,
                        &json!({"errors":[{"message":"Invalid multipart body"}]}),
                    );
                }
            }
        } else {
            let s = b.into_data_stream();
            match stream_to_file(&shared, s).await {
                Ok((path, size)) => {
                    // [docs]: pre_attachment may come in a JSON body.
                    if mt == "application/json"
                        && size <= (1 << 20)
                        && let Ok(bytes) = std::fs::read(&path)
                        && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
                        && v.get("pre_attachment").is_some_and(|x| x.is_object())
                    {
                        let mut jp = Params::default();
                        jp.extend_json("", &v);
                        p.0.extend(
                            jp.0.into_iter()
                                .filter(|(k, _)| k.starts_with("pre_attachment[")),
                        );
                        json_pre = true;
                    }
                    // §2.1 (2): raw body; extension from `extension`, else the media type.
                    let ext = match p.present("extension") {
                        Some(e) => e.trim().trim_start_matches('.').to_ascii_lowercase(),
                        None => match mt.as_str() {
                            "application/zip" => "zip",
                            "text/csv" | "text/plain" => "csv",
                            "text/xml" => "xml",
                            _ => "zip",
                        }
                        .to_string(),
                    };
                    if json_pre {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        upload = Some(Upload {
                            path: Some(path),
                            name: format!("sis_import.{ext}"),
                            ext,
                        });
                    }
                }
                Err(_) => {
                    let report = shared.inner.lock().unwrap().new_report();
                    return internal_error(report);
                }
            }
        }
    }
    let cleanup = |u: &Option<Upload>| {
        if let Some(Upload { path: Some(p), .. }) = u {
            let _ = std::fs::remove_file(p);
        }
    };

    // §2.1 validation order.
    // §10.1: hosted Canvas registers ims_xml (IMS Enterprise XML) beside instructure_csv.
    let import_type = p
        .get("import_type")
        .unwrap_or("instructure_csv")
        .to_string();
    if import_type != "instructure_csv" && import_type != "ims_xml" {
        cleanup(&upload);
        let report = shared.inner.lock().unwrap().new_report();
        return internal_error(report);
    }
    let pre_name = p.present("pre_attachment[name]").map(str::to_owned);
    if multipart && upload.is_none() {
        return json_resp(
            400,
            &json!({"error":true,"error_message":"Missing attachment"}),
        );
    }
    if !multipart
        && !p.has("extension")
        && charset
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case("utf-8"))
    {
        cleanup(&upload);
        return json_resp(
            400,
            &json!({"error":"Invalid content type, UTF-8 required"}),
        );
    }
    let batch_mode = p.bool("batch_mode");
    let multi_present = p.has("multi_term_batch_mode");
    let mut term_id = None;
    if batch_mode {
        if let Some(t) = p.present("batch_mode_term_id") {
            match term(&shared, t) {
                Some(id) => term_id = Some(id),
                None => {
                    cleanup(&upload);
                    return not_found();
                }
            }
        } else if !multi_present {
            cleanup(&upload);
            return json_resp(
                400,
                &json!({"message":"Batch mode specified, but the given batch_mode_term_id cannot be found."}),
            );
        }
    }

    // Options, read as Canvas's if/elsif chain (§2.1 option interplay).
    let mut o = default_options();
    if let Some(t) = term_id {
        o.insert("batch_mode".into(), json!(true));
        o.insert("batch_mode_term_id".into(), json!(t));
    } else if multi_present {
        o.insert("batch_mode".into(), json!(true));
        o.insert(
            "multi_term_batch_mode".into(),
            json!(p.bool("multi_term_batch_mode")),
        );
    } else if let Some(id) = p.present("diffing_data_set_identifier") {
        o.insert("diffing_data_set_identifier".into(), json!(id));
        o.insert(
            "diffing_remaster".into(),
            json!(p.bool("diffing_remaster_data_set")),
        );
        if let Some(s) = p.present("diffing_drop_status") {
            o.insert("diffing_drop_status".into(), json!(s));
        }
        if let Some(s) = p.present("diffing_user_remove_status") {
            o.insert("diffing_user_remove_status".into(), json!(s));
        }
    }
    if p.bool("override_sis_stickiness") {
        o.insert("override_sis_stickiness".into(), json!(true));
        if p.bool("add_sis_stickiness") {
            o.insert("add_sis_stickiness".into(), json!(true));
        }
        if p.bool("clear_sis_stickiness") {
            o.insert("clear_sis_stickiness".into(), json!(true));
        }
    }
    o.insert(
        "update_sis_id_if_login_claimed".into(),
        json!(p.bool("update_sis_id_if_login_claimed")),
    );
    o.insert("skip_deletes".into(), json!(p.bool("skip_deletes")));
    if let Some(c) = p.present("change_threshold") {
        o.insert("change_threshold".into(), json!(ruby_to_i(c)));
    }
    if let Some(c) = p.present("diff_row_count_threshold") {
        let n = ruby_to_i(c);
        if n > 0 {
            o.insert("diff_row_count_threshold".into(), json!(n));
        }
    }

    // §2.1 (6): the batch row is saved in `initializing`; later failures leave it there.
    // The model validates the identifier's column, which only the diffing branch of the
    // option chain sets: in batch or multi-term mode a long identifier is ignored, no 422.
    let id_too_long = o
        .get("diffing_data_set_identifier")
        .and_then(Value::as_str)
        .is_some_and(|s| s.chars().count() > 128);
    let idx = {
        let mut inner = shared.inner.lock().unwrap();
        let idx = inner.create_batch(o);
        inner.batches[idx]
            .data
            .insert("import_type".into(), json!(import_type));
        // Kept in the batch's options (not in its JSON) for the batch-mode cleanup.
        inner.batches[idx].drop_status = p
            .present("batch_mode_enrollment_drop_status")
            .map(str::to_owned);
        idx
    };
    let post_save = if multi_present && p.present("change_threshold").is_none() {
        Some(json_resp(
            400,
            &json!({"message":"change_threshold is required to use multi term_batch mode."}),
        ))
    } else if p
        .present("diffing_drop_status")
        .is_some_and(|s| !valid_drop_status(s))
    {
        Some(json_resp(
            400,
            &json!({"message":"Invalid diffing_drop_status"}),
        ))
    } else if p
        .present("diffing_user_remove_status")
        .is_some_and(|s| !matches!(s, "deleted" | "suspended"))
    {
        Some(json_resp(
            400,
            &json!({"message":"Invalid diffing_user_remove_status"}),
        ))
    } else if p
        .present("batch_mode_enrollment_drop_status")
        .is_some_and(|s| !valid_drop_status(s))
    {
        Some(json_resp(
            400,
            &json!({"message":"Invalid batch_mode_enrollment_drop_status"}),
        ))
    } else if id_too_long {
        Some(json_resp(
            422,
            &json!({"errors":{"diffing_data_set_identifier":[{
                "attribute":"diffing_data_set_identifier","type":"too_long",
                "message":"is too long (maximum is 128 characters)"}]}}),
        ))
    } else {
        None
    };
    if let Some(r) = post_save {
        cleanup(&upload);
        return r;
    }

    // [docs]: pre_attachment in the query string or a JSON body (not with multipart).
    let pre_flow = pre_name.is_some() && (!multipart || json_pre);
    if pre_flow && scenario != Scenario::IgnorePreAttachment {
        // §2.1 (3) [docs]: answer with upload instructions; the batch waits in initializing.
        cleanup(&upload);
        let name = pre_name.unwrap_or_default();
        let (v, drop_now) = {
            let mut inner = shared.inner.lock().unwrap();
            let bid = inner.batches[idx].id;
            let token = format!(
                "up{bid}x{:x}",
                bid.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 20
            );
            inner.uploads.insert(
                token.clone(),
                state::PendingUpload {
                    batch_id: bid,
                    name: name.clone(),
                },
            );
            let mut v = inner.batches[idx].json(&shared.files_url);
            v["pre_attachment"] = json!({
                "upload_url": format!("{}/upload/{token}", shared.files_url),
                "upload_params": {"key": format!("sis_imports/{bid}/{name}"), "filename": name,
                                  "content_type": p.get("pre_attachment[content_type]").unwrap_or("application/octet-stream")},
                "file_param": "file",
                "progress": null,
            });
            // §2.1 (3) [docs]: the upload instructions come only in this answer (the
            // SisImport JSON that show and list return, §3, has no `pre_attachment`), so a
            // client that loses it cannot finish this batch: it waits in `initializing`
            // (§2.1 (6), §4).
            let drop_now =
                scenario == Scenario::DropAfterPreAttachment && inner.take_fault_once("drop");
            (v, drop_now)
        };
        if drop_now && let Some(k) = kill {
            // The batch exists; the client never hears about it.
            k.0.notify_one();
            std::future::pending::<()>().await;
        }
        return json_resp(200, &v);
    }

    // §2.1 (7): created; processing is queued.
    let upload = if pre_flow {
        // ignore-pre-attachment: an ordinary create without a file.
        cleanup(&upload);
        None
    } else {
        upload
    };
    let bid = shared.inner.lock().unwrap().batches[idx].id;
    start_scan(&shared, bid, upload).await;
    let v = {
        let mut inner = shared.inner.lock().unwrap();
        let b = &mut inner.batches[idx];
        b.state = "created".into();
        b.updated_at = state::now();
        b.json(&shared.files_url)
    };
    let drop_now = scenario == Scenario::DropAfterCreate
        && shared.inner.lock().unwrap().take_fault_once("drop");
    if drop_now && let Some(k) = kill {
        // The batch exists; the client never hears about it.
        k.0.notify_one();
        std::future::pending::<()>().await;
    }
    json_resp(200, &v)
}

/// Read the upload in the background; wait for it a little so small files are ready at once.
async fn start_scan(shared: &Arc<Shared>, bid: u64, upload: Option<Upload>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (report, ims) = {
        let mut inner = shared.inner.lock().unwrap();
        let ims = inner
            .find(bid)
            .is_some_and(|i| inner.batches[i].data.get("import_type") == Some(&json!("ims_xml")));
        (inner.new_report(), ims)
    };
    let sh = shared.clone();
    tokio::spawn(async move {
        let res = match upload {
            Some(Upload {
                path: Some(path),
                ext,
                name,
            }) => tokio::task::spawn_blocking(move || {
                let r = if ims {
                    crate::ims::scan(&path, &ext, report)
                } else {
                    content::scan_path(&path, &ext, &name, report)
                };
                // The file stays until the import is applied (state.rs, `process`).
                (r, Some(StoredUpload { path, ext }))
            })
            .await
            .unwrap_or_default(),
            _ => (ScanResult::default(), None),
        };
        let mut inner = sh.inner.lock().unwrap();
        match inner.find(bid) {
            Some(i) => {
                inner.batches[i].scan = Some(res.0);
                inner.batches[i].upload = res.1;
            }
            None => {
                if let Some(u) = res.1 {
                    let _ = std::fs::remove_file(&u.path);
                }
            }
        }
        drop(inner);
        let _ = tx.send(());
    });
    let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
}

// ---------------------------------------------------------------- files host

async fn files(app: &App, parts: &Parts, body: &mut Option<Body>) -> Response {
    let shared = app.shared.clone();
    let segs: Vec<String> = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(decode_seg)
        .collect();
    let s: Vec<&str> = segs.iter().map(|s| s.as_str()).collect();
    let q = Params::parse(parts.uri.query());
    match (parts.method.as_str(), s.as_slice()) {
        ("POST", ["upload", token]) => {
            // [docs] file-upload step 2: no Canvas token needed.
            let pending = {
                let inner = shared.inner.lock().unwrap();
                inner
                    .uploads
                    .get(*token)
                    .map(|u| (u.batch_id, u.name.clone()))
            };
            let Some((bid, name)) = pending else {
                return not_found();
            };
            let mut fields = Params::default();
            let Some(b) = body.take() else {
                return not_found();
            };
            let file = match read_multipart(&shared, parts, b, "file", &mut fields).await {
                Ok(Some(f)) => f,
                _ => {
                    // The upload host's answer to a step 2 without a file is not
                    // documented; this body is this simulator's choice.
                    return json_resp(400, &json!({"errors":[{"message":"file is missing"}]}));
                }
            };
            let size = std::fs::metadata(&file.0).map(|m| m.len()).unwrap_or(0);
            let fid = {
                let mut inner = shared.inner.lock().unwrap();
                inner.uploads.remove(*token);
                let Some(i) = inner.find(bid) else {
                    let _ = std::fs::remove_file(&file.0);
                    return not_found();
                };
                if inner.batches[i].state != "initializing" {
                    let _ = std::fs::remove_file(&file.0);
                    return not_found();
                }
                inner.new_file_id()
            };
            let upload = Upload {
                path: Some(file.0),
                ext: ext_of(&name),
                name: name.clone(),
            };
            start_scan(&shared, bid, Some(upload)).await;
            {
                let mut inner = shared.inner.lock().unwrap();
                if let Some(i) = inner.find(bid) {
                    let b = &mut inner.batches[i];
                    if b.state == "initializing" {
                        // The import starts by itself.
                        b.state = "created".into();
                        b.updated_at = state::now();
                    }
                }
            }
            let now = state::ts(state::now());
            json_resp(
                201,
                &json!({"id": fid, "uuid": format!("fake-uuid-{fid}"), "folder_id": null,
                        "display_name": name, "filename": name, "upload_status": "success",
                        "content-type": "application/octet-stream", "size": size,
                        "url": format!("{}/files/{fid}/download?verifier={}", shared.files_url, state::verifier(fid)),
                        "created_at": now, "updated_at": now, "locked": false, "hidden": false,
                        "mime_class": "file", "location": format!("{}/api/v1/files/{fid}", shared.api_url)}),
            )
        }
        ("GET", ["files", id, "download"]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let inner = shared.inner.lock().unwrap();
            let Some(file) = inner.files.get(&id).copied() else {
                return not_found();
            };
            if q.get("verifier") != Some(state::verifier(id).as_str()) {
                return json_resp(
                    401,
                    &json!({"status":"unauthorized","errors":[{"message":"user not authorized to perform that action"}]}),
                );
            }
            let bid = match file {
                FileRef::Errors(bid) => bid,
                FileRef::Csv(bid) => {
                    // A stored copy of a CSV the import read (§3 `csv_attachments`).
                    let Some(a) = inner
                        .find(bid)
                        .and_then(|i| inner.batches[i].csv_attachments.iter().find(|a| a.id == id))
                    else {
                        return not_found();
                    };
                    let Ok(bytes) = std::fs::read(&a.path) else {
                        return not_found();
                    };
                    let mut r = raw_resp(200, "text/csv; charset=utf-8", bytes);
                    r.headers_mut().insert(
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", a.name))
                            .unwrap(),
                    );
                    return r;
                }
                FileRef::Report(rid) => {
                    // A provisioning report's CSV or zip.
                    let Some(f) = inner
                        .reports
                        .iter()
                        .find(|r| r.id == rid)
                        .and_then(|r| r.file.as_ref())
                    else {
                        return not_found();
                    };
                    let ctype = if f.content_type == "text/csv" {
                        "text/csv; charset=utf-8"
                    } else {
                        f.content_type
                    };
                    let mut r = raw_resp(200, ctype, f.bytes.clone());
                    r.headers_mut().insert(
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", f.filename))
                            .unwrap(),
                    );
                    return r;
                }
            };
            let Some(i) = inner.find(bid) else {
                return not_found();
            };
            let csv = state::errors_csv(&inner.batches[i]);
            let mut r = raw_resp(200, "text/csv; charset=utf-8", csv);
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!(
                    "attachment; filename=\"sis_errors_attachment_{bid}.csv\""
                ))
                .unwrap(),
            );
            r
        }
        _ => not_found(),
    }
}
