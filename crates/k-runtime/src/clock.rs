//! Injectable time. Components that wait (work queues, controllers, leader
//! election) take a [`Clock`], so tests run on a [`FakeClock`] they advance
//! by hand instead of sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::oneshot;

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current monotonic time.
    fn now(&self) -> Instant;

    /// The current wall-clock time (for timestamps written into objects).
    fn wall(&self) -> DateTime<Utc>;

    /// Completes once [`now`](Self::now) has reached `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;
}

/// The real time (tokio's timer).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

/// A clock that only moves when told to ([`advance`](Self::advance)).
/// Clones share the same time.
#[derive(Clone)]
pub struct FakeClock {
    inner: Arc<Mutex<FakeState>>,
}

struct FakeState {
    start: Instant,
    start_wall: DateTime<Utc>,
    elapsed: Duration,
    sleepers: Vec<(Instant, oneshot::Sender<()>)>,
}

impl FakeClock {
    /// A fake clock at the current real time.
    pub fn new() -> Self {
        FakeClock {
            inner: Arc::new(Mutex::new(FakeState {
                start: Instant::now(),
                start_wall: Utc::now(),
                elapsed: Duration::ZERO,
                sleepers: Vec::new(),
            })),
        }
    }

    /// Moves time forward, waking every sleeper whose deadline it reaches.
    pub fn advance(&self, by: Duration) {
        let due = {
            let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            state.elapsed += by;
            let now = state.start + state.elapsed;
            let (due, waiting): (Vec<_>, Vec<_>) = state.sleepers.drain(..).partition(|(at, _)| *at <= now);
            state.sleepers = waiting;
            due
        };
        for (_, wake) in due {
            let _ = wake.send(());
        }
    }

    /// How many sleepers are waiting (for tests that advance time only once
    /// something waits).
    pub fn sleepers(&self) -> usize {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.sleepers.retain(|(_, wake)| !wake.is_closed());
        state.sleepers.len()
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("FakeClock").field("elapsed", &state.elapsed).finish_non_exhaustive()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        let state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.start + state.elapsed
    }

    fn wall(&self) -> DateTime<Utc> {
        let state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.start_wall + chrono::Duration::from_std(state.elapsed).unwrap_or_default()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if deadline <= state.start + state.elapsed {
                return Box::pin(async {});
            }
            state.sleepers.push((deadline, tx));
        }
        Box::pin(async move {
            // A dropped clock never wakes its sleepers: they wait forever, as
            // time never reaches them.
            if rx.await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_sleepers_wake_when_time_reaches_them() {
        let clock = FakeClock::new();
        let start = clock.now();
        let mut soon = clock.sleep_until(start + Duration::from_secs(1));
        let mut later = clock.sleep_until(start + Duration::from_secs(10));
        assert_eq!(clock.sleepers(), 2);
        clock.advance(Duration::from_millis(999));
        assert!(futures::poll!(&mut soon).is_pending());
        clock.advance(Duration::from_millis(1));
        assert!(futures::poll!(&mut soon).is_ready());
        assert!(futures::poll!(&mut later).is_pending());
        assert_eq!(clock.now() - start, Duration::from_secs(1));
        clock.advance(Duration::from_secs(9));
        assert!(futures::poll!(&mut later).is_ready());
        assert_eq!(clock.wall() - clock.wall(), chrono::Duration::zero());
    }

    #[tokio::test]
    async fn a_past_deadline_is_ready_at_once() {
        let clock = FakeClock::new();
        let mut past = clock.sleep_until(clock.now());
        assert!(futures::poll!(&mut past).is_ready());
        let mut real = SystemClock.sleep_until(Instant::now());
        tokio::time::timeout(Duration::from_secs(1), &mut real).await.expect("the system clock's past deadline");
    }
}
