//! A lost answer to a POST that creates an import: the request went out, the answer did not
//! come back (`retry::may_have_acted`), so Canvas may hold a new import. It is looked up,
//! never sent again blindly: by the direct upload (`create::direct`) and by step 1 of the
//! file-upload flow (`upload`).

use std::time::Duration;

use serde_json::{Value, json};

use super::client::Client;
use super::types::Import;
use crate::exit::{Exit, Failure, Result};

/// How often, and how far apart, to look for the import.
const LOOKUP_TRIES: u32 = 3;
const LOOKUP_PAUSE: Duration = Duration::from_secs(2);

/// Find the import a lost POST created: ours (same user), created since just before the
/// POST (`before`), with the options of `query` (what the POST sent). One match is the
/// import; several are too ambiguous to guess (exit 69, naming them).
pub async fn lookup(
    client: &Client,
    before: jiff::Timestamp,
    query: &[(&'static str, String)],
) -> Result<Option<Import>> {
    let me = my_id(client).await;
    let since = before - super::CLOCK_SKEW;
    let sent = Sent::from_query(query);
    for attempt in 1..=LOOKUP_TRIES {
        let candidates: Vec<Import> = created_by(client, me, Some(since))
            .await?
            .into_iter()
            .filter(|i| sent.matches(i))
            .collect();
        tracing::info!(target: "canvas_sis", "lookup {attempt}/{LOOKUP_TRIES}: {} candidate import(s) since {since}", candidates.len());
        match candidates.len() {
            0 => {}
            1 => return Ok(candidates.into_iter().next()),
            n => {
                let ids: Vec<String> = candidates.iter().map(|i| i.id.to_string()).collect();
                return Err(Failure::new(
                    Exit::Unavailable,
                    format!("the upload's answer was lost and {n} imports that could be it exist ({}); not sending again", ids.join(", ")),
                )
                .kind("upload_lost")
                .partial(json!({"candidates": ids}))
                .hint("inspect them with `canvas-sis status ID`, then `canvas-sis watch ID` the right one"));
            }
        }
        if attempt < LOOKUP_TRIES {
            tokio::time::sleep(LOOKUP_PAUSE).await;
        }
    }
    Ok(None)
}

/// The imports this user created since `submitted_at` (less the clock slack): what a
/// submit that got no answer may have made. Read by `watch --last` and `submit --once`.
pub async fn created_since(client: &Client, submitted_at: &str) -> Result<Vec<Import>> {
    let since = submitted_at
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t - super::CLOCK_SKEW);
    created_by(client, my_id(client).await, since).await
}

/// The token's user, to tell our imports from others' (None when Canvas does not say).
async fn my_id(client: &Client) -> Option<u64> {
    client
        .get("GET users/self", &client.api_url("users/self"))
        .await
        .ok()
        .and_then(|a| a.json.get("id").and_then(Value::as_u64))
}

/// The imports created since `since` (all, when None) by user `me` (anyone's, when unknown).
async fn created_by(
    client: &Client,
    me: Option<u64>,
    since: Option<jiff::Timestamp>,
) -> Result<Vec<Import>> {
    let mut url = client.account_url("sis_imports");
    if let Some(t) = since {
        url.query_pairs_mut()
            .append_pair("created_since", &t.to_string());
    }
    url.query_pairs_mut().append_pair("per_page", "100");
    Ok(client
        .list_all(url, "sis_imports", Some(100))
        .await?
        .into_iter()
        .filter_map(|v| Import::from_value(v).ok())
        .filter(|i| match (since, i.created_at) {
            (Some(s), Some(c)) => c >= s,
            _ => true,
        })
        .filter(|i| match (me, i.user.as_ref().and_then(|u| u.id)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        })
        .collect())
}

/// The options of a create POST that Canvas records on the import (§2.1, §3).
#[derive(Debug, PartialEq, Eq)]
struct Sent<'a> {
    import_type: &'a str,
    /// `batch_mode`, or `multi_term_batch_mode` (which turns batch mode on, §2.1).
    batch_mode: bool,
    skip_deletes: bool,
    diffing_data_set_identifier: Option<&'a str>,
}

impl<'a> Sent<'a> {
    fn from_query(query: &'a [(&'static str, String)]) -> Sent<'a> {
        let get = |k: &str| query.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        let on = |k: &str| get(k) == Some("true");
        Sent {
            import_type: get("import_type").unwrap_or(crate::import_options::DEFAULT_IMPORT_TYPE),
            batch_mode: on("batch_mode") || on("multi_term_batch_mode"),
            skip_deletes: on("skip_deletes"),
            diffing_data_set_identifier: get("diffing_data_set_identifier"),
        }
    }

    /// Whether an import's recorded options are these.
    fn matches(&self, i: &Import) -> bool {
        let b = |k: &str| i.raw.get(k).and_then(Value::as_bool).unwrap_or(false);
        let import_type = i
            .data()
            .and_then(|d| d.get("import_type"))
            .and_then(Value::as_str)
            .unwrap_or(crate::import_options::DEFAULT_IMPORT_TYPE);
        import_type == self.import_type
            && b("batch_mode") == self.batch_mode
            && b("skip_deletes") == self.skip_deletes
            && i.raw
                .get("diffing_data_set_identifier")
                .and_then(Value::as_str)
                == self.diffing_data_set_identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_sent_are_read_from_the_query() {
        let q = vec![
            ("import_type", "instructure_csv".to_string()),
            ("extension", "zip".to_string()),
            ("multi_term_batch_mode", "true".to_string()),
            ("change_threshold", "10".to_string()),
            ("skip_deletes", "true".to_string()),
        ];
        let s = Sent::from_query(&q);
        assert_eq!(
            s,
            Sent {
                import_type: "instructure_csv",
                batch_mode: true,
                skip_deletes: true,
                diffing_data_set_identifier: None,
            }
        );
        let imp = |v: Value| Import::from_value(v).unwrap();
        assert!(s.matches(&imp(json!({"id": 1, "workflow_state": "created",
            "batch_mode": true, "skip_deletes": true}))));
        assert!(!s.matches(&imp(json!({"id": 1, "workflow_state": "created",
            "batch_mode": false, "skip_deletes": true}))));
        let q = vec![("diffing_data_set_identifier", "nightly".to_string())];
        let s = Sent::from_query(&q);
        assert!(s.matches(&imp(json!({"id": 2, "workflow_state": "created",
            "diffing_data_set_identifier": "nightly"}))));
        assert!(!s.matches(&imp(json!({"id": 2, "workflow_state": "created"}))));
    }
}
