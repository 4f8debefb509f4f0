//! Talking to Canvas: the HTTP client, the API's types, error shapes, retry and pagination.

pub mod client;
pub mod error;
pub mod net;
pub mod ops;
pub mod paginate;
pub mod retry;
pub mod types;
pub mod upload;

pub use client::{Body, Client};
pub use error::HttpError;
pub use types::{Import, State};
