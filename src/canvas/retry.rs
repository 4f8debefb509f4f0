//! The one retry policy (issue: never hammer a throttled Canvas, never retry into a duplicate).
//!
//! Exponential backoff with full jitter, a wall-clock budget for the whole operation,
//! `Retry-After` honoured but capped. [`retry_class`] decides what may be retried and how
//! long. Whether a request may be sent again at all depends on what it does, and three
//! predicates here answer it: [`idempotent_may_retry`] (a GET), [`not_acted_on`] (a POST or
//! PUT, which may not be repeated), and, once a POST that creates an import has failed for
//! good, [`may_have_acted`] (then the import is looked up, never sent again blindly:
//! `canvas::lost`). [`may_resend`] picks between the first two by method.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;

use super::error::HttpError;
use crate::exit::{Exit, Failure};

/// How a failed request may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Never: the same request gets the same answer (a 4xx, a 500, a certificate that does
    /// not verify, a refused TLS handshake).
    Never,
    /// A few quick retries ([`RetryPolicy::quick_attempts`] within
    /// [`RetryPolicy::quick_window`]): the host does not resolve, or refuses connections.
    /// A blip of a resolver or a restart clears in seconds; a wrong URL never does.
    Briefly,
    /// With backoff for the whole `--retry-budget`: throttling, 502/503/504, timeouts,
    /// dropped connections, answers that are not what the API sends.
    WithinBudget,
}

/// May `e` be retried, and for how long?
pub fn retry_class(e: &HttpError) -> Retry {
    match e {
        HttpError::Tls { .. } | HttpError::Unsendable { .. } | HttpError::Elsewhere { .. } => {
            Retry::Never
        }
        HttpError::Transport {
            unreachable: Some(_),
            ..
        } => Retry::Briefly,
        HttpError::Transport { .. } => Retry::WithinBudget,
        HttpError::Status {
            throttled: true, ..
        } => Retry::WithinBudget,
        HttpError::Status {
            status: 429 | 502 | 503 | 504,
            ..
        } => Retry::WithinBudget,
        HttpError::Status { .. } => Retry::Never,
        HttpError::BadBody {
            oversized: true, ..
        } => Retry::Never,
        HttpError::BadBody { .. } => Retry::WithinBudget,
    }
}

/// A request that changes nothing (GET): may be sent again whenever the error is retryable
/// at all.
pub fn idempotent_may_retry(e: &HttpError) -> bool {
    retry_class(e) != Retry::Never
}

// Here rather than in error.rs: what may be retried is decided in this file alone.
impl HttpError {
    /// Whether the same request may be sent again at all (how often: [`retry_class`]).
    pub fn retryable(&self) -> bool {
        idempotent_may_retry(self)
    }
}

/// A request that creates or changes something (POST, PUT): sent again only when Canvas
/// surely did not act on it: no connection was made; or it failed before any of its body
/// went out, and not by a timeout (which may strike after Canvas got it all); or Canvas
/// answered that it did nothing (throttling, 503). A 502 or 504 is a proxy's word, not
/// Canvas's: Canvas may have acted.
pub fn not_acted_on(e: &HttpError) -> bool {
    match e {
        HttpError::Transport {
            connect,
            body_sent,
            timeout,
            ..
        } => *connect || (!*body_sent && !*timeout),
        HttpError::Status { status, .. } => idempotent_may_retry(e) && !gateway_gave_up(*status),
        HttpError::BadBody { .. } | HttpError::Tls { .. } => false,
        // Never left this host; a GET changes nothing.
        HttpError::Unsendable { .. } | HttpError::Elsewhere { .. } => true,
    }
}

/// After a POST failed for good: may Canvas have acted on it all the same? Yes when the
/// request went out and its answer was lost (the connection broke or timed out after the
/// body was sent, or a 2xx came back unreadable). A status or TLS failure is an answer.
pub fn may_have_acted(e: &HttpError) -> bool {
    match e {
        HttpError::Transport { .. } => !not_acted_on(e),
        HttpError::BadBody { .. } => true,
        HttpError::Status { status, .. } => gateway_gave_up(*status),
        HttpError::Tls { .. } | HttpError::Unsendable { .. } | HttpError::Elsewhere { .. } => false,
    }
}

