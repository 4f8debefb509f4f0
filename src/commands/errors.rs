//! `errors [ID]`: every error and warning row (§2.8), all pages, as `file:row: message`
//! lines, one JSON array (`--json`) or CSV (`--csv`, as Canvas's errors attachment); or
//! `--attachment PATH` to save the import's `errors_attachment`.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde_json::Value;
use url::Url;

use crate::canvas::messages::field_str;
use crate::canvas::ops::errors_csv as to_csv;
use crate::cli::ErrorsArgs;
use crate::exit::{Exit, Failure, Result};

use super::Ctx;

pub async fn run(a: ErrorsArgs, ctx: &mut Ctx) -> Result<Exit> {
    if a.csv && ctx.settings.json {
        return Err(Failure::usage("--csv and --json cannot be used together"));
    }
    let client = ctx.client()?;
    if let Some(path) = &a.attachment {
        let id =
            a.id.ok_or_else(|| Failure::usage("--attachment needs the import id"))?;
        return attachment(&client, id, path, a.force, ctx).await;
    }
    let rows = client.import_errors(a.id, a.failed_only).await?;
    if let (Some(_), Some(out)) = (&a.fix, &a.output) {
        return draft_change_sis_id(&rows, out, ctx);
    }
    if a.group {
        return grouped(&rows, ctx);
    }
    if ctx.settings.json {
        ctx.print_json(&Value::Array(rows))?;
        return Ok(Exit::Ok);
    }
    if a.csv {
        crate::output::stdout(&to_csv(&rows)?)?;
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        let msg = match (a.id, a.failed_only) {
            // Failures only: the warnings are still there; count them (one GET).
            (Some(id), true) => match client.show(id).await?.warning_error_counts() {
                (0, _) => format!("import {id} has no errors or warnings"),
                (w, _) => format!(
                    "import {id} has no failures ({w} warning{}; `canvas-sis errors {id}` lists them)",
                    if w == 1 { "" } else { "s" }
                ),
            },
            (Some(id), false) => format!("import {id} has no errors or warnings"),
            (None, true) => "no failures in the account".to_string(),
            (None, false) => "no errors or warnings in the account".to_string(),
        };
        crate::output::note(&ctx.term, &msg);
        return Ok(Exit::Ok);
    }
    let mut out = String::new();
    for r in &rows {
        out.push_str(&line(r, a.id.is_none()));
        out.push('\n');
    }
    crate::output::stdout(&out)?;
    Ok(Exit::Ok)
}

/// `file:row: message` (row left out when null, file `-` when null); account-wide lines
/// start with `import N: `.
pub fn line(r: &Value, with_import: bool) -> String {
    // Canvas's text (values from the CSV in it): one line, no escape sequence for the terminal.
    let shown = |s: String| crate::redact::visible(&s.replace(['\n', '\r'], " ")).into_owned();
    let file = shown(field_str(r, "file").unwrap_or_else(|| "-".into()));
    let msg = shown(field_str(r, "message").unwrap_or_default());
    let loc = match field_str(r, "row") {
        Some(row) => format!("{file}:{row}"),
        None => file,
    };
    let prefix = if with_import {
        field_str(r, "sis_import_id")
            .map(|i| format!("import {i}: "))
            .unwrap_or_default()
    } else {
        String::new()
    };
    format!("{prefix}{loc}: {msg}")
}

