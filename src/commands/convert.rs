//! `convert oneroster PATH -o OUT.zip`: OneRoster 1.1 CSV → Canvas SIS CSV zip; nothing is
//! sent. The OneRoster input is checked first; any error is exit 65 with no OUT.zip.

use std::collections::BTreeMap;

use serde_json::json;

use crate::cli::{ConvertCmd, OnerosterArgs};
use crate::convert::{self, LoginId, UserId, schema};
use crate::exit::{Exit, Failure, Result};

use super::Ctx;

pub fn run(cmd: ConvertCmd, ctx: &mut Ctx) -> Result<Exit> {
    match cmd {
        ConvertCmd::Oneroster(a) => oneroster(a, ctx),
    }
}

fn oneroster(a: OnerosterArgs, ctx: &mut Ctx) -> Result<Exit> {
    let opts = options(&a)?;
    let json = ctx.settings.json;
    let done = match convert::convert(&a.path, &a.output, &opts) {
        Ok(d) => d,
        Err(e) => return Err(failure(e, &a, json)),
    };
    let out = a.output.display().to_string();
    let suggestion = done.bulk.then(|| {
        "this is a full (bulk) export, which implies deleting what it no longer lists: submit it with diffing \
         (--diffing-data-set-identifier oneroster) or batch mode per term (--batch-mode --batch-mode-term-id ID), \
         with the guard on (the default for both), so that `canvas-sis plan` and the guard check the deletions first"
            .to_string()
    });
    if json {
        let mut doc = done.report.to_json();
        doc["output"] = json!(out);
        doc["oneroster_version"] = json!(done.version);
        doc["bulk"] = json!(done.bulk);
        doc["rows"] = json!(
            done.rows
                .iter()
                .map(|(k, n)| (k.to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>()
        );
        doc["read"] = json!(
            done.read
                .iter()
                .map(|(k, n)| (k.to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>()
        );
        doc["skipped"] = json!(done.skipped);
        doc["suggestion"] = json!(suggestion);
        ctx.print_json(&doc)?;
        return Ok(Exit::Ok);
    }
    let mut text = String::new();
    for d in done.report.diagnostics() {
        text.push_str(&d.to_line());
        text.push('\n');
    }
    let rows: Vec<String> = done.rows.iter().map(|(k, n)| format!("{k}({n})")).collect();
    text.push_str(&format!(
        "wrote {out}: {}; {} warning{}\n",
        rows.join(" "),
        done.report.warning_count(),
        if done.report.warning_count() == 1 {
            ""
        } else {
            "s"
        }
    ));
    if !done.skipped.is_empty() {
        let s: Vec<String> = done
            .skipped
            .iter()
            .map(|(r, n)| format!("{r}({n})"))
            .collect();
        text.push_str(&format!(
            "enrollments not converted (no Canvas role; see --role-map): {}\n",
            s.join(" ")
        ));
    }
    if let Some(s) = suggestion {
        text.push_str(&format!("note: {s}\n"));
    }
    crate::output::stdout(&text)?;
    Ok(Exit::Ok)
}

fn options(a: &OnerosterArgs) -> Result<convert::Options> {
    let mut role_map = BTreeMap::new();
    for m in &a.role_map {
        let Some((role, canvas)) = m.split_once('=') else {
            return Err(
                Failure::usage(format!("--role-map {m}: expected ROLE=CANVAS_ROLE"))
                    .hint("e.g. --role-map administrator=teacher"),
            );
        };
        let (role, canvas) = (role.trim(), canvas.trim());
        if !schema::ENROLLMENT_ROLES.contains(&role) {
            return Err(Failure::usage(format!(
                "--role-map {m}: \"{role}\" is not a OneRoster enrollment role ({})",
                schema::ENROLLMENT_ROLES.join(", ")
            )));
        }
        if canvas.is_empty() {
            return Err(
                Failure::usage(format!("--role-map {m}: no Canvas role after '='"))
                    .hint("teacher, ta, student, designer, observer, or a custom role's name"),
            );
        }
        role_map.insert(role.to_string(), canvas.to_string());
    }
    Ok(convert::Options {
        user_id: if a.user_id == "identifier" {
            UserId::Identifier
        } else {
            UserId::SourcedId
        },
        login_id: match a.login_id.as_str() {
            "email" => LoginId::Email,
            "identifier" => LoginId::Identifier,
            _ => LoginId::Username,
        },
        term_types: a.term_types.clone(),
        role_map,
        section_per_class: !a.group_by_course,
        force: a.force,
        max_diagnostics: a.max_diagnostics,
    })
}

fn failure(e: convert::Error, a: &OnerosterArgs, json: bool) -> Failure {
    match e {
        convert::Error::Invalid(report) => {
            if !json {
                // The diagnostics on stdout, as `validate` prints them; the failure on stderr.
                let mut text = String::new();
                for d in report.diagnostics() {
                    text.push_str(&d.to_line());
                    text.push('\n');
                }
                let omitted: u64 = report.files.iter().map(|f| f.omitted).sum();
                if omitted > 0 {
                    text.push_str(&format!(
                        "({omitted} more not shown; see --max-diagnostics)\n"
                    ));
                }
                // A stdout that cannot be written must not hide the 65 (the failure says why).
                let _ = crate::output::stdout(&text);
            }
            Failure::data(format!(
                "{}: the OneRoster input has {} error{} ({} warning{}); nothing was written",
                a.path.display(),
                report.error_count(),
                if report.error_count() == 1 { "" } else { "s" },
                report.warning_count(),
                if report.warning_count() == 1 { "" } else { "s" },
            ))
            .kind("validation_failed")
            .hint("fix the diagnostics listed (FILE:LINE) in the SIS export, then convert again")
            .partial(report.to_json())
        }
        convert::Error::Input(p, err) => {
            let missing = err.kind() == std::io::ErrorKind::NotFound;
            Failure::no_input(format!(
                "{}: {}",
                p.display(),
                if missing {
                    "no such file or directory".to_string()
                } else {
                    format!("cannot read: {err}")
                }
            ))
            .kind(if missing {
                "input_missing"
            } else {
                "input_unreadable"
            })
            .hint("give the OneRoster folder (with manifest.csv) or its zip; nothing was written")
        }
        convert::Error::Exists(p) => Failure::usage(format!(
            "{}: the file exists; nothing was written",
            p.display()
        ))
        .kind("output_exists")
        .hint("pass --force to replace it, or give another name"),
        convert::Error::NotAZip(p, why) => {
            Failure::usage(format!("{}: {why}; nothing was written", p.display()))
                .kind("output_not_a_file")
                .hint("give -o a new or existing regular file whose name ends in .zip")
        }
        convert::Error::Output(p, err) => Failure::output(&p.display().to_string(), &err),
        convert::Error::Interrupted(f) => Failure::new(
            Exit::Interrupted,
            format!("{}; no output file was written", f.message),
        )
        .kind("interrupted"),
    }
}