/// The least wait after a throttled answer with no `Retry-After`: the time Canvas's bucket
/// takes to leak one request's up-front cost (50 units at 10 a second, §7.2).
pub const THROTTLE_FLOOR: Duration = Duration::from_secs(5);

/// 502 and 504 come from a proxy in front of Canvas that stopped waiting for it, or lost
/// it, after it may have got the whole request: the import may exist all the same.
fn gateway_gave_up(status: u16) -> bool {
    matches!(status, 502 | 504)
}

/// May a request with `method` that failed with `e` be sent again?
pub fn may_resend(method: &Method, e: &HttpError) -> bool {
    if method == Method::GET || method == Method::HEAD {
        idempotent_may_retry(e)
    } else if method == Method::PUT
        && matches!(e, HttpError::Status { status, .. } if gateway_gave_up(*status))
    {
        // An abort or restore done twice does it once: retried. A create (POST) is
        // looked up first ([`may_have_acted`]), never sent again blindly.
        true
    } else {
        not_acted_on(e)
    }
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total time an operation may spend, waits and attempts included.
    pub budget: Duration,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A server's `Retry-After` is honoured up to this.
    pub retry_after_cap: Duration,
    /// Attempts in all, whatever the error (`config check`: 1).
    pub max_attempts: u32,
    /// A run of [`Retry::Briefly`] failures gets at most this many attempts…
    pub quick_attempts: u32,
    /// …waiting this long after the first, twice as long after the next, and so on…
    pub quick_delay: Duration,
    /// …and ends once this long has passed since the run's first attempt started.
    pub quick_window: Duration,
}

/// What the policy knows of an operation's attempts so far.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    /// Attempts made, the failed one included.
    attempts: u32,
    /// When (since the operation began) the attempt that just failed started.
    attempt_started: Duration,
    /// The current run of `Briefly` failures: how many, and when its first attempt started.
    quick_run: u32,
    quick_since: Duration,
}

impl RetryPolicy {
    pub fn new(budget: Duration) -> Self {
        RetryPolicy {
            budget,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(300),
            max_attempts: u32::MAX,
            quick_attempts: 5,
            quick_delay: Duration::from_secs(1),
            quick_window: Duration::from_secs(25),
        }
    }

    /// No retries at all: one attempt per request.
    pub fn once(mut self) -> Self {
        self.max_attempts = 1;
        self
    }

    /// After a failed attempt: how long to wait before the next one, or None to stop.
    /// `elapsed` is the operation's time so far, `proposed` the exponential backoff's next
    /// step, `jitter` a uniform number in [0, 1).
    fn next_wait(
        &self,
        e: &HttpError,
        t: &mut Tally,
        elapsed: Duration,
        proposed: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        let class = retry_class(e);
        if class == Retry::Briefly {
            if t.quick_run == 0 {
                t.quick_since = t.attempt_started;
            }
            t.quick_run += 1;
        } else {
            t.quick_run = 0;
        }
        let left = self.budget.saturating_sub(elapsed);
        if t.attempts >= self.max_attempts || left.is_zero() {
            return None;
        }
        let wait = match class {
            Retry::Never => return None,
            Retry::Briefly => {
                if t.quick_run >= self.quick_attempts {
                    return None;
                }
                // 1 s, 2 s, 4 s, … each between half and all of that ("equal jitter").
                let step = self
                    .quick_delay
                    .saturating_mul(1 << (t.quick_run - 1).min(16));
                let wait = step.mul_f64(0.5 + 0.5 * jitter);
                if (elapsed + wait).saturating_sub(t.quick_since) > self.quick_window {
                    return None;
                }
                wait
            }
            // Full jitter: a uniform wait in [0, backoff]; a Retry-After is a floor instead.
            Retry::WithinBudget => match e.retry_after() {
                Some(ra) => ra.min(self.retry_after_cap),
                // Throttled: Canvas's bucket leaks 10 units a second and a request reserves
                // 50 up front (§7.2), so an earlier retry is throttled again.
                // (`status_error` marks every 429, and a 403 saying so, as throttled.)
                None if matches!(
                    e,
                    HttpError::Status {
                        throttled: true,
                        ..
                    }
                ) =>
                {
                    proposed?.mul_f64(jitter).max(THROTTLE_FLOOR)
                }
                None => proposed?.mul_f64(jitter),
            },
        };
        Some(wait.min(left))
    }

