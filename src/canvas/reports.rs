//! The provisioning report (reference §10.3; Canvas's account_reports plugin,
//! `account_reports_controller.rb` and `sis_exporter.rb`): what `plan --against canvas` and a
//! guard with `against = "canvas"` compare a bundle with. It runs as a background job in
//! Canvas, so it is started, polled like an import, and its file downloaded with the token
//! sent only to Canvas's own origin.

use std::io::Write;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::client::{Answer, Body, Client, bad_shape};
use super::retry::RetryError;
use crate::exit::{Exit, Failure, Result};

/// The report's name (`AccountReports.available_reports`).
pub const REPORT: &str = "provisioning_csv";

/// The report's parameter for a kind of the bundle (`SIS_CSV_REPORTS` in sis_exporter.rb).
pub fn report_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "user" => "users",
        "account" => "accounts",
        "term" => "terms",
        "course" => "courses",
        "section" => "sections",
        "enrollment" => "enrollments",
        "group" => "groups",
        "group_membership" => "group_membership",
        "group_category" => "group_categories",
        "xlist" => "xlist",
        "user_observer" => "user_observers",
        "admin" => "admins",
        _ => return None,
    })
}

/// What a finished report gave: its id and its file.
pub struct ReportFile {
    pub id: u64,
    pub file: tempfile::NamedTempFile,
}

impl Client {
    /// POST: retried only when Canvas surely did not act on it (as [`Client::put`]).
    pub async fn post(
        &self,
        what: &str,
        url: &url::Url,
    ) -> std::result::Result<Answer, RetryError> {
        self.retry
            .run_for(&Method::POST, what, || {
                self.exchange(Method::POST, url, &Body::Empty)
            })
            .await
    }

    /// Run the provisioning report for `kinds` (report names), of SIS-created objects only
    /// (what batch mode and diffing may remove), scoped to `term` (`sis_term_id:X`) when
    /// given; poll it every `interval`, at most `max_polls` times; download its file.
    pub async fn provisioning_report(
        &self,
        kinds: &[&str],
        term: Option<&str>,
        interval: Duration,
        max_polls: u32,
    ) -> Result<ReportFile> {
        let mut url = self.account_url(&format!("reports/{REPORT}"));
        {
            let mut q = url.query_pairs_mut();
            for k in kinds {
                q.append_pair(&format!("parameters[{k}]"), "true");
            }
            // Any value turns the filter on (sis_exporter.rb reads it as present, not as a
            // boolean).
            q.append_pair("parameters[created_by_sis]", "true");
            if let Some(t) = term {
                q.append_pair("parameters[enrollment_term_id]", t);
            }
        }
        let started = self
            .post("POST provisioning report", &url)
            .await
            .map_err(|e| report_failure(e.into(), "starting"))?;
        let id = started
            .json
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_shape(&url, "a report without an id"))?;
        tracing::info!(target: "canvas_sis", "provisioning report {id} started ({})", kinds.join(", "));
        let show = self.account_url(&format!("reports/{REPORT}/{id}"));
        let mut report = started.json;
        for poll in 0..=max_polls {
            let status = report
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match status.as_str() {
                "complete" => return self.report_file(id, &report).await,
                "error" | "aborted" | "deleted" => {
                    let why = report
                        .pointer("/parameters/extra_text")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    return Err(Failure::new(
                        Exit::Unavailable,
                        format!("Canvas's provisioning report {id} ended {status}{why}"),
                    )
                    .kind("report_failed")
                    .hint("see Admin > Settings > Reports in Canvas; `--against last` compares with what this host kept"));
                }
                _ if poll == max_polls => break,
                _ => {}
            }
            tokio::time::sleep(super::retry::pace(interval, self.rate_remaining())).await;
            report = self
                .get(&format!("GET provisioning report {id}"), &show)
                .await
                .map_err(|e| report_failure(e.into(), "polling"))?
                .json;
        }
        Err(Failure::new(
            Exit::Unavailable,
            format!(
                "Canvas's provisioning report {id} did not finish within {max_polls} polls, {} apart",
                humantime::format_duration(interval)
            ),
        )
        .kind("report_timeout")
        .hint("a big account's report takes minutes: raise --max-polls or --interval, or compare with `--against last`"))
    }

    async fn report_file(&self, id: u64, report: &Value) -> Result<ReportFile> {
        let raw = report
            .pointer("/attachment/url")
            .or_else(|| report.get("file_url"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Failure::new(
                    Exit::Unavailable,
                    format!("Canvas's provisioning report {id} is complete but has no file"),
                )
                .kind("report_failed")
            })?;
        let url = self
            .base
            .join(raw)
            .map_err(|e| bad_shape(&self.base, &format!("a report file URL {raw:?}: {e}")))?;
        let mut file = tempfile::Builder::new()
            .prefix("canvas-sis-report-")
            .tempfile()
            .map_err(|e| {
                Failure::no_input(format!("cannot make a temporary file for the report: {e}"))
                    .kind("temp_file_failed")
            })?;
        let out = file.as_file_mut();
        self.download(&url, self.read_timeout, &mut |chunk| {
            out.write_all(chunk).map_err(|e| {
                Failure::no_input(format!("cannot keep the report in a temporary file: {e}"))
                    .kind("temp_file_failed")
            })
        })
        .await
        .map_err(|f| Failure {
            message: format!("the provisioning report's file: {}", f.message),
            ..f
        })?;
        Ok(ReportFile { id, file })
    }
}

/// A report request that failed: exit 69 for what outlasted the retries, its own code else.
fn report_failure(f: Failure, what: &str) -> Failure {
    Failure {
        message: format!("{what} Canvas's provisioning report: {}", f.message),
        ..f
    }
}
