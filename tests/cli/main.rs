//! The binary-level tests: the real `canvas-sis` against the simulator (and wiremock), and
//! the upload flow through the library. One test binary, so one link; each module covers one
//! area, and [`support`] is the fixture they share.
//!
//! `soak` is ignored; `.ci/run` runs its short form:
//! `SOAK_CYCLES=30 cargo test --test cli -- --ignored soak::`.

mod support;

mod api_audit;
mod big_syslog;
mod big_upload;
mod config;
mod contract_audit;
mod convert;
mod demo;
mod example_config;
mod faults;
mod guard;
mod ims;
mod interrupts;
mod json;
mod mail;
mod mocked_canvas;
mod ops_abort_restore;
mod ops_config;
mod ops_errors;
mod ops_list;
mod ops_status;
mod plan;
mod record;
mod report;
mod soak;
mod submit;
mod tls;
mod upload;
