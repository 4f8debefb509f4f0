//! Big bundles: Canvas's `pre_attachment` file-upload flow (reference §2.1 (3), [docs] only).
//! Which bundles take it is `create.rs`'s choice; the requests go through the one HTTP stack
//! (`client.rs`: [`Client::upload_exchange`] for the upload host).
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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tracing::{info, warn};
use url::Url;

use super::client::{Body, Client, FileBody, bad_shape, origin_of};
use super::retry::may_have_acted;
use super::types::{Import, State};
use crate::bundle::Bundle;
use crate::exit::{Exit, Failure, Result};

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

/// The file-upload flow (see the module doc). `query` is what the direct upload would send
/// (`import_type`, `extension`, options). `on_chunk` is called with the running total of
/// file bytes handed to the connection (it restarts at 0 if the upload is retried).
pub async fn file_upload(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
) -> Result<FileUploadOutcome, Failure> {
    file_upload_observed(client, bundle, query, on_chunk, &Pending::default()).await
}

/// The import that step 1 made and that waits for its file (0 until then); `on_made` is
/// told its id at once, so that the journal has it even if the run is then killed (the next
/// run can see it still waiting and abort it).
#[derive(Default)]
pub struct Pending {
    id: AtomicU64,
    on_made: Option<Box<dyn Fn(u64) + Send + Sync>>,
}

impl Pending {
    pub fn new(on_made: impl Fn(u64) + Send + Sync + 'static) -> Pending {
        Pending {
            id: AtomicU64::new(0),
            on_made: Some(Box::new(on_made)),
        }
    }

    fn set(&self, id: u64) {
        self.id.store(id, Ordering::Relaxed);
        if let Some(f) = &self.on_made {
            f(id);
        }
    }

    /// The import's id, 0 before step 1 answered.
    pub fn id(&self) -> u64 {
        self.id.load(Ordering::Relaxed)
    }
}

