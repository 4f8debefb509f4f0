//! The JSON shapes of Canvas's SIS import API (reference §3–§5), read leniently.
//!
//! Canvas versions differ in which keys they send, and the docs and the code disagree on some
//! types (`progress` as a string, `batch_mode_term_id` as a string), so everything but `id` and
//! `workflow_state` is optional, and the raw JSON is kept for `--json` output.

use serde::Deserialize;
use serde_json::Value;

/// §4: the twelve workflow states, plus whatever a newer Canvas may add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Initializing,
    Created,
    Importing,
    CleanupBatch,
    Imported,
    ImportedWithMessages,
    Failed,
    FailedWithMessages,
    Aborted,
    Restoring,
    PartiallyRestored,
    Restored,
    Unknown(String),
}

impl State {
    /// Every `workflow_state` Canvas has (§4), in its order.
    pub const NAMES: [&'static str; 12] = [
        "initializing",
        "created",
        "importing",
        "cleanup_batch",
        "imported",
        "imported_with_messages",
        "failed",
        "failed_with_messages",
        "aborted",
        "restoring",
        "partially_restored",
        "restored",
    ];

    pub fn parse(s: &str) -> State {
        match s {
            "initializing" => State::Initializing,
            "created" => State::Created,
            "importing" => State::Importing,
            "cleanup_batch" => State::CleanupBatch,
            "imported" => State::Imported,
            "imported_with_messages" => State::ImportedWithMessages,
            "failed" => State::Failed,
            "failed_with_messages" => State::FailedWithMessages,
            "aborted" => State::Aborted,
            "restoring" => State::Restoring,
            "partially_restored" => State::PartiallyRestored,
            "restored" => State::Restored,
            other => State::Unknown(other.to_string()),
        }
    }

    /// §4 "Terminal?": `ended_at` and `progress` are not completion signals; the state is.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            State::Imported
                | State::ImportedWithMessages
                | State::Failed
                | State::FailedWithMessages
                | State::Aborted
                | State::PartiallyRestored
                | State::Restored
        )
    }

    /// The exit code an ended import means (the contract's table): 0 for a clean end, 1 for
    /// `imported_with_messages`, 3 for anything that failed or was aborted.
    pub fn exit(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self {
            State::Imported | State::Restored | State::PartiallyRestored => Exit::Ok,
            State::ImportedWithMessages => Exit::ImportedWithMessages,
            _ => Exit::ImportFailed,
        }
    }

    /// How loud its end is in the log: INFO for a clean end, WARN with warnings, else ERROR.
    pub fn log_level(&self) -> tracing::Level {
        match self.exit() {
            crate::exit::Exit::Ok => tracing::Level::INFO,
            crate::exit::Exit::ImportedWithMessages => tracing::Level::WARN,
            _ => tracing::Level::ERROR,
        }
    }
}

/// A Canvas File object (only what we use).
#[derive(Clone, Debug, Deserialize)]
pub struct Attachment {
    pub url: Option<String>,
    pub display_name: Option<String>,
    pub filename: Option<String>,
    pub size: Option<u64>,
}

/// The abbreviated User object.
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: Option<u64>,
    pub name: Option<String>,
    pub login_id: Option<String>,
}

/// §3: a SisImport, with the raw JSON it came from.
#[derive(Clone, Debug)]
pub struct Import {
    pub id: u64,
    pub state: State,
    pub progress: Option<f64>,
    pub created_at: Option<jiff::Timestamp>,
    pub started_at: Option<jiff::Timestamp>,
    pub ended_at: Option<jiff::Timestamp>,
    pub updated_at: Option<jiff::Timestamp>,
    pub batch_mode: bool,
    pub user: Option<User>,
    pub errors_attachment: Option<Attachment>,
    pub raw: Value,
}

impl Import {
    /// How long it took, or has been going: from start (or creation) to end (or last update:
    /// aborted imports have no `ended_at`); for one that has not ended, to now (`updated_at`
    /// would freeze it at Canvas's last write).
    pub fn elapsed(&self) -> Option<std::time::Duration> {
        let from = self.started_at.or(self.created_at)?;
        let to = if self.state.is_terminal() {
            self.ended_at.or(self.updated_at)?
        } else {
            jiff::Timestamp::now()
        };
        Some(to.duration_since(from).unsigned_abs())
    }

