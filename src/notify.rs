//! Notifications (`[notify]`): one POST per event to each webhook, in the contract's JSON or
//! in Slack's or Teams' incoming-webhook shape.
//!
//! Events: `failed`, `warnings`, `stuck`, `max_polls` and, when asked for, `success` (and
//! `held`, with the guard). A message carries the import's state, counts and the top error
//! templates, never the token and never the bundle's contents; anything from Canvas or the
//! bundle is escaped for the format (a Slack `<!channel>` in an SIS value pings nobody). A
//! webhook that cannot be reached is retried briefly and then logged as WARN: a notification
//! never changes the exit code, nor delays it by more than a few seconds.

use std::time::Duration;

use serde_json::{Value, json};

pub use crate::settings::NotifySettings;

impl NotifySettings {
    /// Whether an import that has not ended is stuck (contract, `stuck`): in `initializing`
    /// longer than `stuck_after_initializing` since it was created (Canvas never started
    /// it: rejected options), or in `created` longer than `stuck_after_created` (a queue
    /// that does not move).
    pub fn stuck(&self, imp: &crate::canvas::Import) -> bool {
        use crate::canvas::State;
        let Some(created) = imp.created_at else {
            return false;
        };
        let age = jiff::Timestamp::now()
            .duration_since(created)
            .unsigned_abs();
        match imp.state {
            State::Initializing => age > self.stuck_after_initializing,
            State::Created => age > self.stuck_after_created,
            _ => false,
        }
    }
}

/// What happened, for the message.
#[derive(Clone, Debug, Default)]
pub struct Event {
    pub event: String,
    pub run_id: Option<String>,
    pub import_id: Option<u64>,
    pub state: Option<String>,
    pub base_url: String,
    pub account: String,
    pub profile: Option<String>,
    pub counts: Value,
    pub warnings: u64,
    pub errors: u64,
    /// `(message template, count)`, biggest first.
    pub top_errors: Vec<(String, u64)>,
    /// Why the guard held the run (`held` only).
    pub reasons: Vec<String>,
    pub log_file: Option<String>,
}

impl Event {
    /// The contract's `json` body.
    pub fn to_json(&self) -> Value {
        json!({
            "event": self.event,
            "run_id": self.run_id,
            "import_id": self.import_id,
            "state": self.state,
            "base_url": self.base_url,
            "account": self.account,
            "profile": self.profile,
            "counts": self.counts,
            "warnings": self.warnings,
            "errors": self.errors,
            "top_errors": self.top_errors.iter().map(|(m, c)| json!({"message": m, "count": c})).collect::<Vec<_>>(),
            "reasons": self.reasons,
            "log_file": self.log_file,
        })
    }

    /// One line for people: `canvas-sis: import 141 failed_with_messages (3 errors, 12 warnings) on …`.
    fn headline(&self) -> String {
        format!(
            "canvas-sis {}: import {} {} ({} errors, {} warnings) on {} account {}{}",
            self.event,
            self.import_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            self.state.as_deref().unwrap_or("-"),
            self.errors,
            self.warnings,
            self.base_url,
            self.account,
            self.profile
                .as_deref()
                .map(|p| format!(" (profile {p})"))
                .unwrap_or_default()
        )
    }

    fn lines(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|r| format!("held: {r}"))
            .chain(self.top_errors.iter().map(|(m, c)| format!("{c} × {m}")))
            .collect()
    }

    /// Slack's incoming webhook: `{"text": …}` with `&`, `<` and `>` escaped, so that no value
    /// becomes a link or a mention.
    pub fn to_slack(&self) -> Value {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut text = esc(&self.headline());
        for l in self.lines() {
            text.push_str("\n• ");
            text.push_str(&esc(&l));
        }
        json!({ "text": text })
    }

    /// Teams' incoming webhook (a MessageCard), its text with HTML and markdown escaped.
    pub fn to_teams(&self) -> Value {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('*', "\\*")
                .replace('_', "\\_")
                .replace('[', "\\[")
        };
        let text = self
            .lines()
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>");
        json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": esc(&self.headline()),
            "title": esc(&self.headline()),
            "text": if text.is_empty() { "no error rows".to_string() } else { text },
        })
    }
}

/// The events a run's end raises: `failed` or `warnings` (or `success`).
pub fn end_event(state: &str) -> &'static str {
    match state {
        "imported" => "success",
        "imported_with_messages" => "warnings",
        _ => "failed",
    }
}

/// Send `e` to every webhook that wants it. Bounded: two tries a webhook, 5 s each.
pub async fn send(settings: &NotifySettings, e: &Event) {
    if settings.webhooks.is_empty() || !settings.on.contains(&e.event) {
        return;
    }
    let body = match settings.format.as_str() {
        "slack" => e.to_slack(),
        "teams" => e.to_teams(),
        _ => e.to_json(),
    };
    // Its own client: nothing of Canvas's (no token, no CA of Canvas's) goes to a webhook.
    let Ok(http) = reqwest::Client::builder()
        .user_agent(concat!("canvas-sis/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return;
    };
    for url in &settings.webhooks {
        let shown = crate::redact::redact(url).to_string();
        let mut last = String::new();
        let mut sent = false;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            match http.post(url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    sent = true;
                    break;
                }
                Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
                Err(err) => last = crate::canvas::net::error_chain(&err),
            }
        }
        if sent {
            tracing::info!(target: "canvas_sis", "notified {shown}: {}", e.event);
        } else {
            tracing::warn!(target: "canvas_sis", "the {} notification to {shown} was not delivered: {last}", e.event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_and_teams_escape_what_came_from_canvas() {
        let e = Event {
            event: "failed".into(),
            import_id: Some(7),
            state: Some("failed_with_messages".into()),
            top_errors: vec![("User <!channel> didn't exist for user enrollment".into(), 3)],
            ..Default::default()
        };
        let s = e.to_slack().to_string();
        assert!(!s.contains("<!channel>"), "{s}");
        assert!(s.contains("&lt;!channel&gt;"), "{s}");
        let t = e.to_teams().to_string();
        assert!(!t.contains("<!channel>"), "{t}");
        assert_eq!(e.to_json()["top_errors"][0]["count"], 3);
    }
}
