//! `cfg(external_tests)`: set when `CANVAS_SIS_EXTERNAL_TESTS=1`, as in fake-canvas/build.rs.
//! Tests that need a tool from outside cargo (tests/validate/ims.rs runs python3 on
//! samples/ims/make.py) are ignored without it, and fail loudly with it when the tool is
//! missing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(external_tests)");
    println!("cargo::rerun-if-env-changed=CANVAS_SIS_EXTERNAL_TESTS");
    if std::env::var("CANVAS_SIS_EXTERNAL_TESTS").as_deref() == Ok("1") {
        println!("cargo::rustc-cfg=external_tests");
    }
}
