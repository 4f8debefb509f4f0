//! Small pieces of how Canvas speaks that several parts of the simulator share (Canvas's
//! boolean parsing, its JSON timestamps, the files host's verifier), kept apart so that the
//! server, the store, the report and the state need not import each other for them.

use jiff::Timestamp;

/// §1.1: Canvas's value_to_boolean. The word lists match the whole string (no trimming:
/// `" true"` is not `"true"`); anything else is Ruby's `to_i != 0`, which skips leading
/// whitespace, so `" 2"` is true and `" yes"` false.
pub(crate) fn value_to_boolean(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    match l.as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => true,
        "false" | "f" | "no" | "n" | "off" | "0" => false,
        _ => {
            // `to_i != 0` without overflow: some digit after the optional sign is not 0.
            let t = l.trim_start();
            let t = t.strip_prefix(['-', '+']).unwrap_or(t);
            t.chars()
                .take_while(|c| c.is_ascii_digit())
                .any(|c| c != '0')
        }
    }
}

/// Timestamps in the JSON: UTC, whole seconds, `Z` (§1.2).
pub fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The `verifier` of a file URL on the files host (any stable token will do).
pub fn verifier(file_id: u64) -> String {
    format!("v{:x}", file_id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16)
}
