//! The built-in plugins, by kube-scheduler's names, one folder each.
//!
//! | plugin | extension points | what it does |
//! |---|---|---|
//! | [`priority_sort::PrioritySort`] | QueueSort | higher `spec.priority` first, then earlier |
//! | [`scheduling_gates::SchedulingGates`] | PreEnqueue | holds pods with `schedulingGates` |
//! | [`node_unschedulable::NodeUnschedulable`] | Filter | keeps pods off cordoned nodes unless tolerated |
//! | [`node_name::NodeName`] | Filter | `spec.nodeName` (PodFitsHost) |
//! | [`node_ports::NodePorts`] | Filter | free host ports (PodFitsHostPorts) |
//! | [`node_resources::Fit`] | Filter, Score | requests fit (PodFitsResources); LeastAllocated, MostAllocated, RequestedToCapacityRatio |
//! | [`node_resources::BalancedAllocation`] | Score | balanced CPU/memory use |
//! | [`node_affinity::NodeAffinity`] | PreFilter, Filter, Score | `nodeSelector` (PodSelectorMatches) and node affinity |
//! | [`taint_toleration::TaintToleration`] | Filter, Score | NoSchedule/NoExecute taints; PreferNoSchedule scoring |
//! | [`image_locality::ImageLocality`] | Score | nodes that have the pod's images |
//! | [`inter_pod_affinity::InterPodAffinity`] | PreFilter, Filter, PreScore, Score | required and preferred pod (anti-)affinity by topology key, existing pods' anti-affinity |
//! | [`pod_topology_spread::PodTopologySpread`] | PreFilter, Filter, PreScore, Score | `maxSkew` across domains, `minDomains`, system default constraints |
//! | [`volume_restrictions::VolumeRestrictions`] | PreFilter, Filter | volumes that cannot be shared (NoDiskConflict), ReadWriteOncePod claims |
//! | [`volume_binding::VolumeBinding`] | PreFilter, Filter, Reserve, PreBind | bound claims' node affinity; unbound WaitForFirstConsumer claims matched to volumes or provisioned |
//! | [`volume_zone::VolumeZone`] | Filter | volumes' zone and region labels match the node's |
//! | [`node_volume_limits::NodeVolumeLimits`] | Filter | CSI volumes per driver within the CSINode's limit |
//! | [`default_preemption::DefaultPreemption`] | PostFilter | evicts the fewest, least important lower-priority pods so the pod fits |
//! | [`default_binder::DefaultBinder`] | Bind | binds through `pods/binding` |

pub mod default_binder;
pub mod default_preemption;
pub mod helper;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources;
pub mod node_unschedulable;
pub mod node_volume_limits;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod scheduling_gates;
pub mod taint_toleration;
pub mod volume_binding;
pub mod volume_restrictions;
pub mod volume_zone;

#[cfg(test)]
pub(crate) mod testing;

/// Implements [`ExtensionPoints`](crate::framework::ExtensionPoints) for a
/// plugin type: `extension_points!(MyPlugin: filter, score);` with the
/// points it implements (`pre_enqueue`, `queue_sort`, `pre_filter`,
/// `filter`, `post_filter`, `pre_score`, `score`, `reserve`, `permit`,
/// `pre_bind`, `bind`, `post_bind`).
#[macro_export]
macro_rules! extension_points {
    ($ty:ty: $($point:ident),* $(,)?) => {
        impl $crate::framework::ExtensionPoints for $ty {
            $( $crate::extension_points!(@method $point); )*
        }
    };
    (@method pre_enqueue) => { fn as_pre_enqueue(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PreEnqueuePlugin>> { Some(self) } };
    (@method queue_sort) => { fn as_queue_sort(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::QueueSortPlugin>> { Some(self) } };
    (@method pre_filter) => { fn as_pre_filter(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PreFilterPlugin>> { Some(self) } };
    (@method filter) => { fn as_filter(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::FilterPlugin>> { Some(self) } };
    (@method post_filter) => { fn as_post_filter(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PostFilterPlugin>> { Some(self) } };
    (@method pre_score) => { fn as_pre_score(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PreScorePlugin>> { Some(self) } };
    (@method score) => { fn as_score(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::ScorePlugin>> { Some(self) } };
    (@method reserve) => { fn as_reserve(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::ReservePlugin>> { Some(self) } };
    (@method permit) => { fn as_permit(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PermitPlugin>> { Some(self) } };
    (@method pre_bind) => { fn as_pre_bind(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PreBindPlugin>> { Some(self) } };
    (@method bind) => { fn as_bind(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::BindPlugin>> { Some(self) } };
    (@method post_bind) => { fn as_post_bind(self: ::std::sync::Arc<Self>) -> Option<::std::sync::Arc<dyn $crate::framework::PostBindPlugin>> { Some(self) } };
}

crate::extension_points!(priority_sort::PrioritySort: queue_sort);
crate::extension_points!(scheduling_gates::SchedulingGates: pre_enqueue);
crate::extension_points!(node_unschedulable::NodeUnschedulable: filter);
crate::extension_points!(node_name::NodeName: filter);
crate::extension_points!(node_ports::NodePorts: filter);
crate::extension_points!(node_resources::Fit: filter, score);
crate::extension_points!(node_resources::BalancedAllocation: score);
crate::extension_points!(node_affinity::NodeAffinity: pre_filter, filter, score);
crate::extension_points!(taint_toleration::TaintToleration: filter, score);
crate::extension_points!(image_locality::ImageLocality: score);
