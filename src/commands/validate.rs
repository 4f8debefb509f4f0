//! `validate PATH...`: local checks only; nothing is sent.

use crate::cli::ValidateArgs;
use crate::exit::{Exit, Result};
use crate::validate;

use super::Ctx;

pub fn run(a: ValidateArgs, ctx: &mut Ctx) -> Result<Exit> {
    let opts = validate::Options {
        import_type: a
            .import_type
            .clone()
            .unwrap_or_else(|| crate::import_options::DEFAULT_IMPORT_TYPE.into()),
        import_type_set: a.import_type.is_some(),
        max_diagnostics: a.max_diagnostics,
        strict: a.strict,
        extension: a.extension.clone(),

        ..validate::Options::default()
    };
    validate::refuse_empty_dirs(&a.paths, "nothing to validate")?;
    let report = validate::validate_or_66(&a.paths, &opts)?;
    let exit = validate::outcome(&report, a.strict);
    if ctx.settings.json {
        // Exit 65 is an error document, with the whole report beside `error`.
        if exit != Exit::Ok {
            return Err(validate::failure(&report, a.strict, "validation")
                .hint("fix the diagnostics listed under \"diagnostics\"")
                .partial(report.to_json()));
        }
        ctx.print_json(&report.to_json())?;
    } else {
        let mut text = Vec::new();
        report
            .write_text(&mut text)
            .expect("writing to memory cannot fail");
        crate::output::stdout(&String::from_utf8_lossy(&text))?;
    }
    Ok(exit)
}
