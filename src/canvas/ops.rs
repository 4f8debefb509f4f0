//! The "operate imports" endpoints (reference §2.2–§2.8): list, importing, abort,
//! abort_all_pending, restore_states, errors, and the errors_attachment download.
//!
//! Every list goes through `Client::list_all` (the one pagination function), with
//! `per_page=100`.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use url::Url;

use super::client::{Client, bad_shape, not_found_as};
use super::messages::field_str;
use super::types::{Import, Progress};
use crate::exit::{Exit, Failure, Result};

/// Page size for every list (§7.4: clamped to 1–100).
pub const PER_PAGE: &str = "100";

/// Filters of `GET /sis_imports` (§2.2). Times are sent as given (RFC 3339).
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub states: Vec<String>,
    pub created_since: Option<String>,
    pub created_before: Option<String>,
}

/// What `abort ID` found.
#[derive(Debug)]
pub enum AbortOutcome {
    /// Canvas aborted it; the reloaded import.
    Aborted(Import),
    /// 404 from abort, and the import exists: it had already ended.
    AlreadyEnded(Import),
    /// 404 from abort, and the import does not exist in the account.
    Missing,
}

/// The `restore_states` flags (§2.7).
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreFlags {
    pub batch_mode: bool,
    pub undelete_only: bool,
    pub unconclude_only: bool,
}

impl Client {
    /// The first-page URL of the import list with these filters.
    pub fn list_url(&self, q: &ListQuery) -> Url {
        let mut url = self.account_url("sis_imports");
        {
            let mut qp = url.query_pairs_mut();
            qp.append_pair("per_page", PER_PAGE);
            for s in &q.states {
                qp.append_pair("workflow_state[]", s);
            }
            if let Some(t) = &q.created_since {
                qp.append_pair("created_since", t);
            }
            if let Some(t) = &q.created_before {
                qp.append_pair("created_before", t);
            }
        }
        url
    }

    /// Imports, newest first (§2.2), at most `limit`.
    pub async fn list_imports(&self, q: &ListQuery, limit: Option<usize>) -> Result<Vec<Value>> {
        self.list_all(self.list_url(q), "sis_imports", limit).await
    }

    /// What runs now (§2.3): `importing` and `cleanup_batch`. A wrapper, not paginated.
    pub async fn importing_now(&self) -> Result<Vec<Value>> {
        let url = self.account_url("sis_imports/importing");
        let a = self.get("GET sis_imports/importing", &url).await?;
        match a.json {
            Value::Object(mut o) => match o.remove("sis_imports") {
                Some(Value::Array(v)) => Ok(v),
                _ => Err(bad_shape(&url, "expected {\"sis_imports\": [...]}")),
            },
            Value::Array(v) => Ok(v),
            _ => Err(bad_shape(&url, "expected {\"sis_imports\": [...]}")),
        }
    }

    /// What waits (`created`, `initializing`), newest first.
    pub async fn queued(&self) -> Result<Vec<Value>> {
        let q = ListQuery {
            states: vec!["created".into(), "initializing".into()],
            ..Default::default()
        };
        self.list_imports(&q, None).await
    }

    /// One PUT `/sis_imports/:id/abort` (§2.5); a 404 is told apart by a GET of the import.
    pub async fn abort_import(&self, id: u64) -> Result<AbortOutcome> {
        let url = self.account_url(&format!("sis_imports/{id}/abort"));
        match self.put(&format!("PUT abort {id}"), &url).await {
            Ok(a) => Import::from_value(a.json)
                .map(AbortOutcome::Aborted)
                .map_err(|e| bad_shape(&url, &e)),
            Err(e) if e.last.status() == Some(404) => match self.show(id).await {
                Ok(imp) => Ok(AbortOutcome::AlreadyEnded(imp)),
                Err(f) if f.exit == Exit::NotFound => Ok(AbortOutcome::Missing),
                Err(f) => Err(f),
            },
            Err(e) => Err(e.into_failure()),
        }
    }

    /// One PUT `/sis_imports/abort_all_pending` (§2.6); Canvas answers `{"aborted": true}`.
    pub async fn abort_all_pending(&self) -> Result<Value> {
        let url = self.account_url("sis_imports/abort_all_pending");
        let a = self.put("PUT abort_all_pending", &url).await?;
        Ok(a.json)
    }

