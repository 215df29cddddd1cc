//! The explicit retry policy shared by HTTP clients: exponential backoff with full jitter,
//! bounded in attempts and in total time, honouring a server's `Retry-After`.
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::domain::Failure;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1), or `None` to give up.
    /// `retry_after` (the server's word) replaces the jittered backoff when present.
    pub fn next_delay(&self, attempt: u32, elapsed: Duration, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let delay = retry_after.unwrap_or_else(|| {
            // Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^(n-1))].
            let ceiling = self.base_delay.saturating_mul(1u32 << (attempt - 1).min(16)).min(self.max_delay);
            ceiling.mul_f64(fastrand::f64())
        });
        (elapsed + delay <= self.budget).then_some(delay)
    }
}

/// What one attempt of a call came to, as the client that made it reads the answer.
pub enum Attempt<T, E> {
    /// An answer, or a final error: the call ends with it.
    Done(Result<T, E>),
    /// A failure worth another attempt, within the policy (`Failure::Status` carries the
    /// server's `Retry-After`, which then replaces the backoff).
    Retry(Failure),
    /// A failure not to retry (a write whose outcome is unknown): the call ends unavailable.
    GiveUp(Failure),
    /// Send again at once without counting an attempt (a redirect the client follows, with the
    /// call's state changed: its new URL).
    Again,
}

/// The one call loop of the HTTP clients: `attempt(n, state)` sends and reads one answer (it
/// builds the request, and says what the answer means) and hands the call's state back (where
/// it goes next: a followed redirect's URL); this backs off with jitter, honours `Retry-After`,
/// and gives up within the policy's attempts and time, with `unavailable(attempts, last)`.
pub async fn call_with<S, T, E, F>(
    policy: &RetryPolicy,
    op: &'static str,
    mut state: S,
    attempt: impl Fn(u32, S) -> F,
    unavailable: impl Fn(u32, Failure) -> E,
) -> Result<T, E>
where
    F: std::future::Future<Output = (S, Attempt<T, E>)>,
{
    let started = Instant::now();
    let mut n = 0u32;
    loop {
        n += 1;
        let (next, answer) = attempt(n, state).await;
        state = next;
        let last = match answer {
            Attempt::Done(r) => return r,
            Attempt::Again => {
                n -= 1;
                continue;
            }
            Attempt::GiveUp(last) => return Err(unavailable(n, last)),
            Attempt::Retry(last) => last,
        };
        let retry_after = match &last {
            Failure::Status { retry_after_ms: Some(ms), .. } => Some(Duration::from_millis(*ms)),
            _ => None,
        };
        match policy.next_delay(n, started.elapsed(), retry_after) {
            Some(d) => {
                tracing::debug!(op, attempt = n, delay_ms = d.as_millis() as u64, reason = %last, "retrying");
                tokio::time::sleep(d).await;
            }
            None => return Err(unavailable(n, last)),
        }
    }
}

/// A request that got no answer, as a `Failure`: its cause kept, its URL not (a lookup's URL
/// carries a candidate's email, and the failure reaches records and logs).
pub fn transport_failure(e: reqwest::Error) -> Failure {
    if e.is_timeout() {
        Failure::TimedOut
    } else if e.is_connect() {
        Failure::ConnectionFailed
    } else {
        Failure::Request(std::sync::Arc::new(e.without_url()))
    }
}

/// An answer whose body could not be read, its cause kept without the URL.
pub fn body_failure(status: u16, e: reqwest::Error) -> Failure {
    Failure::UnreadableBody { status, source: std::sync::Arc::new(e.without_url()) }
}

/// A status worth retrying, with the answer's `Retry-After`.
pub fn status_failure(resp: &reqwest::Response) -> Failure {
    let retry_after = parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER));
    Failure::Status { status: resp.status().as_u16(), retry_after_ms: retry_after.map(|d| d.as_millis() as u64) }
}

/// Paces requests to `rate` per second with bursts of up to `burst` (GCRA: each caller takes the
/// next slot of a virtual schedule that may run `burst - 1` slots ahead of now).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: u32,
    /// The theoretical arrival time of the next request.
    tat: Mutex<Instant>,
}

