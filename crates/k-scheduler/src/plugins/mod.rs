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
//! | [`node_affinity::NodeAffinity`] | Filter, Score | `nodeSelector` (PodSelectorMatches) and node affinity |
//! | [`taint_toleration::TaintToleration`] | Filter, Score | NoSchedule/NoExecute taints; PreferNoSchedule scoring |
//! | [`image_locality::ImageLocality`] | Score | nodes that have the pod's images |

pub mod helper;
pub mod image_locality;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources;
pub mod node_unschedulable;
pub mod priority_sort;
pub mod scheduling_gates;
pub mod taint_toleration;

#[cfg(test)]
pub(crate) mod testing;