    /// Parse a SisImport; a missing `id` or `workflow_state` is an error naming the key.
    pub fn from_value(raw: Value) -> Result<Import, String> {
        let obj = raw
            .as_object()
            .ok_or_else(|| "expected a SisImport object".to_string())?;
        let id = obj
            .get("id")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .ok_or_else(|| "the SisImport has no numeric \"id\"".to_string())?;
        let state = obj
            .get("workflow_state")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("SisImport {id} has no \"workflow_state\""))?;
        let ts = |k: &str| obj.get(k).and_then(Value::as_str).and_then(parse_time);
        // §3: progress is an integer in the code and a string in the docs.
        let progress = obj.get("progress").and_then(|v| {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        Ok(Import {
            id,
            state: State::parse(state),
            progress,
            created_at: ts("created_at"),
            started_at: ts("started_at"),
            ended_at: ts("ended_at"),
            updated_at: ts("updated_at"),
            batch_mode: obj
                .get("batch_mode")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            user: obj
                .get("user")
                .and_then(|u| serde_json::from_value(u.clone()).ok()),
            errors_attachment: obj
                .get("errors_attachment")
                .and_then(|u| serde_json::from_value(u.clone()).ok()),
            raw,
        })
    }

    pub fn state_str(&self) -> &str {
        self.raw
            .get("workflow_state")
            .and_then(Value::as_str)
            .unwrap_or("?")
    }

    pub fn data(&self) -> Option<&serde_json::Map<String, Value>> {
        self.raw.get("data").and_then(Value::as_object)
    }

    /// `[file, message]` pairs of `processing_warnings` or `processing_errors` (§3; capped at 24+1).
    pub fn messages(&self, key: &str) -> Vec<(Option<String>, String)> {
        let Some(arr) = self.raw.get(key).and_then(Value::as_array) else {
            return vec![];
        };
        arr.iter()
            .filter_map(|pair| {
                let p = pair.as_array()?;
                let file = p.first().and_then(Value::as_str).map(str::to_string);
                let msg = p
                    .get(1)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                Some((file, msg))
            })
            .collect()
    }

    /// Warning and error counts: `data.counts` when present (exact), else the message lists.
    pub fn warning_error_counts(&self) -> (u64, u64) {
        let counts = self.data().and_then(|d| d.get("counts"));
        let get = |k: &str| counts.and_then(|c| c.get(k)).and_then(Value::as_u64);
        let capped = |key: &str| {
            let m = self.messages(key);
            // The 25th entry is "and N more …": count N instead of the entry.
            let mut n = m.len() as u64;
            if let Some((Some(f), _)) = m.last()
                && let Some(rest) = f.strip_prefix("and ")
                && let Some(k) = rest
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
            {
                n = n - 1 + k;
            }
            n
        };
        (
            get("warning_count").unwrap_or_else(|| capped("processing_warnings")),
            get("error_count").unwrap_or_else(|| capped("processing_errors")),
        )
    }

    /// Per-kind counts: `data.counts` (rows processed per kind) if sent, else `data.statistics`
    /// (state changes per type). Zero entries are left out.
    pub fn kind_counts(&self) -> Vec<(String, u64)> {
        let Some(data) = self.data() else {
            return vec![];
        };
        if let Some(c) = data.get("counts").and_then(Value::as_object) {
            return c
                .iter()
                .filter(|(k, _)| *k != "error_count" && *k != "warning_count")
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .filter(|(_, v)| *v > 0)
                .collect();
        }
        if let Some(s) = data.get("statistics").and_then(Value::as_object) {
            let mut out = vec![];
            for (ty, v) in s {
                if let Some(o) = v.as_object() {
                    for (what, n) in o {
                        if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                            out.push((format!("{ty}.{what}"), n));
                        }
                    }
                }
            }
            return out;
        }
        vec![]
    }
}

/// §1.2: any ISO-8601 form (Z or an offset).
pub fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .or_else(|| s.parse::<jiff::Zoned>().ok().map(|z| z.timestamp()))
}

/// §2.7: a Progress object.
#[derive(Clone, Debug)]
pub struct Progress {
    pub id: u64,
    pub state: String,
    pub completion: Option<f64>,
    pub message: Option<String>,
    pub url: Option<String>,
    pub raw: Value,
}

impl Progress {
    pub fn from_value(raw: Value) -> Result<Progress, String> {
        let id = raw
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| "the Progress has no numeric \"id\"".to_string())?;
        let state = raw
            .get("workflow_state")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Progress {id} has no \"workflow_state\""))?
            .to_string();
        Ok(Progress {
            id,
            state,
            completion: raw.get("completion").and_then(Value::as_f64),
            message: raw
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string),
            url: raw.get("url").and_then(Value::as_str).map(str::to_string),
            raw,
        })
    }
}

/// A key of `data.counts` (`users`, `group_categories`) as the kind Canvas names in
/// `supplied_batches` and `plan` prints (`user`, `group_category`): the contract's `<kind>`,
/// which `history --json` and the metrics share with `plan --json`. Other keys (the batch
/// deletion counts, a `data.statistics` `Type.what`) are kept as they are.
pub fn kind_name(count_key: &str) -> String {
    const KINDS: &[(&str, &str)] = &[
        ("accounts", "account"),
        ("terms", "term"),
        ("abstract_courses", "abstract_course"),
        ("courses", "course"),
        ("sections", "section"),
        ("xlists", "xlist"),
        ("users", "user"),
        ("enrollments", "enrollment"),
        ("groups", "group"),
        ("group_categories", "group_category"),
        ("group_memberships", "group_membership"),
        ("admins", "admin"),
        ("user_observers", "user_observer"),
        ("change_sis_ids", "change_sis_id"),
        ("logins", "login"),
        ("grade_publishing_results", "grade_publishing_result"),
    ];
    KINDS
        .iter()
        .find(|(plural, _)| *plural == count_key)
        .map_or(count_key, |(_, one)| one)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_import() {
        let i = Import::from_value(
            json!({"id": 3, "workflow_state": "aborted", "progress": "40",
            "ended_at": null, "created_at": "2026-01-01T10:00:00-06:00"}),
        )
        .unwrap();
        assert_eq!(i.state, State::Aborted);
        assert!(i.state.is_terminal());
        assert_eq!(i.progress, Some(40.0));
        assert!(i.ended_at.is_none());
        assert!(i.created_at.is_some());
        assert!(Import::from_value(json!({"workflow_state": "x"})).is_err());
        assert_eq!(
            State::parse("brand_new"),
            State::Unknown("brand_new".into())
        );
    }

    #[test]
    fn counts_prefer_data_counts() {
        let i = Import::from_value(json!({"id": 1, "workflow_state": "imported_with_messages",
            "data": {"counts": {"users": 3, "courses": 0, "warning_count": 30, "error_count": 0}},
            "processing_warnings": [["users.csv", "x"]]}))
        .unwrap();
        assert_eq!(i.kind_counts(), vec![("users".to_string(), 3)]);
        assert_eq!(i.warning_error_counts(), (30, 0));
    }
}
