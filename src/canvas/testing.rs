//! Helpers for tests and benchmarks only (integration tests link the library as any user
//! does, so these are public, and hidden from the docs). Nothing in the tool calls them.

use std::time::Duration;

use super::client::Client;
use crate::exit::{Failure, Result};
use crate::settings::{Connection, Network, Source, Sourced};

/// A [`Client`] without a config file or command line: `base_url` (http is accepted on
/// loopback only, as everywhere), a token and an account, a 10 s retry budget.
pub fn client_for_tests(base_url: &str, token: &str, account: &str) -> Result<Client> {
    let base = crate::settings::check_base_url(base_url).map_err(Failure::config)?;
    let net = Network {
        base,
        account: account.to_string(),
        token: secrecy::SecretString::from(token.to_string()),
    };
    let c = Connection {
        base_url: Some(Sourced {
            value: base_url.to_string(),
            source: Source::Default,
        }),
        account_id: Sourced {
            value: account.to_string(),
            source: Source::Default,
        },
        token: None,
        ca_cert: None,
        retry_budget: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(60),
        dropped_token: None,
    };
    Client::new(&net, &c)
}
