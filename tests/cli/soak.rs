//! Soak: many submit+watch cycles against a simulator that injects a random recoverable
//! fault each cycle. Ignored by default; `cargo test --test cli -- --ignored soak::` runs
//! SOAK_CYCLES (default 200) cycles, and `.ci/run` a short form.
//!
//! Asserted: 0 duplicate imports (exactly one created per cycle), 0 panics, every exit
//! code the one the contract gives, and a flat memory profile (peak RSS of the CLI
//! processes and of this process, which runs the simulators, does not grow).

use std::time::{Duration, Instant};

use crate::support::*;
use fake_canvas::{Config, Scenario};

const FAULTS: &[Scenario] = &[
    Scenario::Ok,
    Scenario::Warnings,
    Scenario::DropAfterCreate,
    Scenario::Unavailable503BeforeCreate,
    Scenario::Throttled403,
    Scenario::Throttled429,
    Scenario::Flaky5xx,
    Scenario::Hang,
    Scenario::TruncatedJson,
    Scenario::Html200,
    Scenario::RateLimitDecreasing,
];

/// This process's RSS; a missing figure fails the test (0 would pass the growth check).
fn rss_kb_self() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/self/status: {status}"))
}

fn children_peak_rss_kb() -> u64 {
    // SAFETY: getrusage writes into the struct we pass.
    let (rc, ru) = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru), ru)
    };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    ru.ru_maxrss as u64
}

#[test]
#[ignore = "soak: run with --ignored soak"]
fn soak() {
    let cycles: usize = std::env::var("SOAK_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let started = Instant::now();
    let mut seed = 0x5eed_u64;
    let mut rss_early = (0, 0);
    let mut by_fault = std::collections::BTreeMap::<&str, usize>::new();
    for cycle in 0..cycles {
        // xorshift: reproducible choice of fault.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let scenario = FAULTS[(seed % FAULTS.len() as u64) as usize];
        *by_fault.entry(scenario.name()).or_default() += 1;
        let w = World::with(Config {
            scenario,
            fault_count: 1,
            polls_to_finish: 2,
            hang_for: Duration::from_secs(30),
            ..Default::default()
        });
        let out = w
            .cmd()
            .arg("submit")
            .arg(sample_zip())
            .args([
                "--watch",
                "--interval",
                "1",
                "--max-polls",
                "30",
                "--read-timeout",
                "1s",
            ])
            .output()
            .unwrap();
        let code = out.status.code();
        let err = stderr(&out);
        assert!(
            !err.contains("panicked"),
            "cycle {cycle} ({scenario:?}) panicked: {err}"
        );
        let want = if scenario == Scenario::Warnings { 1 } else { 0 };
        assert_eq!(code, Some(want), "cycle {cycle} ({scenario:?}): {err}");
        assert_eq!(
            w.sim.created_count(),
            1,
            "cycle {cycle} ({scenario:?}): exactly one import"
        );
        if cycle == 9.min(cycles - 1) {
            rss_early = (children_peak_rss_kb(), rss_kb_self());
        }
    }
    let rss_end = (children_peak_rss_kb(), rss_kb_self());
    eprintln!(
        "soak: {cycles} cycles in {:.1}s; faults {by_fault:?}; CLI peak RSS {} kB after 10 cycles, {} kB at the end; test process RSS {} kB → {} kB",
        started.elapsed().as_secs_f64(),
        rss_early.0,
        rss_end.0,
        rss_early.1,
        rss_end.1
    );
    // Flat: the CLI's peak does not creep, and the simulators leave no growth behind
    // (generous slack for allocator noise).
    assert!(
        rss_end.0 <= rss_early.0 + 8 * 1024,
        "CLI peak RSS grew: {rss_early:?} → {rss_end:?}"
    );
    assert!(
        rss_end.1 <= rss_early.1 + 64 * 1024,
        "test process RSS grew: {rss_early:?} → {rss_end:?}"
    );
}
