//! Notifications (`[notify]`): one POST per event to each webhook, in the contract's JSON or
//! in Slack's or Teams' incoming-webhook shape; and, with `smtp_url`, one e-mail per event
//! with the run's `errors.csv` attached.
//!
//! Events: `failed`, `warnings`, `stuck`, `max_polls` and, when asked for, `success` (and
//! `held`, with the guard). A message carries the import's state, counts and the top error
//! templates, never the token and never the bundle's contents; anything from Canvas or the
//! bundle is escaped for the format (a Slack `<!channel>` in an SIS value pings nobody). A
//! webhook or mail server that cannot be reached is retried briefly and then logged as WARN: a
//! notification never changes the exit code, nor delays it by more than a few seconds.

use std::time::Duration;

use lettre::message::{MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub use crate::settings::NotifySettings;
pub use crate::settings::mail::{MailSettings, Security};

impl NotifySettings {
    /// Whether `event` goes anywhere.
    pub fn wants(&self, event: &str) -> bool {
        (!self.webhooks.is_empty() || self.mail.is_some()) && self.on.iter().any(|e| e == event)
    }

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
    /// Why the guard held the run (`held`), or why the upload failed (`failed` with no import).
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
        let on = format!(
            "on {} account {}{}",
            self.base_url,
            self.account,
            self.profile
                .as_deref()
                .map(|p| format!(" (profile {p})"))
                .unwrap_or_default()
        );
        if self.import_id.is_none() && self.state.is_none() {
            // A failed upload: no import to name.
            return format!("canvas-sis {}: no import was made {on}", self.event);
        }
        format!(
            "canvas-sis {}: import {} {} ({} errors, {} warnings) {on}",
            self.event,
            self.import_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            self.state.as_deref().unwrap_or("-"),
            self.errors,
            self.warnings,
        )
    }

    /// The e-mail's subject: the headline, on one line.
    pub fn subject(&self) -> String {
        self.headline()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// The e-mail's plain-text body: what the JSON body says, for people.
    pub fn mail_body(&self, attached: bool) -> String {
        use std::fmt::Write as _;
        let mut b = String::new();
        let _ = writeln!(b, "{}\n", self.headline());
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let _ = writeln!(b, "event:     {}", self.event);
        let _ = writeln!(b, "run:       {}", opt(self.run_id.clone()));
        let _ = writeln!(
            b,
            "import:    {}",
            opt(self.import_id.map(|i| i.to_string()))
        );
        let _ = writeln!(b, "state:     {}", opt(self.state.clone()));
        let _ = writeln!(b, "canvas:    {} account {}", self.base_url, self.account);
        if let Some(p) = &self.profile {
            let _ = writeln!(b, "profile:   {p}");
        }
        if let Some(m) = self.counts.as_object().filter(|m| !m.is_empty()) {
            let rows: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(b, "rows:      {}", rows.join(", "));
        }
        let _ = writeln!(b, "warnings:  {}", self.warnings);
        let _ = writeln!(b, "errors:    {}", self.errors);
        if let Some(l) = &self.log_file {
            let _ = writeln!(b, "log file:  {l}");
        }
        if !self.top_errors.is_empty() {
            let _ = writeln!(b, "\nMost frequent messages:");
            for l in self.lines() {
                let _ = writeln!(b, "  {l}");
            }
        }
        if attached {
            let _ = writeln!(
                b,
                "\nerrors.csv (attached) holds every error and warning row of the import."
            );
        }
        b
    }

    fn lines(&self) -> Vec<String> {
        let why = if self.event == "held" { "held: " } else { "" };
        self.reasons
            .iter()
            .map(|r| format!("{why}{r}"))
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
            // Shown as plain text (the notification's preview): no markdown to escape.
            "summary": self.subject(),
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

/// Send `e` to every webhook and, with `smtp_url`, by e-mail with `errors_csv` attached when
/// there is one. Bounded: two tries each, 5 s a webhook, 10 s a mail.
pub async fn send(settings: &NotifySettings, e: &Event, errors_csv: Option<&str>) {
    if !settings.on.contains(&e.event) {
        return;
    }
    // Telling people never holds the run (and its account's lock) for long, and never
    // outlasts a signal: the import's outcome is known, and the run ends with it.
    tokio::select! {
        done = tokio::time::timeout(NOTIFY_LIMIT, send_all(settings, e, errors_csv)) => {
            if done.is_err() {
                tracing::warn!(target: "canvas_sis", "notifications of {} given up after {} s: the mail server or a webhook did not answer in time", e.event, NOTIFY_LIMIT.as_secs());
            }
        }
        sig = crate::interrupt::wait() => {
            tracing::warn!(target: "canvas_sis", "notifications of {} given up: interrupted by {sig}", e.event);
        }
    }
}

/// The longest the notifications of one event may take, every channel and retry included.
const NOTIFY_LIMIT: Duration = Duration::from_secs(45);

/// How long one mail attempt may take, the server's greeting to its last answer (lettre's
/// own timeout covers each read, so a server that trickles its greeting would outlast it).
const MAIL_ATTEMPT: Duration = Duration::from_secs(15);

async fn send_all(settings: &NotifySettings, e: &Event, errors_csv: Option<&str>) {
    if let Some(m) = &settings.mail {
        mail(m, e, errors_csv).await;
    }
    if settings.webhooks.is_empty() {
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
        // Where it goes, not the URL: a webhook's path is its secret.
        let shown = crate::redact::shown_url(url);
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
                Err(err) => last = crate::canvas::net::error_chain(&err.without_url()),
            }
        }
        if sent {
            tracing::info!(target: "canvas_sis", "notified {shown}: {}", e.event);
        } else {
            tracing::warn!(target: "canvas_sis", "the {} notification to {shown} was not delivered: {last}", e.event);
        }
    }
}

/// One e-mail about `e` to every `to` address.
async fn mail(m: &MailSettings, e: &Event, errors_csv: Option<&str>) {
    let shown = m.shown();
    let to_shown =
        m.to.iter()
            .map(|t| t.email.to_string())
            .collect::<Vec<_>>()
            .join(", ");
    let warn = |why: &str| {
        tracing::warn!(target: "canvas_sis", "the {} e-mail to {to_shown} via {shown} was not delivered: {why}", e.event);
    };
    let mut b = Message::builder()
        .from(m.from.clone())
        .subject(e.subject())
        .user_agent(concat!("canvas-sis/", env!("CARGO_PKG_VERSION")).to_string());
    for t in &m.to {
        b = b.to(t.clone());
    }
    let text = SinglePart::plain(e.mail_body(errors_csv.is_some()));
    let built = match errors_csv {
        Some(csv) => b.multipart(MultiPart::mixed().singlepart(text).singlepart(
            lettre::message::Attachment::new("errors.csv".to_string()).body(
                csv.to_string(),
                ContentType::parse("text/csv; charset=utf-8").expect("a valid content type"),
            ),
        )),
        None => b.singlepart(text),
    };
    let msg = match built {
        Ok(msg) => msg,
        Err(err) => return warn(&err.to_string()),
    };
    let builder = match m.security {
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&m.host),
        Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&m.host),
        Security::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &m.host,
        )),
    };
    let mut builder = match builder {
        Ok(b) => b.port(m.port).timeout(Some(Duration::from_secs(10))),
        Err(err) => return warn(&err.to_string()),
    };
    if let Some(user) = &m.user {
        let Some(pw) = &m.password else {
            return warn(&format!(
                "smtp_url names the user {user} but {} is not set",
                crate::env_names::SMTP_PASSWORD
            ));
        };
        builder = builder.credentials(Credentials::new(
            user.clone(),
            pw.expose_secret().to_string(),
        ));
    }
    let transport = builder.build();
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let sent = match tokio::time::timeout(MAIL_ATTEMPT, transport.send(msg.clone())).await {
            Ok(r) => r,
            Err(_) => {
                last = format!(
                    "the mail server did not finish within {} s",
                    MAIL_ATTEMPT.as_secs()
                );
                continue;
            }
        };
        match sent {
            Ok(_) => {
                tracing::info!(target: "canvas_sis", "mailed {to_shown} via {shown}: {}", e.event);
                return;
            }
            Err(err) => {
                last = mail_error(&err);
                // A permanent refusal (5xx) will not change on a second try.
                if err.is_permanent() {
                    break;
                }
            }
        }
    }
    warn(&last)
}

