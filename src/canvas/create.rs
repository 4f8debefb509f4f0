//! Creating an import from a bundle: which way it is sent (`--upload-mode`), the direct
//! upload (the file as the raw body of the create POST, §2.1 (2)), and the fall back to it
//! when the file-upload flow (`upload.rs`, §2.1 (3)) is not known to this Canvas.
//!
//! A request that Canvas surely did not act on is retried by the policy (`retry.rs`); a lost
//! answer is looked up (`lost.rs`), never sent again blindly.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tracing::{info, warn};
use url::Url;

use super::client::{Body, Client, FileBody, Gate, bad_shape};
use super::retry::{RetryError, may_have_acted, may_resend};
use super::types::Import;
use super::upload::{self, FileUploadOutcome};
use crate::bundle::Bundle;
use crate::exit::{Exit, Failure, Result};
use crate::import_options::ImportOptions;
use crate::settings::UploadMode;

/// `--upload-mode auto`: bundles of this size and above use the file-upload flow.
pub const AUTO_THRESHOLD: u64 = 100 * 1024 * 1024;

/// A conservative upload speed (bytes per second) for the direct-upload warning.
pub const ASSUMED_LINK_SPEED: u64 = 5_000_000;

/// Canvas (its front-end proxies) cuts a request off after about a minute (§2.1 (3)).
pub const CANVAS_REQUEST_LIMIT: Duration = Duration::from_secs(60);

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

/// What the caller watches of an upload: bytes sent, and (file-upload flow) the import that
/// step 1 made and that waits for its file, to abort it if the run is interrupted.
pub struct Observers<'a> {
    pub on_chunk: Arc<dyn Fn(u64) + Send + Sync>,
    pub pending: &'a upload::Pending,
    /// The direct upload's last chunk waits for this (see [`FileBody::last_chunk_gate`]).
    pub last_chunk_gate: Option<Gate>,
}

/// Send the bundle by the chosen mode. The file-upload flow falls back to the direct upload
/// when this Canvas does not know it, after aborting the file-less import it made instead.
pub async fn send(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    opts: &ImportOptions,
    mode: Mode,
    obs: Observers<'_>,
) -> Result<Import> {
    let Observers {
        on_chunk,
        pending,
        last_chunk_gate,
    } = obs;
    if mode == Mode::FileUpload {
        info!(target: "canvas_sis", "uploading {} through Canvas's file-upload flow (pre_attachment)", human_bytes(bundle.len));
        match upload::file_upload_observed(client, bundle, query, Some(on_chunk.clone()), pending)
            .await?
        {
            FileUploadOutcome::Created(imp) => return Ok(imp),
            // The flow said why and which file-less import it aborted.
            FileUploadOutcome::NotSupported { .. } => {}
        }
    }
    if let Some(w) = direct_upload_warning(bundle.len) {
        warn!(target: "canvas_sis", "{w}");
    }
    send_direct(client, bundle, query, opts, Some(on_chunk), last_chunk_gate).await
}

/// The direct upload. Safe failures (no connection; 429/502/503/504/throttling) are retried
/// by the policy; a lost answer is looked up in Canvas instead of being sent again, and only
/// when no import turned up is the file sent again, once.
pub async fn direct(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    opts: &ImportOptions,
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
) -> Result<Import> {
    send_direct(client, bundle, query, opts, on_chunk, None).await
}

async fn send_direct(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    opts: &ImportOptions,
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    last_chunk_gate: Option<Gate>,
) -> Result<Import> {
    let url = create_url(client, query);
    let mut file = FileBody::new(
        &bundle.path,
        &bundle.name,
        bundle.len,
        bundle.content_type(),
    );
    file.on_chunk = on_chunk;
    file.hash = bundle.stream_hash();
    file.last_chunk_gate = last_chunk_gate.clone();
    let body = Body::File(file);
    let mut resent = false;
    loop {
        let before = jiff::Timestamp::now();
        let held_back = || last_chunk_gate.as_ref().is_some_and(Gate::closed);
        let r = client
            .retry
            .run_with(
                "upload",
                |e| !held_back() && may_resend(&Method::POST, e),
                || client.exchange(Method::POST, &url, &body),
            )
            .await;
        match r {
            Ok(a) => {
                return Import::from_value(a.json).map_err(|e| bad_shape(&url, &e));
            }
            // The last chunk was held back: Canvas cannot have the file, nothing to look up.
            Err(e) if held_back() => {
                return Err(Failure::new(
                    Exit::Unavailable,
                    format!("upload cut short before its end: {}", e.last),
                ));
            }
            Err(e) if may_have_acted(&e.last) => {
                warn!(target: "canvas_sis", "upload: {}; the file was sent, so Canvas may have created the import: looking it up instead of sending again", e.last);
                match super::lost::lookup(client, before, query).await? {
                    Some(imp) => {
                        warn!(target: "canvas_sis", import_id = imp.id, "adopted import {} ({}), created at {} by this upload", imp.id, imp.state_str(), imp.created_at.map(|t| t.to_string()).unwrap_or_default());
                        return Ok(imp);
                    }
                    None if !resent => {
                        warn!(target: "canvas_sis", "no import appeared in Canvas after the lost answer; sending the file again (once)");
                        resent = true;
                    }
                    None => {
                        return Err(Failure::new(
                            Exit::Unavailable,
                            format!("upload failed twice with the answer lost ({}); no import was found in Canvas", e.last),
                        )
                        .kind("upload_lost")
                        .hint("check `canvas-sis list --created-since 1h` before submitting again"));
                    }
                }
            }
            Err(e) => return Err(create_failure(e, opts)),
        }
    }
}

/// `…/sis_imports?QUERY`: every option in the query string (§1.3).
pub fn create_url(client: &Client, query: &[(&'static str, String)]) -> Url {
    let mut url = client.account_url("sis_imports");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    url
}

fn create_failure(e: RetryError, opts: &ImportOptions) -> Failure {
    let status = e.last.status();
    let f = e.into_failure();
    match status {
        Some(500) if opts.import_type != crate::import_options::DEFAULT_IMPORT_TYPE => f.hint(format!(
            "Canvas answers 500 to an import_type it does not know; open-source Canvas registers only instructure_csv, hosted Canvas also ims_xml (§10.1), not {:?}",
            opts.import_type
        )),
        Some(404) if opts.batch_mode_term_id.is_some() => Failure::new(
            Exit::NotFound,
            f.message.to_string(),
        )
        .hint(format!(
            "Canvas answers 404 when --batch-mode-term-id {:?} names no active term of this root account (or when the account does not exist)",
            opts.batch_mode_term_id.as_deref().unwrap_or_default()
        )),
        _ => f,
    }
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
}
