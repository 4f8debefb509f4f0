//! Canvas's import options (reference §2.1), resolved by the settings table, checked for the
//! combinations Canvas rejects or silently ignores, and turned into the query string (a
//! raw-body upload must carry every option there, §1.3).

use crate::exit::{Failure, Result};

/// The extension sent to Canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Extension {
    Csv,
    Zip,
    Xml,
}

impl Extension {
    pub fn as_str(self) -> &'static str {
        match self {
            Extension::Csv => "csv",
            Extension::Zip => "zip",
            Extension::Xml => "xml",
        }
    }
    pub fn from_word(w: &str) -> Option<Extension> {
        match w {
            "csv" => Some(Extension::Csv),
            "zip" => Some(Extension::Zip),
            "xml" => Some(Extension::Xml),
            _ => None,
        }
    }
}

/// Canvas's default `import_type` (§2.1), the settings table's default too.
pub const DEFAULT_IMPORT_TYPE: &str = "instructure_csv";
/// Hosted Canvas's import type for IMS Enterprise 1.1 XML (§10.1).
pub const IMS_XML: &str = "ims_xml";

/// Serialized into a held run's record, so that approving it sends exactly these.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ImportOptions {
    pub import_type: String,
    /// Whether a flag, the environment or the config file set `import_type` (not the
    /// default): only then does an IMS Enterprise file keep it (§10.1).
    pub import_type_set: bool,
    pub extension: Option<Extension>,
    pub batch_mode: bool,
    pub batch_mode_term_id: Option<String>,
    pub multi_term_batch_mode: bool,
    pub change_threshold: Option<u32>,
    pub skip_deletes: bool,
    pub override_sis_stickiness: bool,
    pub add_sis_stickiness: bool,
    pub clear_sis_stickiness: bool,
    pub update_sis_id_if_login_claimed: bool,
    pub diffing_data_set_identifier: Option<String>,
    pub diffing_remaster_data_set: bool,
    pub diffing_drop_status: Option<String>,
    pub diffing_user_remove_status: Option<String>,
    pub batch_mode_enrollment_drop_status: Option<String>,
    pub diff_row_count_threshold: Option<i64>,
}

/// §2.1 "Allowed / constraints".
const DIFFING_DROP: &[&str] = &["deleted", "completed", "inactive", "deleted_last_completed"];
const USER_REMOVE: &[&str] = &["deleted", "suspended"];
/// `deleted_last_completed` is accepted by the controller but crashes batch cleanup (§2.1).
const BATCH_DROP: &[&str] = &["deleted", "completed", "inactive"];
const MAX_DATA_SET_ID: usize = 128;

/// Whether Canvas can find a term by `t` (`Api#api_find_all` and `Api.sis_parse_id` in
/// lib/api.rb: digits, `sis_term_id:`/`sis_integration_id:` with or without `hex:`,
/// `default`, `current`).
fn term_ref_ok(t: &str) -> bool {
    let t = t.trim();
    let sis = |t: &str| {
        ["sis_term_id:", "sis_integration_id:"]
            .iter()
            .any(|p| t.strip_prefix(p).is_some_and(|v| !v.is_empty()))
    };
    match t.strip_prefix("hex:") {
        Some(rest) => sis(rest),
        None => {
            (!t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit()))
                || matches!(t, "default" | "current")
                || sis(t)
        }
    }
}

/// What a bundle holds, as far as the import type goes (§10.1): IMS Enterprise XML, SIS
/// CSV files, or (a zip) both or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds {
    pub xml: bool,
    pub csv: bool,
}

impl Holds {
    /// IMS Enterprise XML and no CSV: sent as `ims_xml` unless a setting names the type.
    pub fn ims(self) -> bool {
        self.xml && !self.csv
    }
}

