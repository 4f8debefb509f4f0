//! The one retry policy (issue: never hammer a throttled Canvas, never retry into a duplicate).
//!
//! Exponential backoff with full jitter, a wall-clock budget for the whole operation,
//! `Retry-After` honoured but capped. What is retried is decided by `HttpError::retryable`;
//! whether a *POST* may be retried at all is decided by the caller (see `client::create`).

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use super::error::HttpError;
use crate::exit::{Exit, Failure};

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total time an operation may spend, waits and attempts included.
    pub budget: Duration,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A server's `Retry-After` is honoured up to this.
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    pub fn new(budget: Duration) -> Self {
        RetryPolicy {
            budget,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(300),
        }
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

    /// `run` with the caller's own idea of what may be retried (a POST is stricter than a GET).
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
        let attempts = Cell::new(0u32);
        let mut attempt = attempt;
        let budget = self.budget;
        let cap = self.retry_after_cap;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .without_max_times();
        let result = (|| {
            attempts.set(attempts.get() + 1);
            attempt()
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e: &HttpError| may_retry(e) && start.elapsed() < budget)
        .adjust(|e: &HttpError, proposed: Option<Duration>| {
            let left = budget.saturating_sub(start.elapsed());
            if left.is_zero() {
                return None;
            }
            // Full jitter: a uniform wait in [0, backoff]; a Retry-After is a floor instead.
            let wait = match e.retry_after() {
                Some(ra) => ra.min(cap),
                None => proposed.map(|d| d.mul_f64(fastrand::f64()))?,
            };
            Some(wait.min(left))
        })
        .notify(|e: &HttpError, wait: Duration| {
            tracing::warn!(
                target: "canvas_sis",
                attempt = attempts.get(),
                "{what}: {e}; retrying in {:.1}s (attempt {})",
                wait.as_secs_f64(),
                attempts.get() + 1
            );
        })
        .await;
        result.map_err(|e| RetryError {
            attempts: attempts.get(),
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
        if self.last.retryable() {
            Failure::new(
                Exit::Unavailable,
                format!(
                    "{} failed {} time(s) over {}: {}",
                    self.what,
                    self.attempts,
                    humantime::format_duration(Duration::from_secs(self.elapsed.as_secs())),
                    self.last
                ),
            )
            .hint("Canvas is unreachable, failing or throttling; try again later, or raise --retry-budget")
        } else {
            self.last.into_failure()
        }
    }
}

impl From<RetryError> for Failure {
    fn from(e: RetryError) -> Failure {
        e.into_failure()
    }
}
