//! `cfg(external_tests)`: set when `CANVAS_SIS_EXTERNAL_TESTS=1`, as in fake-canvas/build.rs.
//! Tests that need tools from outside cargo are ignored without them, and fail loudly when
//! `CANVAS_SIS_EXTERNAL_TESTS=1` says they are there and one is missing: tests/cli/report.rs
//! opens the report in a real headless Chromium (which `.ci/install-tools` installs), and
//! tests/validate/ims.rs runs python3 on samples/ims/make.py.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(external_tests)");
    println!("cargo::rerun-if-env-changed=CANVAS_SIS_EXTERNAL_TESTS");
    if std::env::var("CANVAS_SIS_EXTERNAL_TESTS").as_deref() == Ok("1") {
        println!("cargo::rustc-cfg=external_tests");
    }
}
