//! Talking to Canvas: the HTTP client (for Canvas and the upload host), the API's types,
//! error shapes, retry, pagination, and creating an import.

pub mod client;
pub mod create;
pub mod error;
pub mod follow;
pub mod lost;
pub mod messages;
pub mod net;
pub mod ops;
pub mod paginate;
pub mod reports;
pub mod retry;
#[doc(hidden)]
pub mod testing;
pub mod types;
pub mod upload;

pub use client::{Body, Client};

/// How far this host's clock may be from Canvas's when imports are looked up by their
/// creation time (a lost answer, `watch --last`).
pub const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);
pub use error::HttpError;
pub use types::{Import, State};