impl ImportOptions {
    /// Refuse (exit 2) what Canvas would reject, or accept and silently ignore (§2.1).
    pub fn check(&self) -> Result<()> {
        let bad = |m: String, h: &str| Err(Failure::usage(m).hint(h.to_string()));
        let batch = self.batch_mode || self.multi_term_batch_mode;
        if self.import_type.trim().is_empty() {
            return bad(
                "--import-type is empty".into(),
                "leave it out for instructure_csv",
            );
        }
        if self.batch_mode && self.batch_mode_term_id.is_none() && !self.multi_term_batch_mode {
            return bad(
                "--batch-mode needs --batch-mode-term-id (or --multi-term-batch-mode); Canvas answers 400 \"Batch mode specified, but the given batch_mode_term_id cannot be found.\"".into(),
                "name the term whose unlisted courses, sections and enrollments may be deleted, e.g. --batch-mode-term-id sis_term_id:2026-FA",
            );
        }
        if let Some(t) = &self.batch_mode_term_id
            && !term_ref_ok(t)
        {
            return bad(
                format!(
                    "--batch-mode-term-id {t}: Canvas reads a term as its Canvas id (a number), sis_term_id:X, sis_integration_id:X, default or current, and answers 404 for anything else"
                ),
                &format!(
                    "name the term by its SIS id: --batch-mode-term-id sis_term_id:{}",
                    t.trim()
                ),
            );
        }
        if self.batch_mode_term_id.is_some() && !self.batch_mode {
            return bad(
                "--batch-mode-term-id without --batch-mode is ignored by Canvas".into(),
                "add --batch-mode, or leave the term out",
            );
        }
        if self.multi_term_batch_mode && self.change_threshold.is_none() {
            return bad(
                "--multi-term-batch-mode needs --change-threshold; Canvas answers 400 \"change_threshold is required to use multi term_batch mode.\" and leaves the import stuck in initializing".into(),
                "add e.g. --change-threshold 10",
            );
        }
        if let Some(t) = self.change_threshold {
            if !(1..=100).contains(&t) {
                return bad(
                    format!("--change-threshold {t} is outside 1-100 (a percentage)"),
                    "use a percentage such as 10",
                );
            }
            if !batch && self.diffing_data_set_identifier.is_none() {
                return bad(
                    "--change-threshold applies only to batch mode or diffing; Canvas would ignore it".into(),
                    "add --batch-mode or --diffing-data-set-identifier, or leave it out",
                );
            }
        }
        if let Some(s) = &self.diffing_drop_status
            && !DIFFING_DROP.contains(&s.as_str())
        {
            return bad(
                format!(
                    "--diffing-drop-status {s:?} is not one of {}; Canvas answers 400 \"Invalid diffing_drop_status\" and leaves the import stuck in initializing",
                    DIFFING_DROP.join(", ")
                ),
                "pick one of the listed values",
            );
        }
        if let Some(s) = &self.diffing_user_remove_status
            && !USER_REMOVE.contains(&s.as_str())
        {
            return bad(
                format!(
                    "--diffing-user-remove-status {s:?} is not one of {}; Canvas answers 400 \"Invalid diffing_user_remove_status\"",
                    USER_REMOVE.join(", ")
                ),
                "pick one of the listed values",
            );
        }
        if let Some(s) = &self.batch_mode_enrollment_drop_status {
            if s == "deleted_last_completed" {
                return bad(
                    "--batch-mode-enrollment-drop-status deleted_last_completed is accepted by Canvas but makes batch cleanup crash".into(),
                    "use deleted, completed or inactive",
                );
            }
            if !BATCH_DROP.contains(&s.as_str()) {
                return bad(
                    format!(
                        "--batch-mode-enrollment-drop-status {s:?} is not one of {}; Canvas answers 400 \"Invalid batch_mode_enrollment_drop_status\"",
                        BATCH_DROP.join(", ")
                    ),
                    "pick one of the listed values",
                );
            }
            if !batch {
                return bad(
                    "--batch-mode-enrollment-drop-status without batch mode is ignored by Canvas"
                        .into(),
                    "add --batch-mode, or leave it out",
                );
            }
        }
        if let Some(id) = &self.diffing_data_set_identifier {
            if id.chars().count() > MAX_DATA_SET_ID {
                return bad(
                    format!(
                        "--diffing-data-set-identifier is {} characters; Canvas allows at most {MAX_DATA_SET_ID} (it answers 422)",
                        id.chars().count()
                    ),
                    "use a shorter identifier, e.g. the SIS feed's name and year",
                );
            }
            if id.trim().is_empty() {
                return bad(
                    "--diffing-data-set-identifier is empty".into(),
                    "leave it out or name the data set",
                );
            }
        }
        let diffing_extras = self.diffing_remaster_data_set
            || self.diffing_drop_status.is_some()
            || self.diffing_user_remove_status.is_some()
            || self.diff_row_count_threshold.is_some();
        if batch && (self.diffing_data_set_identifier.is_some() || diffing_extras) {
            return bad(
                "diffing options together with batch mode: Canvas silently ignores diffing whenever batch mode is on".into(),
                "use either batch mode or diffing (--diffing-data-set-identifier), not both",
            );
        }
        if diffing_extras && self.diffing_data_set_identifier.is_none() {
            return bad(
                "diffing options need --diffing-data-set-identifier; without it Canvas ignores them".into(),
                "add --diffing-data-set-identifier NAME",
            );
        }
        if let Some(n) = self.diff_row_count_threshold
            && n <= 0
        {
            return bad(
                format!("--diff-row-count-threshold {n}: Canvas ignores values of 0 or less"),
                "use a positive row count",
            );
        }
        if self.add_sis_stickiness && self.clear_sis_stickiness {
            return bad(
                "--add-sis-stickiness with --clear-sis-stickiness: Canvas lets clear win and silently ignores add (§2.1)".into(),
                "give one of them",
            );
        }
        if self.batch_mode && self.batch_mode_term_id.is_some() && self.multi_term_batch_mode {
            return bad(
                "--batch-mode-term-id with --multi-term-batch-mode: Canvas reads its options as an if/elsif chain, so the batch term wins and multi-term batch mode is silently ignored (§2.1)".into(),
                "use --batch-mode --batch-mode-term-id for one term, or --multi-term-batch-mode --change-threshold for the terms of the terms file",
            );
        }
        if (self.add_sis_stickiness || self.clear_sis_stickiness) && !self.override_sis_stickiness {
            return bad(
                "--add-sis-stickiness and --clear-sis-stickiness take effect only with --override-sis-stickiness; Canvas ignores them alone".into(),
                "add --override-sis-stickiness",
            );
        }
        Ok(())
    }

