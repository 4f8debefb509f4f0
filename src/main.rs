//! The canvas-sis binary: everything happens in `canvas_sis::run`, which returns the exit code.

fn main() {
    std::process::exit(i32::from(canvas_sis::run()));
}