/// `--attachment PATH`: save the import's `errors_attachment` (Canvas's CSV of every row) to
/// PATH, or stdout for `-`. An existing file is refused (exit 2) unless `--force`, which keeps
/// its mode; a new one gets 0666 less the umask, like any file a shell redirect makes. The
/// download goes to a temporary file next to PATH, renamed into place when complete.
async fn attachment(
    client: &crate::canvas::Client,
    id: u64,
    path: &Path,
    force: bool,
    ctx: &Ctx,
) -> Result<Exit> {
    let to_stdout = path == Path::new("-");
    if to_stdout && ctx.settings.json {
        return Err(Failure::usage(
            "--attachment - writes the file on stdout, where --json puts its document",
        )
        .hint("drop --json, or give a file name"));
    }
    // Checked before anything is asked of Canvas.
    let target = crate::paths::Output::at(path);
    let (existing, through) = match &target {
        _ if to_stdout => (None, None),
        crate::paths::Output::Folder => {
            return Err(
                Failure::usage(format!("--attachment {}: is a directory", path.display()))
                    .hint("give the file name to write, e.g. DIR/errors.csv"),
            );
        }
        t if t.exists() && !force => return Err(exists(path)),
        // A FIFO or device: written through, never replaced by a file.
        crate::paths::Output::Through(p) => (None, Some(p.clone())),
        crate::paths::Output::Replace { existing, .. } => {
            (existing.as_ref().map(|m| m.permissions()), None)
        }
    };
    // Through a symlink to a file: that file is replaced, the link kept.
    let path: &Path = match &target {
        crate::paths::Output::Replace { path, .. } if !to_stdout => path,
        _ => path,
    };
    let imp = client.show(id).await?;
    let Some(raw) = imp.errors_attachment.as_ref().and_then(|a| a.url.clone()) else {
        // Not an error: there is nothing to save (yet). Say which.
        let state = imp.state_str();
        let why = if !imp.state.is_terminal() {
            format!(
                "import {id} has not finished ({state}); Canvas writes its errors_attachment after it ends"
            )
        } else {
            match imp.warning_error_counts() {
                (0, 0) => format!(
                    "import {id} had no errors or warnings ({state}), so it has no errors_attachment"
                ),
                (w, e) => format!(
                    "import {id} ended {state} with {w} warning(s) and {e} error(s); Canvas has not written its errors_attachment yet (it does shortly after the end): try again in a minute, or read the rows now with `canvas-sis errors {id}`"
                ),
            }
        };
        if ctx.settings.json {
            ctx.print_json(&serde_json::json!({
                "sis_import_id": id,
                "path": null,
                "bytes": 0,
                "note": why,
            }))?;
        } else {
            crate::output::note(&ctx.term, &why);
        }
        return Ok(Exit::Ok);
    };
    let url = client
        .base()
        .join(&raw)
        .or_else(|_| Url::parse(&raw))
        .map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("import {id}: errors_attachment.url is not a URL: {e}"),
            )
            .kind("bad_response")
        })?;
    match url.scheme() {
        "https" => {}
        "http" if crate::settings::check_base_url(url.as_str()).is_ok() => {}
        s => {
            return Err(Failure::new(
                Exit::Unavailable,
                format!(
                    "import {id}: errors_attachment.url uses {s}://, which is refused off loopback"
                ),
            )
            .kind("link_refused"));
        }
    }
    let stall = ctx.settings.connection.read_timeout;
    if to_stdout {
        client
            .download(&url, stall, &mut |chunk| crate::output::stdout_bytes(chunk))
            .await?;
        return Ok(Exit::Ok);
    }
    let cant_write = |e: &std::io::Error| {
        // The OS's words, about the path the user gave: never the temporary file's name.
        let why = match e.get_ref() {
            Some(_) => crate::exit::kind_said(e.kind()),
            None => e.to_string(),
        };
        Failure::new(
            Exit::IoErr,
            format!("cannot write {}: {why}", path.display()),
        )
        .hint(crate::exit::output_hint(e))
    };
    if let Some(p) = through {
        let mut f = crate::paths::open_through(&p).map_err(|e| cant_write(&e))?;
        let n = client
            .download(&url, stall, &mut |chunk| {
                f.write_all(chunk).map_err(|e| cant_write(&e))
            })
            .await?;
        f.flush().map_err(|e| cant_write(&e))?;
        return saved(ctx, id, &p, n);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::metadata(dir)
        .and_then(|m| {
            if m.is_dir() {
                Ok(())
            } else {
                Err(std::io::Error::from_raw_os_error(libc::ENOTDIR))
            }
        })
        .map_err(|e| cant_write(&e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".canvas-sis-download-")
        .permissions(
            existing
                .clone()
                .unwrap_or_else(|| std::fs::Permissions::from_mode(0o666)),
        )
        .tempfile_in(dir)
        .map_err(|e| cant_write(&e))?;
    if let Some(p) = existing {
        // The file's own mode, not that less the umask.
        tmp.as_file()
            .set_permissions(p)
            .map_err(|e| cant_write(&e))?;
    }
    let n = client
        .download(&url, stall, &mut |chunk| {
            tmp.write_all(chunk).map_err(|e| cant_write(&e))
        })
        .await?;
    tmp.as_file().sync_all().map_err(|e| cant_write(&e))?;
    let placed = if force {
        tmp.persist(path)
    } else {
        // Made meanwhile by someone else: still not ours to replace.
        tmp.persist_noclobber(path)
    };
    placed.map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => exists(path),
        _ => cant_write(&e.error),
    })?;
    saved(ctx, id, path, n)
}

/// Say where the errors attachment went.
fn saved(ctx: &Ctx, id: u64, path: &Path, n: u64) -> Result<Exit> {
    if ctx.settings.json {
        ctx.print_json(&serde_json::json!({
            "sis_import_id": id,
            "path": path.display().to_string(),
            "bytes": n,
        }))?;
    } else {
        crate::output::announce(
            &ctx.term,
            &format!(
                "import {id}: saved errors_attachment to {} ({n} bytes)",
                path.display()
            ),
        );
    }
    Ok(Exit::Ok)
}

