//! Pods held at Permit: a plugin answered Wait, and the binding cycle waits
//! until some plugin allows or rejects the pod (through the [`Handle`](super::Handle)),
//! or the timeout passes (kube-scheduler's waiting pods, used for gang
//! scheduling and the like).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::Status;

/// The pods waiting at Permit, by `namespace/name`. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct WaitingPods {
    inner: Arc<Mutex<HashMap<String, oneshot::Sender<Status>>>>,
}

impl WaitingPods {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Status>>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys of the pods waiting now.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Lets the pod `key` go on to binding; whether it was waiting.
    pub fn allow(&self, key: &str) -> bool {
        self.lock().remove(key).is_some_and(|tx| tx.send(Status::success()).is_ok())
    }

    /// Rejects the pod `key` with `reason`; whether it was waiting.
    pub fn reject(&self, key: &str, plugin: &'static str, reason: &str) -> bool {
        let status = Status::unschedulable(reason).from_plugin(plugin);
        self.lock().remove(key).is_some_and(|tx| tx.send(status).is_ok())
    }

    /// Holds the pod `key` until it is allowed, rejected or `timeout`
    /// passes (then it is rejected as timed out).
    pub async fn wait(&self, key: &str, timeout: Duration) -> Status {
        self.register(key).wait(timeout).await
    }

    /// Registers the pod `key` as waiting now (so an allow or reject that
    /// comes before [`WaitingPod::wait`] is not lost).
    pub fn register(&self, key: &str) -> WaitingPod {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(key.to_owned(), tx);
        WaitingPod { pods: self.clone(), key: key.to_owned(), rx }
    }
}

/// A pod registered as waiting at Permit.
#[derive(Debug)]
pub struct WaitingPod {
    pods: WaitingPods,
    key: String,
    rx: oneshot::Receiver<Status>,
}

impl WaitingPod {
    /// Waits until the pod is allowed, rejected or `timeout` passes.
    pub async fn wait(self, timeout: Duration) -> Status {
        let WaitingPod { pods, key, rx } = self;
        let outcome = tokio::time::timeout(timeout, rx).await;
        pods.lock().remove(&key);
        match outcome {
            Ok(Ok(status)) => status,
            Ok(Err(_)) => Status::unschedulable("rejected: the waiting pod was dropped"),
            Err(_) => {
                Status::unschedulable(format!("rejected due to timeout after waiting {timeout:?} at plugin Permit"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;

    #[tokio::test]
    async fn allowed_rejected_or_timed_out() {
        let waiting = WaitingPods::default();
        let w = waiting.clone();
        let allowed = tokio::spawn(async move { w.wait("ns/a", Duration::from_secs(30)).await });
        while waiting.keys().is_empty() {
            tokio::task::yield_now().await;
        }
        assert!(waiting.allow("ns/a"));
        assert!(allowed.await.unwrap().is_success());

        let w = waiting.clone();
        let rejected = tokio::spawn(async move { w.wait("ns/b", Duration::from_secs(30)).await });
        while waiting.keys().is_empty() {
            tokio::task::yield_now().await;
        }
        assert!(waiting.reject("ns/b", "Gang", "the gang is incomplete"));
        let status = rejected.await.unwrap();
        assert_eq!((status.code(), status.plugin()), (Code::Unschedulable, "Gang"));

        let status = waiting.wait("ns/c", Duration::from_millis(10)).await;
        assert!(status.reasons()[0].contains("timeout"), "{status:?}");
        assert!(!waiting.allow("ns/c"), "no longer waiting");
    }
}