/// lettre's error with its causes, on one line.
fn mail_error(e: &lettre::transport::smtp::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
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
        // The summary is plain text: `failed_with_messages`, not `failed\_with\_messages`.
        let summary = e.to_teams()["summary"].as_str().unwrap().to_string();
        assert!(
            summary.contains("import 7 failed_with_messages"),
            "{summary}"
        );
        assert_eq!(e.to_json()["top_errors"][0]["count"], 3);
    }

    #[test]
    fn smtp_urls_choose_tls_and_refuse_passwords() {
        let to = vec!["sis@example.edu".to_string()];
        let m = |u: &str| MailSettings::new(u, Some("cs@example.edu"), &to, None);
        let s = m("smtps://mail.example.edu").unwrap();
        assert_eq!((s.security, s.port), (Security::Tls, 465));
        let s = m("smtp://alerts%40x@mail.example.edu").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        assert_eq!(s.user.as_deref(), Some("alerts@x"));
        let s = m("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((s.security, s.port), (Security::Plain, 2525));
        assert!(
            m("smtp://u:hunter2@mail.example.edu")
                .unwrap_err()
                .contains(crate::env_names::SMTP_PASSWORD)
        );
        assert!(m("https://mail.example.edu").is_err());
        assert!(MailSettings::new("smtps://m", None, &to, None).is_err());
        assert!(MailSettings::new("smtps://m", Some("x"), &to, None).is_err());
        assert!(MailSettings::new("smtps://m", Some("a@b.c"), &[], None).is_err());
    }
}
