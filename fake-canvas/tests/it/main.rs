//! The simulator's tests, in one test binary: its API, the Canvas behaviours it pins, its
//! fault scenarios, its binary, and (with `CANVAS_SIS_EXTERNAL_TESTS=1`) conformance with
//! canvasapi. [`support`] is the HTTP client and helpers they share.

mod support;

mod api;
mod audit;
mod binary;
mod canvasapi_conformance;
mod fidelity;
mod scenarios;
mod store;
