//! `errors [ID]`: every error and warning row (§2.8), all pages, as `file:row: message`
//! lines, one JSON array (`--json`) or CSV (`--csv`, as Canvas's errors attachment); or
//! `--attachment PATH` to save the import's `errors_attachment`.

use serde_json::Value;
use url::Url;

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
        return attachment(&client, id, path, ctx).await;
    }
    let rows = client.import_errors(a.id, a.failed_only).await?;
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
        crate::output::note(ctx, &msg);
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

fn field_str(r: &Value, k: &str) -> Option<String> {
    match r.get(k)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `file:row: message` (row left out when null, file `-` when null); account-wide lines
/// start with `import N: `.
pub fn line(r: &Value, with_import: bool) -> String {
    let file = field_str(r, "file").unwrap_or_else(|| "-".into());
    let msg = field_str(r, "message")
        .unwrap_or_default()
        .replace(['\n', '\r'], " ");
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

/// `sis_import_id,file,message,row` with the csv crate's quoting.
pub fn to_csv(rows: &[Value]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| Failure::new(Exit::Unavailable, format!("cannot write CSV: {e}"));
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
    let bytes = w
        .into_inner()
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot write CSV: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

async fn attachment(
    client: &crate::canvas::Client,
    id: u64,
    path: &std::path::Path,
    ctx: &Ctx,
) -> Result<Exit> {
    let imp = client.show(id).await?;
    let Some(raw) = imp.errors_attachment.as_ref().and_then(|a| a.url.clone()) else {
        return Err(Failure::new(
            Exit::NotFound,
            format!(
                "import {id} has no errors_attachment (yet: Canvas writes it some time after the import ends)"
            ),
        )
        .hint(format!("`canvas-sis errors {id}` reads the rows from the API now")));
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
        })?;
    match url.scheme() {
        "https" => {}
        "http" if crate::config::check_base_url(url.as_str()).is_ok() => {}
        s => {
            return Err(Failure::new(
                Exit::Unavailable,
                format!(
                    "import {id}: errors_attachment.url uses {s}://, which is refused off loopback"
                ),
            ));
        }
    }
    let n = client
        .download(&url, path, ctx.settings.read_timeout)
        .await?;
    if ctx.settings.json {
        ctx.print_json(&serde_json::json!({
            "sis_import_id": id,
            "path": path.display().to_string(),
            "bytes": n,
        }))?;
    } else {
        crate::output::announce(
            ctx,
            &format!(
                "import {id}: saved errors_attachment to {} ({n} bytes)",
                path.display()
            ),
        );
    }
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
