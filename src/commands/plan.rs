//! `plan PATH`: validate, then compare the bundle with the baseline of this Canvas URL,
//! account and diffing data set (`crate::plan`), or with Canvas's provisioning report
//! (`--against canvas`), and say per kind and term what the import would create, update,
//! delete, leave unchanged, and leave absent. No network with `--against last`.

use crate::cli::PlanArgs;
use crate::exit::{Exit, Result};
use crate::output::{Cell, Style, Table};
use crate::plan::{self as planner, Assessment, Preload};
use crate::validate;

use super::Ctx;

pub async fn run(a: PlanArgs, ctx: &mut Ctx) -> Result<Exit> {
    let opts = ctx.settings.import.clone();
    // The combinations submit refuses (exit 2) are no plan either: Canvas would not import
    // what the plan describes.
    opts.check()?;
    let vopts = validate::Options {
        import_type: opts.import_type.clone(),
        import_type_set: opts.import_type_set,
        extension: opts.extension.map(|e| e.as_str().to_string()),
        ..validate::Options::default()
    };
    let account = ctx.settings.connection.account_id.value.clone();
    // Its error waits for the validation's, which comes first.
    let base_url = ctx
        .settings
        .connection
        .base("a plan compares with what that Canvas imported");
    // This host's baseline is read while the bundle is validated.
    let preload = match &base_url {
        Ok(base) if a.against == "last" => Some(Preload::start(&opts, base.as_str(), &account)),
        _ => None,
    };
    validate::refuse_empty_dirs(std::slice::from_ref(&a.path), "nothing to plan")?;
    let report = validate::validate_or_66(std::slice::from_ref(&a.path), &vopts)?;
    if validate::outcome(&report, false) != Exit::Ok {
        return Err(validate::failure(&report, false, "validation")
            .partial(report.to_json())
            .hint("a plan is made of a bundle that validates: fix the errors (`canvas-sis validate PATH`)"));
    }
    let base_url = base_url?;
    let limits = ctx.settings.guard.limits();
    let client = match a.against.as_str() {
        "canvas" => Some(ctx.client()?),
        _ => None,
    };
    let assessed = Assessment::of(
        client.as_ref(),
        &a.path,
        &opts,
        preload.unwrap_or_else(|| Preload::later(&opts, base_url.as_str(), &account)),
        &ctx.settings.poll,
        &limits,
    )
    .await?;
    if ctx.settings.json {
        ctx.print_json(&assessed.to_json())?;
        return Ok(Exit::Ok);
    }
    if assessed.baseline.is_none() {
        crate::output::note(
            &ctx.term,
            &format!(
                "no baseline yet for {base_url} account {account}{}: this host has not seen an import there end (imported or imported_with_messages), so there is nothing to compare with (rows are not counted as new for want of one). The next import that ends well makes one.",
                opts.diffing_data_set_identifier
                    .as_deref()
                    .map(|d| format!(" data set {d}"))
                    .unwrap_or_default()
            ),
        );
        return Ok(Exit::Ok);
    }
    let (plan, reasons) = (&assessed.plan, &assessed.reasons);
    let mut t = Table::new(&[
        "kind",
        "term",
        "create",
        "update",
        "delete",
        "unchanged",
        "absent",
    ]);
    for (kind, kp) in &plan.kinds {
        let row = |term: &str, c: &planner::Counts| {
            let del = if c.delete > 0 {
                Style::Bad
            } else {
                Style::Plain
            };
            vec![
                Cell::new(kind.clone()),
                Cell::new(term),
                Cell::new(c.create.to_string()),
                Cell::new(c.update.to_string()),
                Cell::styled(c.delete.to_string(), del),
                Cell::new(c.unchanged.to_string()),
                Cell::new(c.absent.to_string()),
            ]
        };
        t.push(row("(all)", &kp.counts));
        for (term, c) in &kp.terms {
            t.push(row(term, c));
        }
    }
    t.print(&ctx.term)?;
    if ctx.term.stdout_tty {
        for (kind, kp) in &plan.kinds {
            for e in &kp.examples {
                let at =
                    e.at.as_ref()
                        .map(|(f, l)| format!(" ({f}:{l})"))
                        .unwrap_or_default();
                crate::output::stdout_line(&format!("  {kind} {}: {}{at}", e.effect, e.key))?;
            }
        }
    }
    if reasons.is_empty() {
        crate::output::note(&ctx.term, "guard: within the limits");
    } else {
        crate::output::note(
            &ctx.term,
            &format!(
                "guard: a guarded submit would hold this run: {}",
                reasons.join("; ")
            ),
        );
    }
    Ok(Exit::Ok)
}