    /// §10.1: an IMS Enterprise file, or a zip of them, goes as `ims_xml`, unless a layer
    /// set `import_type`. Called with what the bundle holds, before [`ImportOptions::check`].
    pub fn adopt_ims(&mut self, ims: bool) {
        if ims && !self.import_type_set {
            self.import_type = IMS_XML.into();
        }
    }

    /// Refuse (exit 65: the content does not fit the import type, as the contract says of
    /// IMS XML with `instructure_csv`) a bundle that Canvas would accept and import nothing
    /// from (§10.1): IMS Enterprise XML sent as `instructure_csv`, or no XML at all sent as
    /// `ims_xml`. Other import types are Canvas's to judge.
    pub fn fits(&self, ext: Extension, holds: Holds) -> Result<()> {
        let mismatch = |m: String, h: &str| {
            Err(Failure::data(m)
                .kind("import_type_mismatch")
                .hint(h.to_string()))
        };
        let what = match ext {
            Extension::Xml => "an .xml file",
            Extension::Csv => "a .csv file",
            Extension::Zip if holds.xml => "a zip of .xml files",
            Extension::Zip => "a zip without .xml files",
        };
        if self.import_type == DEFAULT_IMPORT_TYPE && holds.ims() {
            return mismatch(
                format!(
                    "{what} with import_type instructure_csv: Canvas reads only .csv files from it and imports nothing; nothing was sent"
                ),
                "send IMS Enterprise XML with --import-type ims_xml (chosen by itself when no flag or config key sets import_type), or convert it to SIS CSV files",
            );
        }
        if self.import_type == IMS_XML && !holds.xml {
            return mismatch(
                format!(
                    "{what} with import_type ims_xml: Canvas reads only IMS Enterprise XML from it and imports nothing; nothing was sent"
                ),
                "send SIS CSV files with import_type instructure_csv (the default: drop --import-type ims_xml, or the config key that sets it)",
            );
        }
        Ok(())
    }