impl RateLimiter {
    pub fn per_second(rate: f64) -> Self {
        Self::with_burst(rate, 1)
    }

    pub fn with_burst(rate: f64, burst: u32) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 { rate } else { 1.0 };
        Self { interval: Duration::from_secs_f64(1.0 / rate), burst: burst.max(1), tat: Mutex::new(Instant::now()) }
    }

    pub async fn wait(&self) {
        self.wait_at_most(Duration::MAX).await;
    }

    /// Takes the next slot and waits for it, unless it is more than `max` away: then takes
    /// nothing and answers false at once (a caller with a deadline answers "retry later" instead
    /// of queueing past it).
    pub async fn wait_at_most(&self, max: Duration) -> bool {
        let start = {
            let mut tat = self.tat.lock().await;
            let now = Instant::now();
            let t = (*tat).max(now);
            let ahead = self.interval * (self.burst - 1);
            let start = if t.duration_since(now) > ahead { t - ahead } else { now };
            if start.duration_since(now) > max {
                return false;
            }
            *tat = t + self.interval;
            start
        };
        tokio::time::sleep_until(start).await;
        true
    }
}

/// Parses `Retry-After` in seconds (the HTTP-date form is ignored: our APIs send seconds).
pub fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let secs: f64 = value?.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed request's error names its URL, and a lookup's URL carries a candidate's email:
    /// the failure kept for records and logs must not.
    #[tokio::test]
    async fn a_failure_never_carries_the_request_s_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts, reads the request, and closes without an answer.
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
            }
        });
        let url = format!("http://{addr}/v1/opportunities?email=ada%40example.com");
        let e = reqwest::Client::new().get(&url).send().await.expect_err("no answer");
        let failure = transport_failure(e);
        let text = crate::domain::ports::error_chain(&failure);
        assert!(!text.contains("ada") && !text.contains("email="), "{text}");
    }

    #[test]
    fn backoff_is_bounded_by_attempts_budget_and_cap() {
        let p = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
            budget: Duration::from_secs(1),
        };
        for attempt in 1..4 {
            let d = p.next_delay(attempt, Duration::ZERO, None).unwrap();
            assert!(d <= Duration::from_millis(250), "{d:?}");
        }
        assert_eq!(p.next_delay(4, Duration::ZERO, None), None, "attempts exhausted");
        assert_eq!(
            p.next_delay(1, Duration::from_millis(900), Some(Duration::from_millis(200))),
            None,
            "budget exhausted"
        );
        assert_eq!(
            p.next_delay(1, Duration::ZERO, Some(Duration::from_millis(700))),
            Some(Duration::from_millis(700)),
            "Retry-After wins"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_paces_requests() {
        let l = RateLimiter::per_second(5.0);
        let t0 = Instant::now();
        for _ in 0..6 {
            l.wait().await;
        }
        // Six requests at 5/s: the sixth starts one second after the first.
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_too_far_away_is_refused_at_once_and_not_taken() {
        let l = RateLimiter::with_burst(10.0, 20);
        let t0 = Instant::now();
        for _ in 0..30 {
            assert!(l.wait_at_most(Duration::from_secs(1)).await);
        }
        assert_eq!(t0.elapsed(), Duration::from_secs(1), "20 at once, 10 in the next second");
        let t1 = Instant::now();
        // Everything queued is spent: the next slot is 0.1 s away.
        assert!(!l.wait_at_most(Duration::from_millis(50)).await, "too far");
        assert_eq!(t1.elapsed(), Duration::ZERO, "refused without waiting");
        assert!(l.wait_at_most(Duration::from_millis(100)).await, "the refused slot was not taken");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_holds() {
        let l = RateLimiter::with_burst(10.0, 20);
        let t0 = Instant::now();
        for _ in 0..20 {
            l.wait().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO, "20 at once");
        for _ in 0..10 {
            l.wait().await;
        }
        assert_eq!(t0.elapsed(), Duration::from_secs(1), "then 10 per second");
    }
}
