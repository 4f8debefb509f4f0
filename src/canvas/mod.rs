//! Talking to Canvas: the HTTP client, the API's types, error shapes, retry and pagination.

pub mod client;
pub mod error;
pub mod follow;
pub mod messages;
pub mod net;
pub mod ops;
pub mod paginate;
pub mod retry;
pub mod types;
pub mod upload;

pub use client::{Body, Client};

/// How far this host's clock may be from Canvas's when imports are looked up by their
/// creation time (a lost answer, `watch --last`).
pub const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);
pub use error::HttpError;
pub use types::{Import, State};