    /// The query string of the create request, in a stable order.
    pub fn query(&self, ext: Extension) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("import_type", self.import_type.clone()),
            ("extension", ext.as_str().to_string()),
        ];
        let t = || "true".to_string();
        if self.batch_mode {
            q.push(("batch_mode", t()));
        }
        if let Some(v) = &self.batch_mode_term_id {
            q.push(("batch_mode_term_id", v.clone()));
        }
        if self.multi_term_batch_mode {
            q.push(("multi_term_batch_mode", t()));
        }
        if let Some(v) = self.change_threshold {
            q.push(("change_threshold", v.to_string()));
        }
        for (on, key) in [
            (self.skip_deletes, "skip_deletes"),
            (self.override_sis_stickiness, "override_sis_stickiness"),
            (self.add_sis_stickiness, "add_sis_stickiness"),
            (self.clear_sis_stickiness, "clear_sis_stickiness"),
            (
                self.update_sis_id_if_login_claimed,
                "update_sis_id_if_login_claimed",
            ),
        ] {
            if on {
                q.push((key, t()));
            }
        }
        if let Some(v) = &self.diffing_data_set_identifier {
            q.push(("diffing_data_set_identifier", v.clone()));
        }
        if self.diffing_remaster_data_set {
            q.push(("diffing_remaster_data_set", t()));
        }
        if let Some(v) = &self.diffing_drop_status {
            q.push(("diffing_drop_status", v.clone()));
        }
        if let Some(v) = &self.diffing_user_remove_status {
            q.push(("diffing_user_remove_status", v.clone()));
        }
        if let Some(v) = &self.batch_mode_enrollment_drop_status {
            q.push(("batch_mode_enrollment_drop_status", v.clone()));
        }
        if let Some(v) = self.diff_row_count_threshold {
            q.push(("diff_row_count_threshold", v.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ImportOptions {
        ImportOptions {
            import_type: "instructure_csv".into(),
            ..Default::default()
        }
    }

    #[test]
    fn refused_combinations() {
        let mut o = opts();
        o.batch_mode = true;
        assert!(o.check().is_err());
        o.batch_mode_term_id = Some("sis_term_id:2026-FA".into());
        assert!(o.check().is_ok());
        o.diffing_data_set_identifier = Some("feed".into());
        assert!(o.check().is_err(), "diffing with batch mode");

        let mut o = opts();
        o.multi_term_batch_mode = true;
        assert!(o.check().is_err(), "multi-term without threshold");
        o.change_threshold = Some(10);
        assert!(o.check().is_ok());

        let mut o = opts();
        o.diffing_data_set_identifier = Some("x".repeat(129));
        assert!(o.check().is_err());
        o.diffing_data_set_identifier = Some("x".repeat(128));
        assert!(o.check().is_ok());
        o.diffing_drop_status = Some("gone".into());
        assert!(o.check().is_err());
        o.diffing_drop_status = Some("deleted_last_completed".into());
        assert!(o.check().is_ok());

        let mut o = opts();
        o.batch_mode = true;
        o.batch_mode_term_id = Some("5".into());
        o.batch_mode_enrollment_drop_status = Some("deleted_last_completed".into());
        assert!(o.check().is_err());

        let ims = Holds {
            xml: true,
            csv: false,
        };
        let csv = Holds {
            xml: false,
            csv: true,
        };
        for ext in [Extension::Xml, Extension::Zip] {
            let f = opts().fits(ext, ims).unwrap_err();
            assert_eq!(f.exit, crate::exit::Exit::DataErr);
            assert!(f.hint.as_deref().unwrap_or_default().contains("ims_xml"));
        }
        assert!(opts().fits(Extension::Zip, csv).is_ok());
        let mut o = opts();
        o.import_type = "ims_xml".into();
        assert!(o.fits(Extension::Xml, ims).is_ok());
        assert!(o.fits(Extension::Zip, ims).is_ok());
        for ext in [Extension::Csv, Extension::Zip] {
            let f = o.fits(ext, csv).unwrap_err();
            assert_eq!(f.exit, crate::exit::Exit::DataErr, "{ext:?}");
            assert!(f.message.contains("import_type ims_xml"), "{}", f.message);
        }
        // A zip with both: Canvas's IMS importer reads its .xml files.
        let both = Holds {
            xml: true,
            csv: true,
        };
        assert!(o.fits(Extension::Zip, both).is_ok());
        assert!(opts().fits(Extension::Zip, both).is_ok());
        // An IMS file takes ims_xml unless a layer set the import type.
        let mut o = opts();
        o.adopt_ims(true);
        assert_eq!(o.import_type, "ims_xml");
        let mut o = opts();
        o.import_type_set = true;
        o.adopt_ims(true);
        assert_eq!(o.import_type, "instructure_csv");
        let mut o = opts();
        o.adopt_ims(false);
        assert_eq!(o.import_type, "instructure_csv");
    }

    #[test]
    fn query_carries_every_option() {
        let mut o = opts();
        o.batch_mode = true;
        o.batch_mode_term_id = Some("sis_term_id:2026-FA".into());
        o.override_sis_stickiness = true;
        o.clear_sis_stickiness = true;
        let q = o.query(Extension::Zip);
        let keys: Vec<_> = q.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "import_type",
                "extension",
                "batch_mode",
                "batch_mode_term_id",
                "override_sis_stickiness",
                "clear_sis_stickiness"
            ]
        );
    }
}