    /// Run `attempt` until it succeeds, fails for good, or the budget is spent.
    ///
    /// On a final failure after retries, the error becomes exit 69 saying what failed and how
    /// often; a non-retryable error keeps its own exit code.
    pub async fn run<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, RetryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        self.run_with(what, HttpError::retryable, attempt).await
    }

    /// `run` for a request with `method`: what may be sent again is [`may_resend`]'s answer.
    pub async fn run_for<T, F, Fut>(
        &self,
        method: &Method,
        what: &str,
        attempt: F,
    ) -> Result<T, RetryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        self.run_with(what, |e| may_resend(method, e), attempt)
            .await
    }

    /// `run` with the caller's own idea of what may be retried.
    pub async fn run_with<T, F, Fut>(
        &self,
        what: &str,
        may_retry: impl Fn(&HttpError) -> bool,
        attempt: F,
    ) -> Result<T, RetryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let start = Instant::now();
        let tally = Cell::new(Tally::default());
        let mut attempt = attempt;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .without_max_times();
        let result = (|| {
            let mut t = tally.get();
            t.attempts += 1;
            t.attempt_started = start.elapsed();
            tally.set(t);
            attempt()
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e: &HttpError| may_retry(e))
        .adjust(|e: &HttpError, proposed: Option<Duration>| {
            let mut t = tally.get();
            let wait = self.next_wait(e, &mut t, start.elapsed(), proposed, fastrand::f64());
            tally.set(t);
            wait
        })
        .notify(|e: &HttpError, wait: Duration| {
            let attempts = tally.get().attempts;
            tracing::warn!(
                target: "canvas_sis",
                attempt = attempts,
                "{what}: {e}; retrying in {:.1}s (attempt {})",
                wait.as_secs_f64(),
                attempts + 1
            );
        })
        .await;
        result.map_err(|e| RetryError {
            attempts: tally.get().attempts,
            elapsed: start.elapsed(),
            what: what.to_string(),
            last: e,
        })
    }
}

/// The last error of an operation, with how often it was tried.
#[derive(Debug)]
pub struct RetryError {
    pub attempts: u32,
    pub elapsed: Duration,
    pub what: String,
    pub last: HttpError,
}

impl RetryError {
    pub fn into_failure(self) -> Failure {
        if !self.last.retryable() {
            return self.last.into_failure();
        }
        let message = if self.attempts <= 1 {
            format!("{}: {}", self.what, self.last)
        } else {
            format!(
                "{} failed {} time(s) over {}: {}",
                self.what,
                self.attempts,
                humantime::format_duration(Duration::from_secs(self.elapsed.as_secs())),
                self.last
            )
        };
        let hint = self.last.hint().unwrap_or_else(|| {
            "Canvas is unreachable, failing or throttling; try again later, or raise --retry-budget"
                .to_string()
        });
        Failure::new(Exit::Unavailable, message)
            .kind(self.last.kind())
            .hint(hint)
    }
}

impl From<RetryError> for Failure {
    fn from(e: RetryError) -> Failure {
        e.into_failure()
    }
}

