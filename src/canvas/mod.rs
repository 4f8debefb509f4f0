//! Talking to Canvas: the HTTP client (for Canvas and the upload host), the API's types,
//! error shapes, retry, pagination, and creating an import.

pub mod client;
pub mod create;
pub mod error;
pub mod lost;
pub mod net;
pub mod ops;
pub mod paginate;
pub mod retry;
#[doc(hidden)]
pub mod testing;
pub mod types;
pub mod upload;

pub use client::{Body, Client};
pub use error::HttpError;
pub use types::{Import, State};
