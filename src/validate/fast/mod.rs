//! The validator's fast kernel, fenced off from the rules: everything that is about
//! speed rather than Canvas (SIMD scanning, prefetching, hashing, the duplicate-line
//! count, the two-thread row pipeline) and every `unsafe` block of the validator.
//!
//! Rule code calls it through this small API:
//!
//! - [`Scanner`] reads a CSV stream as Ruby's CSV does (checking UTF-8 as it goes) into a
//!   [`Record`]: a checked record whose fields are handed out as `&str`
//!   ([`Record::field`], trimmed: [`Record::value`]); [`strip`] trims as Canvas does.
//! - [`pipeline::run`] scans the rows after the header and calls the row checks on
//!   [`Batch`]es of [`pipeline::Row`]s, in order (on a second thread for files of several batches).
//! - [`LineHashes`] counts exact duplicate lines in bounded memory.
//! - [`hash_bytes`], [`hash_lower`] and [`IdMap`] (with [`IdMap::prefetch`]) hold the
//!   bundle's id sets as 64-bit hashes.

mod dedup;
mod hash;
mod idmap;
pub mod pipeline;
mod scan;

pub use dedup::{DEFAULT_BUDGET, Dups, LineHashes};
pub use hash::{SEED, hash_bytes, hash_lower};
pub use idmap::{IdMap, prefetch};
pub use pipeline::Batch;
pub use scan::{Record, ScanError, Scanner, strip};

#[cfg(test)]
pub use pipeline::BATCH_ROWS;