/// [`file_upload`] that also stores the import's id in `pending` as soon as step 1 has
/// created it (0 until then). If the future is dropped before it completes (Ctrl-C during
/// the upload), that import waits in `initializing` for a file that will not come: pass the
/// id to [`abort_waiting`].
pub async fn file_upload_observed(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    on_chunk: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    pending: &Pending,
) -> Result<FileUploadOutcome, Failure> {
    // Step 1: metadata only.
    let json = step1(client, bundle, query).await?;
    let pre = json.get("pre_attachment").filter(|p| p.is_object());
    let upload_url = pre
        .and_then(|p| p.get("upload_url"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(upload_url) = upload_url else {
        return not_supported(client, json).await;
    };
    let pre = pre.expect("has upload_url").clone();
    let imp =
        Import::from_value(json).map_err(|e| bad_shape(&step1_url(client, bundle, query), &e))?;
    let id = imp.id;
    pending.set(id);
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
    let mut file = FileBody::new(
        &bundle.path,
        &sent_name(bundle),
        bundle.len,
        bundle.content_type(),
    );
    file.on_chunk = on_chunk;
    file.hash = bundle.stream_hash();
    let body = Body::Multipart {
        fields: params,
        file_param,
        file,
    };
    let step2 = client
        .retry
        .run_for(&Method::POST, "file-upload step 2 (upload)", || {
            client.upload_exchange(Method::POST, &upload_url, &body)
        })
        .await;
    let (status, headers): (StatusCode, HeaderMap) = match step2 {
        Ok(a) => a,
        Err(e) => {
            // The token never goes to the upload host: its 401 or 403 refuses the signed
            // upload (expired, or this host's clock far off), not the Canvas token.
            let f = match &e.last {
                super::error::HttpError::Status {
                    status: status @ (401 | 403),
                    ..
                } => Failure::new(
                    Exit::Unavailable,
                    format!(
                        "file-upload step 2: the upload host {} refused the signed upload (HTTP {status}): its upload parameters expire within minutes (or this host's clock is far off); the Canvas token is not sent there and is not the cause",
                        origin_of(&upload_url)
                    ),
                )
                .kind("file_upload_failed"),
                _ => e.into_failure(),
            };
            return Err(after_failed_upload(client, id, f).await);
        }
    };

    // Step 3: confirm.
    if let Some(loc) = location(&headers, &upload_url) {
        let required = status.is_redirection();
        if let Err(e) = confirm(client, &loc).await {
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

/// Step 1, the POST that creates the import. Safe failures are retried by the policy; a lost
/// answer is looked up, as the direct upload's is (`lost.rs`), never sent again blindly. An
/// import it finds can never get its file (its upload instructions were in the lost answer),
/// so it is aborted, and only then is step 1 sent again, once: never two live imports.
async fn step1(
    client: &Client,
    bundle: &Bundle,
    query: &[(&'static str, String)],
) -> Result<Value> {
    let url = step1_url(client, bundle, query);
    let mut resent = false;
    loop {
        let before = jiff::Timestamp::now();
        let e = match client
            .retry
            .run_for(&Method::POST, "file-upload step 1 (create)", || {
                client.exchange(Method::POST, &url, &Body::Empty)
            })
            .await
        {
            Ok(a) => return Ok(a.json),
            Err(e) if may_have_acted(&e.last) => e,
            Err(e) => return Err(e.into_failure()),
        };
        warn!(target: "canvas_sis", "file-upload step 1 (create): {}; Canvas may have created the import: looking it up instead of sending again", e.last);
        let found = super::lost::lookup(client, before, query)
            .await
            .map_err(|f| {
                if f.kind == "upload_lost" {
                    f
                } else {
                    f.hint("the answer to file-upload step 1 was lost, so Canvas may hold a new import in `initializing` that will never run; check `canvas-sis list --created-since 1h` and abort it before submitting again")
                }
            })?;
        if let Some(imp) = &found {
            abort_lost(client, imp).await?;
        }
        if resent {
            let what = match &found {
                Some(imp) => format!("import {} that it created has been aborted", imp.id),
                None => "no import was found in Canvas".to_string(),
            };
            return Err(Failure::new(
                Exit::Unavailable,
                format!(
                    "file-upload step 1 failed twice with the answer lost ({}); {what}",
                    e.last
                ),
            )
            .kind("upload_lost")
            .hint("check `canvas-sis list --created-since 1h` before submitting again"));
        }
        match &found {
            Some(imp) => {
                warn!(target: "canvas_sis", import_id = imp.id, "import {} was created by that request, but its upload instructions were lost with the answer, so it can never get its file; sending step 1 again (once)", imp.id)
            }
            None => {
                warn!(target: "canvas_sis", "no import appeared in Canvas after the lost answer; sending step 1 again (once)")
            }
        }
        resent = true;
    }
}

/// Abort the import a lost step 1 made (unless it has already ended). If that fails, step 1
/// is not sent again: two imports would then be live.
async fn abort_lost(client: &Client, imp: &Import) -> Result<()> {
    let id = imp.id;
    if imp.state.is_terminal() {
        return Ok(());
    }
    let url = client.account_url(&format!("sis_imports/{id}/abort"));
    match client.put(&format!("PUT abort import {id}"), &url).await {
        Ok(_) => {
            warn!(target: "canvas_sis", import_id = id, "aborted import {id}: the answer that created it was lost");
            Ok(())
        }
        // §2.5: 404 means it has already finished.
        Err(e) if e.last.status() == Some(404) => Ok(()),
        Err(e) => Err(Failure::new(
            Exit::Unavailable,
            format!(
                "file-upload step 1: the answer was lost, and aborting import {id} that it created failed: {}",
                e.last
            ),
        )
        .kind("file_upload_failed")
        .hint(format!(
            "abort it with `canvas-sis abort {id} --yes` before submitting again"
        ))),
    }
}

/// The file's name as the file-upload flow gives it to Canvas. Here, as for a multipart
/// upload, Canvas goes by the name's extension, not `extension` (§2.1 (1), (3)): a bundle
/// sent with `--extension csv` under another name (`users.txt`) is named `users.csv`, or
/// Canvas would import nothing from it.
fn sent_name(bundle: &Bundle) -> String {
    let name = std::path::Path::new(&bundle.name);
    let ext = bundle.extension.as_str();
    if name
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
    {
        return bundle.name.clone();
    }
    let stem = name
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "sis_import".into());
    format!("{stem}.{ext}")
}

/// Step 1's `pre_attachment[*]` parameters (after the import options in the query).
pub fn pre_attachment(bundle: &Bundle) -> [(&'static str, String); 3] {
    [
        ("pre_attachment[name]", sent_name(bundle)),
        ("pre_attachment[size]", bundle.len.to_string()),
        (
            "pre_attachment[content_type]",
            bundle.content_type().to_string(),
        ),
    ]
}

fn step1_url(client: &Client, bundle: &Bundle, query: &[(&'static str, String)]) -> Url {
    let mut url = client.account_url("sis_imports");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in query.iter().cloned().chain(pre_attachment(bundle)) {
            q.append_pair(k, &v);
        }
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
            let aborted = abort_quietly(client, id, "its upload failed").await;
            if aborted {
                f.hint(format!(
                    "import {id} was aborted; nothing will be imported. Submit again when the upload host is reachable"
                ))
            } else {
                f.hint(format!(
                    "import {id} may be left in `initializing`; abort it with `canvas-sis abort {id} --yes`"
                ))
            }
            .partial(json!({"sis_import_id": id, "aborted": aborted}))
        }
        Ok(imp) => f
            .hint(format!(
                "Canvas shows import {id} as {} nonetheless, so the file may have arrived: `canvas-sis watch {id}`",
                imp.state_str()
            ))
            .partial(json!({"sis_import_id": id})),
        Err(_) => f
            .hint(format!(
                "import {id} may be left in `initializing`; check `canvas-sis status {id}` and abort it"
            ))
            .partial(json!({"sis_import_id": id})),
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

/// Abort import `id`, saying why; whether it was aborted.
pub async fn abort_quietly(client: &Client, id: u64, why: &str) -> bool {
    let url = client.account_url(&format!("sis_imports/{id}/abort"));
    match client.put(&format!("PUT abort import {id}"), &url).await {
        Ok(_) => {
            warn!(target: "canvas_sis", import_id = id, "aborted import {id}: {why}");
            true
        }
        Err(e) => {
            warn!(target: "canvas_sis", import_id = id, "could not abort import {id} ({why}): {}", e.last);
            false
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

/// The `Location` of a step-2 answer, resolved against the upload URL.
fn location(headers: &HeaderMap, base: &Url) -> Option<Url> {
    let v = headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
    base.join(v.trim()).ok()
}

/// Step 3: GET the Location, with the token only on the Canvas origin.
async fn confirm(client: &Client, loc: &Url) -> std::result::Result<(), String> {
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
    client
        .upload_exchange(Method::GET, loc, &Body::Empty)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn origin_of_str(s: &str) -> String {
    Url::parse(s)
        .map(|u| origin_of(&u))
        .unwrap_or_else(|_| "an unparsable URL".into())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
