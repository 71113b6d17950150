//! Leader election on coordination.k8s.io/v1 Leases, as client-go does it.
//!
//! Candidates share one Lease. The holder renews it every `retry_period`;
//! the others try to take it every `retry_period` and succeed once they have
//! seen the same record unchanged for `lease_duration` (measured on their
//! own clock, so clock skew between machines does not matter). Every write
//! is a compare-and-swap on the Lease's resourceVersion.
//!
//! [`LeaderElector::run`] waits for leadership, then runs the given work
//! while renewing. **Fencing**: if the lease cannot be renewed within
//! `renew_deadline` (or someone else took it), the work future is dropped at
//! once — a leader that lost its lease stops before another one can start
//! (`renew_deadline < lease_duration`). When the work ends or shutdown is
//! asked for, the lease is released so that another candidate takes over
//! without waiting for it to expire.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k_api_types::coordination::v1::{Lease, LeaseSpec};
use k_api_types::meta::MicroTime;
use k_store::{Api, ObjectApi, StoreError};

use crate::clock::{Clock, SystemClock};

/// The election's settings.
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name (one per election).
    pub name: String,
    /// This candidate's identity (unique among candidates: host name plus a
    /// random suffix, say).
    pub identity: String,
    /// How long a lease is valid after its last renewal (15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up (10 s).
    pub renew_deadline: Duration,
    /// How often candidates try, and the leader renews (2 s).
    pub retry_period: Duration,
    /// The clock the timings are measured on.
    pub clock: Arc<dyn Clock>,
}

impl LeaderElectionConfig {
    /// An election on `namespace/name` for `identity`, with client-go's
    /// default timings (15 s, 10 s, 2 s).
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaderElectionConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            clock: Arc::new(SystemClock),
        }
    }
}

/// How [`LeaderElector::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The work finished while leading; the lease was released.
    Finished,
    /// The lease was lost (not renewed in time, or taken): the work was
    /// stopped.
    Lost,
    /// Shutdown was asked for (leading or not); a held lease was released.
    ShutDown,
}

/// A candidate in a leader election.
#[derive(Clone, Debug)]
pub struct LeaderElector {
    leases: Api<Lease>,
    config: LeaderElectionConfig,
}

/// The record last seen, and when (on our clock) it was first seen so.
struct Observed {
    record: Option<(String, Option<MicroTime>, i32)>,
    since: Instant,
}

impl LeaderElector {
    /// A candidate writing through `api`.
    pub fn new(api: Arc<dyn ObjectApi>, config: LeaderElectionConfig) -> Self {
        LeaderElector { leases: Api::with_client(api, Some(config.namespace.clone())), config }
    }

    fn now_micro(&self) -> MicroTime {
        MicroTime(self.config.clock.wall())
    }

