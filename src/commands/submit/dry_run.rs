//! `submit --dry-run`: every check a real run makes before sending, and what it would send.

use super::*;

/// What one of `--if-idle` and `--once` would do to the real run, for `submit --dry-run`.
pub(super) struct DryCheck {
    /// `if_idle` or `once` (JSON), `--if-idle` or `--once` (text).
    pub(super) name: &'static str,
    pub(super) flag: &'static str,
    /// `None`: cannot tell (Canvas could not be asked).
    pub(super) stops: Option<bool>,
    /// The exit code the real run would stop with.
    pub(super) exit: Exit,
    pub(super) reason: String,
}

/// What the guard would do to the real run, for `submit --dry-run`.
pub(super) fn guard_check(p: &Assessment) -> DryCheck {
    let reason = match &p.baseline {
        None => "no baseline yet: the real run would pass, and its import would become the baseline once it ends well".to_string(),
        Some(_) if p.reasons.is_empty() => format!("within the limits: {}", p.plan.summary()),
        Some(_) => p.reasons.join("; "),
    };
    DryCheck {
        name: "guard",
        flag: "guard",
        stops: Some(!p.reasons.is_empty()),
        exit: Exit::Held,
        reason,
    }
}

/// A dry run of a run the guard compares with Canvas (`[guard] against = "canvas"`): the
/// comparison needs a provisioning report, which a dry run never asks for, so whether the
/// guard would stop the real run is unknown.
pub(super) fn guard_not_compared(ctx: &Ctx, run: &Run) -> Option<DryCheck> {
    (run.approving.is_none()
        && ctx.settings.guard.on(&run.opts)
        && ctx.settings.guard.against == "canvas")
        .then(|| DryCheck {
            name: "guard",
            flag: "guard",
            stops: None,
            exit: Exit::Held,
            reason: "not checked: the guard compares with Canvas's provisioning report ([guard] against = \"canvas\"), which a dry run never asks for; `canvas-sis plan --against canvas` makes that comparison".into(),
        })
}

/// The checks the real run would make before sending, in its order, made read-only: the GETs
/// `--if-idle` needs, and the journal for `--once`.
pub(super) async fn dry_run_checks(
    ctx: &Ctx,
    guard: &crate::settings::SubmitSettings,
    bundle: &Bundle,
    earlier: Option<&journal::Entry>,
) -> Result<Vec<DryCheck>> {
    // A dry run hashes the bundle up front (`prepare`).
    let sha = bundle.sha256.as_deref().unwrap_or_default();
    let mut checks = vec![];
    if guard.if_idle {
        let busy = async {
            let net = ctx.settings.network()?;
            let client = Client::new(&net, &ctx.settings.connection)?;
            before_sending(busy_imports(&client), "asking Canvas whether it is idle").await
        }
        .await;
        let (stops, reason) = match busy {
            Ok(b) if b.is_empty() => (
                Some(false),
                "Canvas runs and queues no import for this account".to_string(),
            ),
            Ok(b) => (
                Some(true),
                format!(
                    "Canvas already runs or queues imports for this account: {}",
                    b.join(", ")
                ),
            ),
            Err(f) if f.exit == Exit::Interrupted => return Err(f),
            Err(f) => (None, format!("cannot ask Canvas: {}", f.message)),
        };
        checks.push(DryCheck {
            name: "if_idle",
            flag: "--if-idle",
            stops,
            exit: Exit::TempFail,
            reason,
        });
    }
    if guard.once {
        let (stops, reason) = match earlier {
            Some(e) => (true, earlier_submit(sha, e, None)),
            None => (
                false,
                format!(
                    "this content (sha256 {}) did not go to this account within --dedupe-window ({})",
                    short(sha),
                    humantime::format_duration(guard.dedupe_window)
                ),
            ),
        };
        checks.push(DryCheck {
            name: "once",
            flag: "--once",
            stops: Some(stops),
            exit: Exit::TempFail,
            reason,
        });
    }
    Ok(checks)
}