/// Slow down when Canvas's rate-limit bucket runs low (§7.2: 600 units, throttled at 0,
/// leaking 10 units a second): space polls out whatever the interval says.
pub fn pace(interval: Duration, remaining: Option<f64>) -> Duration {
    match remaining {
        Some(r) if r < 100.0 => (interval * 4).max(Duration::from_secs(5)),
        Some(r) if r < 200.0 => (interval * 2).max(Duration::from_secs(2)),
        Some(r) if r < 300.0 => interval.max(Duration::from_millis(500)),
        _ => interval,
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::{TlsProblem, Unreachable};
    use super::*;

    fn transport(unreachable: Option<Unreachable>, connect: bool, timeout: bool) -> HttpError {
        HttpError::Transport {
            url: "https://canvas.example.edu/api/v1/accounts/self".into(),
            connect,
            timeout,
            body_sent: false,
            detail: String::new(),
            unreachable,
        }
    }

    fn status(status: u16, throttled: bool) -> HttpError {
        HttpError::Status {
            url: "u".into(),
            status,
            throttled,
            json: !throttled,
            message: String::new(),
            retry_after: None,
        }
    }

    fn tls(problem: TlsProblem) -> HttpError {
        HttpError::Tls {
            url: "u".into(),
            host: "canvas.example.edu".into(),
            problem,
            detail: String::new(),
        }
    }

    fn refused() -> HttpError {
        transport(
            Some(Unreachable::Refused {
                addr: "127.0.0.1:9".into(),
            }),
            true,
            false,
        )
    }

    #[test]
    fn what_may_be_retried() {
        let host = || "nonexistent.invalid".to_string();
        let table: Vec<(&str, HttpError, Retry)> = vec![
            ("connection refused", refused(), Retry::Briefly),
            (
                "no such host",
                transport(Some(Unreachable::NoSuchHost { host: host() }), true, false),
                Retry::Briefly,
            ),
            (
                "no DNS answer",
                transport(Some(Unreachable::DnsNoAnswer { host: host() }), true, false),
                Retry::Briefly,
            ),
            (
                "other DNS failure",
                transport(
                    Some(Unreachable::DnsFailed {
                        host: host(),
                        why: "x".into(),
                    }),
                    true,
                    false,
                ),
                Retry::Briefly,
            ),
            (
                "connect timeout",
                transport(None, true, true),
                Retry::WithinBudget,
            ),
            (
                "read timeout",
                transport(None, false, true),
                Retry::WithinBudget,
            ),
            (
                "connection reset",
                transport(None, false, false),
                Retry::WithinBudget,
            ),
            (
                "unknown issuer",
                tls(TlsProblem::UnknownIssuer),
                Retry::Never,
            ),
            (
                "expired certificate",
                tls(TlsProblem::Expired {
                    not_after: Some(0),
                    now: Some(1),
                }),
                Retry::Never,
            ),
            (
                "wrong host name",
                tls(TlsProblem::WrongHost {
                    presented: vec!["a.example".into()],
                }),
                Retry::Never,
            ),
            (
                "client certificate wanted",
                tls(TlsProblem::ClientCertRequired),
                Retry::Never,
            ),
            (
                "handshake alert",
                tls(TlsProblem::Refused {
                    alert: "HandshakeFailure".into(),
                }),
                Retry::Never,
            ),
            (
                "plain http on the port",
                tls(TlsProblem::NotTls("x".into())),
                Retry::Never,
            ),
            ("429", status(429, false), Retry::WithinBudget),
            ("throttled 403", status(403, true), Retry::WithinBudget),
            ("502", status(502, false), Retry::WithinBudget),
            ("503", status(503, false), Retry::WithinBudget),
            ("504", status(504, false), Retry::WithinBudget),
            ("500", status(500, false), Retry::Never),
            ("401", status(401, false), Retry::Never),
            ("403 JSON", status(403, false), Retry::Never),
            ("404", status(404, false), Retry::Never),
            ("422", status(422, false), Retry::Never),
            (
                "bad body",
                HttpError::BadBody {
                    url: "u".into(),
                    status: 200,
                    detail: String::new(),
                    body_start: String::new(),
                    oversized: false,
                },
                Retry::WithinBudget,
            ),
            (
                "an answer over the cap",
                HttpError::BadBody {
                    url: "u".into(),
                    status: 200,
                    detail: String::new(),
                    body_start: String::new(),
                    oversized: true,
                },
                Retry::Never,
            ),
        ];
        for (name, e, want) in &table {
            assert_eq!(retry_class(e), *want, "{name}");
            assert_eq!(e.retryable(), *want != Retry::Never, "{name}");
        }
    }

    /// Whether a failed request is sent again, and whether (when it is not) Canvas may have
    /// acted on it: by what failed × the method × whether any of the body went out.
    #[test]
    fn what_may_be_sent_again() {
        fn lost(connect: bool, timeout: bool, body_sent: bool) -> HttpError {
            HttpError::Transport {
                url: "u".into(),
                connect,
                timeout,
                body_sent,
                detail: String::new(),
                unreachable: None,
            }
        }
        let bad_body = || HttpError::BadBody {
            url: "u".into(),
            status: 200,
            detail: String::new(),
            body_start: String::new(),
            oversized: false,
        };
        let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
        // (what, error, method, resent, may have acted)
        #[rustfmt::skip]
        let table: Vec<(&str, HttpError, &Method, bool, bool)> = vec![
            ("refused", refused(), &get, true, false),
            ("refused", refused(), &post, true, false),
            ("refused", refused(), &put, true, false),
            ("connect timeout", lost(true, true, false), &post, true, false),
            ("reset, nothing sent", lost(false, false, false), &get, true, false),
            ("reset, nothing sent", lost(false, false, false), &post, true, false),
            ("reset, body sent", lost(false, false, true), &get, true, false),
            ("reset, body sent", lost(false, false, true), &post, false, true),
            ("reset, body sent", lost(false, false, true), &put, false, true),
            ("read timeout, nothing sent", lost(false, true, false), &get, true, false),
            ("read timeout, nothing sent", lost(false, true, false), &post, false, true),
            ("read timeout, body sent", lost(false, true, true), &post, false, true),
            ("truncated 200", bad_body(), &get, true, false),
            ("truncated 200", bad_body(), &post, false, true),
            ("429", status(429, false), &get, true, false),
            ("429", status(429, false), &post, true, false),
            ("throttled 403", status(403, true), &post, true, false),
            ("502", status(502, false), &post, false, true),
            ("502", status(502, false), &put, true, false),
            ("503", status(503, false), &put, true, false),
            ("503", status(503, false), &post, true, false),
            ("504", status(504, false), &post, false, true),
            ("504", status(504, false), &get, true, false),
            ("500", status(500, false), &get, false, false),
            ("500", status(500, false), &post, false, false),
            ("400", status(400, false), &post, false, false),
            ("401", status(401, false), &get, false, false),
            ("404", status(404, false), &put, false, false),
            ("422", status(422, false), &post, false, false),
            ("unknown issuer", tls(TlsProblem::UnknownIssuer), &get, false, false),
            ("unknown issuer", tls(TlsProblem::UnknownIssuer), &post, false, false),
        ];
        for (what, e, m, resent, acted) in &table {
            assert_eq!(may_resend(m, e), *resent, "{what}, {m}: resent");
            if !resent && *m != Method::GET {
                assert_eq!(may_have_acted(e), *acted, "{what}, {m}: may have acted");
            }
            // A POST is never both resent and looked up.
            assert!(!(not_acted_on(e) && may_have_acted(e)), "{what}");
        }
    }

    /// Play an operation whose every attempt fails with `e` and takes `attempt_takes`:
    /// (attempts, total time) under the policy, with the longest jitter.
    fn play(p: &RetryPolicy, e: &HttpError, attempt_takes: Duration) -> (u32, Duration) {
        let mut t = Tally::default();
        let mut clock = Duration::ZERO;
        let mut backoff = p.min_delay;
        for _ in 0..10_000 {
            t.attempts += 1;
            t.attempt_started = clock;
            clock += attempt_takes;
            match p.next_wait(e, &mut t, clock, Some(backoff), 0.999_999) {
                None => return (t.attempts, clock),
                Some(w) => clock += w,
            }
            backoff = (backoff * 2).min(p.max_delay);
        }
        panic!("never stopped");
    }

    #[test]
    fn unreachable_hosts_get_a_few_quick_retries_not_the_budget() {
        let p = RetryPolicy::new(Duration::from_secs(600));
        let (n, took) = play(&p, &refused(), Duration::from_millis(1));
        assert_eq!(n, 5);
        assert!(took < Duration::from_secs(30), "{took:?}");
        assert!(took >= Duration::from_secs(7), "{took:?}");
        // Slow lookups (a resolver that times out) end the run by the window, not the count.
        let (n, took) = play(&p, &refused(), Duration::from_secs(10));
        assert!(n < 5, "{n}");
        assert!(took <= Duration::from_secs(45), "{took:?}");
        // A short budget still wins.
        let (_, took) = play(
            &RetryPolicy::new(Duration::from_secs(2)),
            &refused(),
            Duration::ZERO,
        );
        assert!(took <= Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn throttling_is_retried_for_the_whole_budget() {
        let p = RetryPolicy::new(Duration::from_secs(600));
        let (n, took) = play(&p, &status(503, false), Duration::from_millis(1));
        assert!(n > 10, "{n}");
        assert!(took >= Duration::from_secs(599), "{took:?}");
    }

    #[test]
    fn a_throttled_answer_waits_for_the_bucket_to_leak() {
        let p = RetryPolicy::new(Duration::from_secs(600));
        for e in [status(403, true), status(429, true)] {
            let mut t = Tally {
                attempts: 1,
                ..Tally::default()
            };
            // Even with the shortest jitter.
            let w = p.next_wait(&e, &mut t, Duration::ZERO, Some(p.min_delay), 0.0);
            assert_eq!(w, Some(THROTTLE_FLOOR), "{e:?}");
        }
        // A 503 is not throttling: full jitter as before.
        let mut t = Tally {
            attempts: 1,
            ..Tally::default()
        };
        let w = p.next_wait(
            &status(503, false),
            &mut t,
            Duration::ZERO,
            Some(p.min_delay),
            0.0,
        );
        assert_eq!(w, Some(Duration::ZERO));
    }

    #[test]
    fn once_means_one_attempt_and_tls_means_none_again() {
        let p = RetryPolicy::new(Duration::from_secs(600)).once();
        assert_eq!(play(&p, &status(503, false), Duration::ZERO).0, 1);
        assert_eq!(play(&p, &refused(), Duration::ZERO).0, 1);
        let p = RetryPolicy::new(Duration::from_secs(600));
        assert_eq!(
            play(&p, &tls(TlsProblem::UnknownIssuer), Duration::ZERO).0,
            1
        );
    }

    #[test]
    fn another_error_starts_a_new_quick_run() {
        let p = RetryPolicy::new(Duration::from_secs(600));
        let mut t = Tally::default();
        let mut clock = Duration::ZERO;
        let mut waits = 0;
        // refused ×4, a 503, refused ×4: all retried (each run of refusals stays under 5).
        for e in (0..4)
            .map(|_| refused())
            .chain([status(503, false)])
            .chain((0..4).map(|_| refused()))
        {
            t.attempts += 1;
            t.attempt_started = clock;
            let w = p
                .next_wait(&e, &mut t, clock, Some(Duration::from_secs(1)), 0.5)
                .expect("retried");
            clock += w;
            waits += 1;
        }
        assert_eq!(waits, 9);
        // The fifth refusal in a row stops it.
        t.attempts += 1;
        assert_eq!(p.next_wait(&refused(), &mut t, clock, None, 0.5), None);
    }

    #[test]
    fn polls_slow_down_as_the_bucket_drains() {
        let i = Duration::from_secs(1);
        assert_eq!(pace(i, None), i);
        assert_eq!(pace(i, Some(600.0)), i);
        assert_eq!(
            pace(Duration::ZERO, Some(250.0)),
            Duration::from_millis(500)
        );
        assert_eq!(pace(i, Some(150.0)), Duration::from_secs(2));
        assert_eq!(
            pace(Duration::from_secs(60), Some(10.0)),
            Duration::from_secs(240)
        );
    }
}
