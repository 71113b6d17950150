//! What plugins may read besides the pod and the node: caches of the other
//! objects some plugins need (kube-scheduler's framework handle).
//!
//! The volume plugins read claims, volumes, storage classes and CSINodes;
//! InterPodAffinity reads namespaces (for `namespaceSelector`);
//! PodTopologySpread reads the Services, ReplicaSets, StatefulSets and
//! ReplicationControllers that select a pod (for its default constraints);
//! DefaultPreemption reads PodDisruptionBudgets. Each cache is a k-runtime
//! [`Store`]: the scheduler fills them from informers, the simulator and
//! tests through the matching [`Writers`].

use std::sync::Arc;

use k_api_types::apps::v1::{ReplicaSet, StatefulSet};
use k_api_types::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim, ReplicationController, Service};
use k_api_types::policy::v1::PodDisruptionBudget;
use k_api_types::storage::v1::{CSINode, StorageClass};
use k_runtime::informer::InformerFactory;
use k_runtime::reflector::{Store, Writer, store};
use k_runtime::watcher::Event;
use k_store::ObjectApi;

use super::WaitingPods;

macro_rules! listers {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)*) => {
        /// The caches plugins read; see the [module docs](self).
        #[derive(Clone, Debug)]
        pub struct Listers {
            $($(#[$doc])* pub $field: Store<$ty>,)*
        }

        /// The writers of [`Listers`], one per cache.
        #[derive(Debug)]
        pub struct Writers {
            $($(#[$doc])* pub $field: Writer<$ty>,)*
        }

        impl Listers {
            /// Empty caches and their writers.
            pub fn new() -> (Listers, Writers) {
                $(let $field = store::<$ty>();)*
                (Listers { $($field: $field.0,)* }, Writers { $($field: $field.1,)* })
            }

            /// The caches of `informers`' shared informers (all
            /// namespaces), started on first use.
            pub fn from_informers(informers: &InformerFactory) -> Listers {
                Listers { $($field: informers.informer::<$ty>(None, None, None).store(),)* }
            }

            /// Waits until every cache has been listed once.
            pub async fn wait_until_synced(&self) {
                $(self.$field.wait_until_synced().await;)*
            }
        }

        impl Writers {
            /// Adds (or replaces) objects in the matching caches; each value
            /// is decoded by its `kind`. Kinds no cache holds are returned.
            pub fn insert_json(&mut self, objects: &[serde_json::Value]) -> Result<Vec<String>, String> {
                let mut ignored = Vec::new();
                for object in objects {
                    let kind = object.get("kind").and_then(serde_json::Value::as_str).unwrap_or_default();
                    match kind {
                        $(k if k == <$ty as k_api_types::Resource>::INFO.kind => {
                            let typed: $ty = serde_json::from_value(object.clone())
                                .map_err(|e| format!("{kind}: {e}"))?;
                            self.$field.apply_typed(Event::Apply(Arc::new(typed)));
                        })*
                        other => ignored.push(other.to_owned()),
                    }
                }
                Ok(ignored)
            }
        }
    };
}

listers! {
    /// PersistentVolumeClaims.
    pvcs: PersistentVolumeClaim,
    /// PersistentVolumes.
    pvs: PersistentVolume,
    /// StorageClasses.
    storage_classes: StorageClass,
    /// CSINodes (per-node CSI volume limits).
    csi_nodes: CSINode,
    /// Namespaces (their labels, for affinity `namespaceSelector`s).
    namespaces: Namespace,
    /// Services (default topology spread constraints).
    services: Service,
    /// ReplicaSets (default topology spread constraints).
    replica_sets: ReplicaSet,
    /// StatefulSets (default topology spread constraints).
    stateful_sets: StatefulSet,
    /// ReplicationControllers (default topology spread constraints).
    replication_controllers: ReplicationController,
    /// PodDisruptionBudgets (preemption prefers not to break them).
    pdbs: PodDisruptionBudget,
}

impl Default for Listers {
    fn default() -> Self {
        Listers::new().0
    }
}

/// What a plugin factory is given besides its arguments: the caches, and
/// the API when the scheduler runs against one (plugins that write, such
/// as VolumeBinding's PreBind, need it; the simulator has none).
#[derive(Clone, Debug, Default)]
pub struct Handle {
    /// The caches plugins read.
    pub listers: Listers,
    /// The API, when there is one.
    pub api: Option<Arc<dyn ObjectApi>>,
    /// Pods held at Permit, which plugins may allow or reject.
    pub waiting_pods: WaitingPods,
}

impl Handle {
    /// A handle over `listers` without an API.
    pub fn new(listers: Listers) -> Self {
        Handle { listers, api: None, waiting_pods: WaitingPods::default() }
    }

    /// The same handle with an API.
    pub fn with_api(mut self, api: Arc<dyn ObjectApi>) -> Self {
        self.api = Some(api);
        self
    }
}