    /// Tries once to take or renew the lease. `Ok(true)` if we hold it now.
    async fn try_acquire_or_renew(&self, observed: &mut Observed) -> Result<bool, StoreError> {
        let c = &self.config;
        let now = c.clock.now();
        let duration_secs = i32::try_from(c.lease_duration.as_secs()).unwrap_or(i32::MAX).max(1);
        let Some(mut lease) = self.leases.get_opt(&c.name).await? else {
            let mut lease = Lease::default();
            lease.metadata.name = c.name.clone();
            lease.metadata.namespace = c.namespace.clone();
            lease.spec = LeaseSpec {
                holder_identity: Some(c.identity.clone()),
                lease_duration_seconds: Some(duration_secs),
                acquire_time: Some(self.now_micro()),
                renew_time: Some(self.now_micro()),
                lease_transitions: Some(0),
                ..Default::default()
            };
            return match self.leases.create(&lease).await {
                Ok(_) => Ok(true),
                Err(e) if e.is_already_exists() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let holder = lease.spec.holder_identity.clone().unwrap_or_default();
        let record = Some((holder.clone(), lease.spec.renew_time, lease.spec.lease_transitions.unwrap_or(0)));
        if record != observed.record {
            observed.record = record;
            observed.since = now;
        }
        let held_by_other = !holder.is_empty() && holder != c.identity;
        let their_duration = Duration::from_secs(
            u64::try_from(lease.spec.lease_duration_seconds.unwrap_or(duration_secs)).unwrap_or(15),
        );
        if held_by_other && now.saturating_duration_since(observed.since) < their_duration {
            return Ok(false);
        }
        if holder != c.identity {
            lease.spec.acquire_time = Some(self.now_micro());
            lease.spec.lease_transitions = Some(lease.spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec.holder_identity = Some(c.identity.clone());
        lease.spec.lease_duration_seconds = Some(duration_secs);
        lease.spec.renew_time = Some(self.now_micro());
        match self.leases.update(&lease).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (if we hold it), so that another candidate can
    /// take it at once.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.leases.get_opt(&self.config.name).await else { return };
        if lease.spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        lease.spec.holder_identity = None;
        lease.spec.lease_duration_seconds = Some(1);
        lease.spec.renew_time = Some(self.now_micro());
        let _ = self.leases.update(&lease).await;
    }

    /// Waits to lead, then runs `work` (not polled before) while renewing
    /// the lease; see the [module docs](self) for fencing and release.
    pub async fn run(&self, work: impl Future<Output = ()>, shutdown: impl Future<Output = ()>) -> Outcome {
        let clock = self.config.clock.clone();
        let retry = self.config.retry_period;
        let mut shutdown = Box::pin(shutdown);
        let mut observed = Observed { record: None, since: clock.now() };
        // Candidate: try every retry period.
        loop {
            if matches!(self.try_acquire_or_renew(&mut observed).await, Ok(true)) {
                break;
            }
            tokio::select! {
                () = &mut shutdown => return Outcome::ShutDown,
                () = clock.sleep_until(clock.now() + retry) => {}
            }
        }
        // Leader: work while renewing; a renewal past the deadline fences.
        let mut work = Box::pin(work);
        let mut last_renewal = clock.now();
        loop {
            tokio::select! {
                () = &mut work => {
                    self.release().await;
                    return Outcome::Finished;
                }
                () = &mut shutdown => {
                    drop(work);
                    self.release().await;
                    return Outcome::ShutDown;
                }
                () = clock.sleep_until(clock.now() + retry) => {}
            }
            // A renewal that hangs past the deadline counts as failed.
            let renewed = tokio::select! {
                renewed = self.try_acquire_or_renew(&mut observed) => matches!(renewed, Ok(true)),
                () = clock.sleep_until(last_renewal + self.config.renew_deadline) => false,
            };
            let now = clock.now();
            if renewed {
                last_renewal = now;
            } else if now.saturating_duration_since(last_renewal) >= self.config.renew_deadline || self.taken().await {
                return Outcome::Lost;
            }
        }
    }

    /// Whether another candidate holds the lease now.
    async fn taken(&self) -> bool {
        match self.leases.get_opt(&self.config.name).await {
            Ok(Some(lease)) => {
                lease.spec.holder_identity.as_deref().is_some_and(|h| !h.is_empty() && h != self.config.identity)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use k_store::Store;

    use super::*;

    fn fast(identity: &str) -> LeaderElectionConfig {
        LeaderElectionConfig {
            lease_duration: Duration::from_millis(800),
            renew_deadline: Duration::from_millis(500),
            retry_period: Duration::from_millis(100),
            ..LeaderElectionConfig::new("kube-system", "my-controller", identity)
        }
    }

    /// Work that records whether it is running: from its first poll until
    /// it is dropped.
    fn flag_work(flag: Arc<AtomicBool>) -> impl Future<Output = ()> + Send {
        struct Running(Arc<AtomicBool>);
        impl Drop for Running {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        async move {
            flag.store(true, Ordering::SeqCst);
            let _guard = Running(flag);
            futures::future::pending::<()>().await;
        }
    }

    async fn holder(store: &Store) -> Option<String> {
        let leases: Api<Lease> = Api::namespaced(store.clone(), "kube-system");
        leases.get("my-controller").await.ok().and_then(|l| l.spec.holder_identity)
    }

    async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !check().await {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_leader_at_a_time_with_handover_on_release_and_on_expiry() {
        let store = Store::in_memory();
        let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
        let (a_running, b_running) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (stop_a, a_stopped) = tokio::sync::oneshot::channel::<()>();
        let a = LeaderElector::new(api.clone(), fast("a"));
        let a_task = {
            let work = flag_work(a_running.clone());
            tokio::spawn(async move {
                a.run(work, async {
                    let _ = a_stopped.await;
                })
                .await
            })
        };
        eventually("a leads", async || a_running.load(Ordering::SeqCst)).await;
        let b = LeaderElector::new(api.clone(), fast("b"));
        let b_task = {
            let work = flag_work(b_running.clone());
            tokio::spawn(async move { b.run(work, futures::future::pending()).await })
        };
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(!b_running.load(Ordering::SeqCst), "b waits while a renews");
        assert_eq!(holder(&store).await.as_deref(), Some("a"));

        // a shuts down and releases: b takes over without waiting for expiry.
        let _ = stop_a.send(());
        assert_eq!(a_task.await.unwrap(), Outcome::ShutDown);
        assert!(!a_running.load(Ordering::SeqCst));
        eventually("b leads", async || b_running.load(Ordering::SeqCst)).await;
        assert_eq!(holder(&store).await.as_deref(), Some("b"));

        // b crashes (no release): c takes over once the lease expires.
        b_task.abort();
        let c_running = Arc::new(AtomicBool::new(false));
        let c = LeaderElector::new(api.clone(), fast("c"));
        let started = std::time::Instant::now();
        let work = flag_work(c_running.clone());
        let _c_task = tokio::spawn(async move { c.run(work, futures::future::pending()).await });
        eventually("c leads", async || c_running.load(Ordering::SeqCst)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "not before the lease expired: {:?}",
            started.elapsed()
        );
        let leases: Api<Lease> = Api::namespaced(store.clone(), "kube-system");
        assert_eq!(leases.get("my-controller").await.unwrap().spec.lease_transitions, Some(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leader_whose_lease_is_taken_stops_at_once() {
        let store = Store::in_memory();
        let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
        let running = Arc::new(AtomicBool::new(false));
        let a = LeaderElector::new(api.clone(), fast("a"));
        let work = flag_work(running.clone());
        let task = tokio::spawn(async move { a.run(work, futures::future::pending()).await });
        eventually("a leads", async || running.load(Ordering::SeqCst)).await;
        // Someone takes the lease over (an operator, a partitioned peer).
        let leases: Api<Lease> = Api::namespaced(store.clone(), "kube-system");
        leases
            .guaranteed_update("my-controller", |l| {
                l.spec.holder_identity = Some("intruder".into());
                l.spec.lease_duration_seconds = Some(3600);
            })
            .await
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(5), task).await.expect("a notices").unwrap();
        assert_eq!(outcome, Outcome::Lost);
        assert!(!running.load(Ordering::SeqCst), "the work was stopped");
    }
}
