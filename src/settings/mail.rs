//! `[notify] smtp_url`, `from`, `to` and the password from the environment: checked once,
//! when the settings load (a mistake is exit 78). Sending is `crate::notify`'s.

use lettre::message::Mailbox;
use secrecy::SecretString;

/// How an e-mail is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Tls,
    /// `smtp://` to another host: STARTTLS, and no mail when the server does not offer it
    /// (port 587 by default), so a password never crosses the network in the clear.
    StartTls,
    /// `smtp://` to a loopback host (a local relay, or a test's sink): plain (port 25).
    Plain,
}

/// `[notify] smtp_url`, `from`, `to`, and the password from `CANVAS_SIS_SMTP_PASSWORD`.
#[derive(Clone, Debug)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

impl MailSettings {
    /// Check the URL and the addresses once, when the settings load (a mistake is exit 78).
    pub fn new(
        url: &str,
        from: Option<&str>,
        to: &[String],
        password: Option<SecretString>,
    ) -> std::result::Result<MailSettings, String> {
        let u = url::Url::parse(url).map_err(|e| format!("smtp_url: not a URL: {e}"))?;
        if u.password().is_some() {
            return Err(format!(
                "smtp_url: a password in the URL is refused (it would show in `config show` and logs); put it in {}",
                crate::env_names::SMTP_PASSWORD
            ));
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err("smtp_url: no host".into()),
        };
        // smtp:// is not a special scheme to the URL parser: an IP address stays a "domain".
        let loopback = match u.host() {
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost")
                    || d.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
            }
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        };
        let (security, port) = match u.scheme() {
            "smtps" => (Security::Tls, 465),
            "smtp" if loopback => (Security::Plain, 25),
            "smtp" => (Security::StartTls, 587),
            s => {
                return Err(format!("smtp_url: {s}:// is not smtp:// or smtps://"));
            }
        };
        let user = match u.username() {
            "" => None,
            s => Some(
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
        };
        let addr = |what: &str, s: &str| {
            s.parse::<Mailbox>()
                .map_err(|e| format!("{what}: {s:?} is not an e-mail address: {e}"))
        };
        let from = addr("from", from.ok_or("from: smtp_url needs a From address")?)?;
        if to.is_empty() {
            return Err("to: smtp_url needs at least one address to send to".into());
        }
        let to = to
            .iter()
            .map(|t| addr("to", t))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(MailSettings {
            host,
            port: u.port().unwrap_or(port),
            security,
            user,
            password,
            from,
            to,
        })
    }

    /// `smtps://host:465` as the log names it (never a password: the URL cannot hold one).
    pub fn shown(&self) -> String {
        let scheme = match self.security {
            Security::Tls => "smtps",
            _ => "smtp",
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}