pub(super) fn dry_run(
    ctx: &Ctx,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    mode: create::Mode,
    report: Option<&validate::Report>,
    checks: &[DryCheck],
    plan: Option<&Assessment>,
) -> Result<Exit> {
    let sha256 = bundle.sha256.as_deref().unwrap_or_default();
    let base = ctx
        .settings
        .connection
        .base("--dry-run prints the exact request, which needs the Canvas URL")?;
    // Encoded as the real request encodes it, so that the printed URL is the one sent.
    let account = crate::canvas::client::account_segment(&ctx.settings.connection.account_id.value);
    let mut u = base
        .join(&format!("api/v1/accounts/{account}/sis_imports"))
        .expect("valid");
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    // The file-upload flow's step 1 carries the file's name, size and type, and no body;
    // the file goes in step 2, to the upload_url Canvas answers with.
    let file_upload = mode == create::Mode::FileUpload;
    if file_upload {
        let mut q = u.query_pairs_mut();
        for (k, v) in crate::canvas::upload::pre_attachment(bundle) {
            q.append_pair(k, &v);
        }
    }
    // The first check that stops the real run, in its order.
    let stopped_by = checks
        .iter()
        .find(|c| c.stops == Some(true))
        .map(|c| (c.flag, c.exit.code()));
    info!(
        target: "canvas_sis",
        "dry run of {} ({} bytes): nothing was sent{}",
        bundle.given.display(),
        bundle.len,
        match stopped_by {
            Some((flag, code)) => format!("; the real run would stop: {flag} (exit {code})"),
            None => String::new(),
        }
    );
    let auth = if ctx.settings.connection.token.is_some() {
        "Bearer [redacted]"
    } else {
        "(no token set)"
    };
    if ctx.settings.json {
        let file = json!({"path": bundle.path.display().to_string(), "bytes": bundle.len, "sha256": sha256});
        ctx.print_json(&json!({
            "dry_run": true,
            "upload_mode": if file_upload { "file-upload" } else { "direct" },
            "method": "POST",
            "url": u.as_str(),
            "headers": if file_upload {
                json!({"Authorization": auth, "Accept": "application/json"})
            } else {
                json!({
                    "Authorization": auth,
                    "Content-Type": bundle.content_type(),
                    "Content-Length": bundle.len,
                    "Accept": "application/json",
                })
            },
            "body": if file_upload { serde_json::Value::Null } else { file.clone() },
            // Step 2 of the file-upload flow: the file, to the upload_url of the answer.
            "then_upload": if file_upload { file } else { serde_json::Value::Null },
            "validation": report.map(|r| json!({"errors": r.error_count(), "warnings": r.warning_count(), "summary": r.summary_line()})),
            "checks": checks.iter().map(|c| json!({
                "check": c.name,
                "stops": c.stops,
                "exit_code": c.stops.map(|s| if s { Some(c.exit.code()) } else { None }),
                "reason": c.reason,
            })).collect::<Vec<_>>(),
            "would_stop": stopped_by.is_some(),
            "plan": plan.map(Assessment::to_json),
        }))?;
    } else {
        let mut text = if file_upload {
            format!(
                "POST {u}\nAuthorization: {auth}\nAccept: application/json\n\n<no body: step 1 of the file-upload flow; then {} ({} bytes, sha256 {}) goes as multipart to the upload_url Canvas answers with, without the token>\n",
                bundle.given.display(),
                bundle.len,
                sha256
            )
        } else {
            format!(
                "POST {u}\nAuthorization: {auth}\nContent-Type: {}\nContent-Length: {}\nAccept: application/json\n\n<body: {} ({} bytes, sha256 {})>\n",
                bundle.content_type(),
                bundle.len,
                bundle.given.display(),
                bundle.len,
                sha256
            )
        };
        if let Some(r) = report {
            text.push_str(&format!("validation: {}\n", r.summary_line()));
        }
        for c in checks {
            let verdict = match c.stops {
                Some(true) => format!("the real run would stop here (exit {})", c.exit.code()),
                Some(false) => "the real run would go on".to_string(),
                None => "cannot tell whether the real run would stop".to_string(),
            };
            text.push_str(&format!("{}: {verdict}: {}\n", c.flag, c.reason));
        }
        crate::output::stdout(&text)?;
        match stopped_by {
            Some((flag, code)) => crate::output::stderr(&format!(
                "dry run: nothing was sent; the real run would send nothing either: {flag} stops it (exit {code})\n"
            )),
            None => crate::output::stderr("dry run: nothing was sent\n"),
        }
    }
    Ok(Exit::Ok)
}