fn exists(path: &Path) -> Failure {
    Failure::usage(format!(
        "--attachment {}: the file exists; nothing was written",
        path.display()
    ))
    .hint("pass --force to replace it, or give another name")
}

fn grouped(rows: &[Value], ctx: &Ctx) -> Result<Exit> {
    let gs = crate::canvas::messages::group(rows);
    if ctx.settings.json {
        let doc: Vec<Value> = gs
            .iter()
            .map(|g| {
                serde_json::json!({
                    "template": g.template,
                    "count": g.count,
                    "failures": g.failures,
                    "example": {
                        "file": g.example.get("file"),
                        "row": g.example.get("row"),
                        "message": g.example.get("message"),
                    },
                    "cause": g.known.map(|k| k.cause),
                    "fix": g.known.map(|k| k.fix),
                })
            })
            .collect();
        ctx.print_json(&serde_json::json!({ "groups": doc }))?;
        return Ok(Exit::Ok);
    }
    if gs.is_empty() {
        crate::output::note(&ctx.term, "no errors or warnings");
        return Ok(Exit::Ok);
    }
    let mut out = String::new();
    for g in &gs {
        let what = if g.failures == g.count {
            "error"
        } else if g.failures == 0 {
            "warning"
        } else {
            "mixed"
        };
        let template = crate::redact::visible(&crate::redact::one_line(&g.template)).into_owned();
        out.push_str(&format!("{:>7}  {what:<7}  {template}\n", g.count));
        out.push_str(&format!("         e.g. {}\n", line(&g.example, false)));
        if let Some(k) = g.known {
            out.push_str(&format!(
                "         cause: {}\n         fix: {}\n",
                k.cause, k.fix
            ));
        }
    }
    crate::output::stdout(&out)?;
    Ok(Exit::Ok)
}

/// `--fix change-sis-id`: a change_sis_id.csv that gives each user who holds a login under
/// an old SIS id the id the bundle now uses, drafted from the "already claimed" rows for a
/// person to review. It is never sent.
fn draft_change_sis_id(rows: &[Value], out: &Path, ctx: &Ctx) -> Result<Exit> {
    use crate::canvas::messages::{KNOWN, values};
    let claimed = KNOWN
        .iter()
        .find(|k| {
            k.template
                .starts_with("An existing Canvas user with the SIS ID")
        })
        .expect("the template is in the table");
    let mut pairs: Vec<(String, String)> = Vec::new();
    for r in rows {
        let msg = field_str(r, "message").unwrap_or_default();
        if crate::canvas::messages::template(&msg)
            .1
            .is_some_and(|k| std::ptr::eq(k, claimed))
        {
            let v = values(claimed.template, &msg);
            if let [old, new] = v[..] {
                let pair = (old.to_string(), new.to_string());
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| {
        Failure::new(Exit::IoErr, format!("cannot write CSV: {e}")).kind("output_failed")
    };
    w.write_record(["old_id", "new_id", "type"]).map_err(bad)?;
    for (old, new) in &pairs {
        w.write_record([old.as_str(), new.as_str(), "user"])
            .map_err(bad)?;
    }
    let bytes = w.into_inner().map_err(|e| {
        Failure::new(Exit::IoErr, format!("cannot write CSV: {e}")).kind("output_failed")
    })?;
    if out == Path::new("-") {
        crate::output::stdout_bytes(&bytes)?;
    } else {
        std::fs::write(out, &bytes).map_err(|e| Failure::output(&out.display().to_string(), &e))?;
    }
    crate::output::note(
        &ctx.term,
        &format!(
            "{} change(s) drafted from the \"already claimed\" rows; review them (each gives an existing user the SIS id the bundle uses) before you import the file",
            pairs.len()
        ),
    );
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_and_csv() {
        let a = json!({"sis_import_id": 3, "file": "users.csv", "message": "bad, \"x\"", "row": 5});
        let b = json!({"sis_import_id": 3, "file": null, "message": "diffing", "row": null});
        assert_eq!(line(&a, false), "users.csv:5: bad, \"x\"");
        assert_eq!(line(&b, false), "-: diffing");
        assert_eq!(line(&b, true), "import 3: -: diffing");
        let c = to_csv(&[a, b]).unwrap();
        assert_eq!(
            c,
            "sis_import_id,file,message,row\n3,users.csv,\"bad, \"\"x\"\"\",5\n3,,diffing,\n"
        );
    }
}