    /// PUT `/sis_imports/:id/restore_states` (§2.7) with the flags as query parameters.
    pub async fn restore_states(&self, id: u64, f: RestoreFlags) -> Result<Progress> {
        let mut url = self.account_url(&format!("sis_imports/{id}/restore_states"));
        {
            let mut qp = url.query_pairs_mut();
            for (on, k) in [
                (f.batch_mode, "batch_mode"),
                (f.undelete_only, "undelete_only"),
                (f.unconclude_only, "unconclude_only"),
            ] {
                if on {
                    qp.append_pair(k, "true");
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let a = self
            .put(&format!("PUT restore_states {id}"), &url)
            .await
            .map_err(|e| not_found_as(e, self.no_such_import(id)))?;
        Progress::from_value(a.json).map_err(|e| bad_shape(&url, &e))
    }

    /// Every error row (§2.8) of import `id`, or of the whole account without one.
    pub async fn import_errors(&self, id: Option<u64>, failed_only: bool) -> Result<Vec<Value>> {
        let mut url = match id {
            Some(id) => self.account_url(&format!("sis_imports/{id}/errors")),
            None => self.account_url("sis_import_errors"),
        };
        {
            let mut qp = url.query_pairs_mut();
            qp.append_pair("per_page", PER_PAGE);
            if failed_only {
                qp.append_pair("failure", "true");
            }
        }
        self.list_all(url, "sis_import_errors", None)
            .await
            .map_err(|f| match (f.exit, id) {
                (Exit::NotFound, Some(id)) => Failure::new(Exit::NotFound, self.no_such_import(id))
                    .hint("check the id (canvas-sis list) and --account-id"),
                _ => f,
            })
    }

    /// Download `url`, handing each chunk to `sink` as it arrives (where it goes is the
    /// caller's business). The token is sent only when `url` is on the Canvas origin;
    /// redirects are followed (and reqwest drops the token on a redirect to another host).
    /// Returns the bytes received.
    pub async fn download(
        &self,
        url: &Url,
        stall: Duration,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        // Its query holds a signature (`verifier`, `X-Amz-Signature`): a bearer credential
        // for the file, which never goes to a log or a message.
        let shown = super::client::origin_of(url);
        tracing::debug!(target: "canvas_sis", "GET {shown} (download)");
        let unavailable = |what: String| Failure::new(Exit::Unavailable, what);
        let resp = tokio::time::timeout(stall, self.download_request(url).send())
            .await
            .map_err(|_| {
                unavailable(format!(
                    "{shown}: no answer within {}",
                    humantime::format_duration(stall)
                ))
                .kind("download_failed")
            })?
            .map_err(|e| super::net::from_reqwest(&shown, url, e, false).into_failure())?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let (exit, kind) = match status {
                401 => (Exit::NoPerm, "unauthorized"),
                403 => (Exit::NoPerm, "forbidden"),
                404 => (Exit::NotFound, "not_found"),
                _ => (Exit::Unavailable, "download_failed"),
            };
            return Err(
                Failure::new(exit, format!("{shown}: HTTP {status} for the download")).kind(kind),
            );
        }
        let too_big = |what: String| {
            unavailable(format!(
                "{shown}: {what}, more than the {} a Canvas errors file or report can be; not written on",
                crate::settings::table::show_size(MAX_DOWNLOAD)
            ))
            .kind("download_failed")
        };
        if let Some(len) = resp.content_length().filter(|l| *l > MAX_DOWNLOAD) {
            return Err(too_big(format!("{len} bytes announced")));
        }
        let started = std::time::Instant::now();
        let mut n = 0u64;
        let mut stream = resp.bytes_stream();
        loop {
            // A server that trickles (a byte a second never stalls) must not hold the run.
            let secs = started.elapsed().as_secs_f64();
            if secs > stall.as_secs_f64() && (n as f64) < secs * SLOWEST_DOWNLOAD as f64 {
                return Err(unavailable(format!(
                    "{shown}: the download crawled ({n} bytes in {secs:.0} s, under {} KiB/s)",
                    SLOWEST_DOWNLOAD / 1024
                ))
                .kind("download_failed"));
            }
            let next = tokio::time::timeout(stall, stream.next())
                .await
                .map_err(|_| {
                    unavailable(format!("{shown}: the download stalled")).kind("download_failed")
                })?;
            match next {
                None => break,
                Some(Ok(chunk)) => {
                    n += chunk.len() as u64;
                    if n > MAX_DOWNLOAD {
                        return Err(too_big(format!("over {n} bytes")));
                    }
                    sink(&chunk)?;
                }
                Some(Err(e)) => {
                    return Err(unavailable(format!(
                        "{shown}: download cut off: {}",
                        super::net::error_chain(&e)
                    ))
                    .kind("download_failed"));
                }
            }
        }
        Ok(n)
    }
}

/// The most a download may bring (an errors attachment, a provisioning report): a server
/// that sends without end must not fill the disk.
const MAX_DOWNLOAD: u64 = 2 << 30;

/// The slowest average a download may keep up after its first read timeout (bytes a
/// second).
const SLOWEST_DOWNLOAD: u64 = 8 * 1024;

/// `sis_import_id,file,message,row` with the csv crate's quoting.
pub fn errors_csv(rows: &[Value]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| {
        Failure::new(Exit::IoErr, format!("cannot write CSV: {e}")).kind("output_failed")
    };
    w.write_record(["sis_import_id", "file", "message", "row"])
        .map_err(bad)?;
    for r in rows {
        w.write_record([
            field_str(r, "sis_import_id").unwrap_or_default(),
            field_str(r, "file").unwrap_or_default(),
            field_str(r, "message").unwrap_or_default(),
            field_str(r, "row").unwrap_or_default(),
        ])
        .map_err(bad)?;
    }
    let bytes = w.into_inner().map_err(|e| {
        Failure::new(Exit::IoErr, format!("cannot write CSV: {e}")).kind("output_failed")
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
