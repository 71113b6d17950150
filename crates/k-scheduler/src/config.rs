//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`):
//! profiles, the plugins of each extension point and `multiPoint`, weights,
//! plugin arguments and `percentageOfNodesToScore`, read as kube-scheduler
//! reads them.
//!
//! A profile starts from the default plugins (kube-scheduler's `multiPoint`
//! defaults, with their weights: TaintToleration 3, NodeAffinity 2,
//! PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1,
//! NodeResourcesBalancedAllocation 1, ImageLocality 1). `multiPoint.disabled`
//! removes defaults (`*`: all of them), `multiPoint.enabled` adds plugins at
//! every point they serve. A specific point's `enabled` list comes first at
//! that point, its `disabled` list (or `*`) removes `multiPoint` plugins there,
//! and a `score.enabled` weight overrides the `multiPoint` one.
//!
//! Default plugins k does not implement yet are left out of the profile and
//! listed by [`Profile::missing`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::framework::registry::Registry;
use crate::framework::{ExtensionPoints, Framework, Point};

/// The default scheduler name.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// kube-scheduler's default plugins, in order, with their score weights.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

/// A plugin named in a plugin set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PluginRef {
    /// The plugin's name (`*` in `disabled`: all).
    pub name: String,
    /// Score weight (score and multiPoint only).
    #[serde(default)]
    pub weight: Option<i64>,
}

/// Plugins enabled and disabled at one point.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PluginSet {
    /// Added, in order.
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Removed.
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// A profile's plugin sets by extension point.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // one field per extension point, as configurations name them
pub struct Plugins {
    #[serde(default)]
    pub multi_point: PluginSet,
    #[serde(default)]
    pub pre_enqueue: PluginSet,
    #[serde(default)]
    pub queue_sort: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub permit: PluginSet,
    #[serde(default)]
    pub pre_bind: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
    #[serde(default)]
    pub post_bind: PluginSet,
}

impl Plugins {
    fn at(&self, point: Point) -> &PluginSet {
        match point {
            Point::PreEnqueue => &self.pre_enqueue,
            Point::QueueSort => &self.queue_sort,
            Point::PreFilter => &self.pre_filter,
            Point::Filter => &self.filter,
            Point::PostFilter => &self.post_filter,
            Point::PreScore => &self.pre_score,
            Point::Score => &self.score,
            Point::Reserve => &self.reserve,
            Point::Permit => &self.permit,
            Point::PreBind => &self.pre_bind,
            Point::Bind => &self.bind,
            Point::PostBind => &self.post_bind,
        }
    }
}

/// A plugin's arguments.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct PluginConfig {
    /// The plugin.
    pub name: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Value,
}

/// One profile of the configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileConfig {
    /// The `schedulerName` pods choose it by.
    #[serde(default)]
    pub scheduler_name: Option<String>,
    /// Overrides the configuration's percentage.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Plugins by extension point.
    #[serde(default)]
    pub plugins: Plugins,
    /// Plugin arguments.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
}

/// The configuration file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    /// `kubescheduler.config.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `KubeSchedulerConfiguration`.
    #[serde(default)]
    pub kind: String,
    /// Nodes to evaluate, in percent (0 or absent: adaptive).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Cores that filter one pod's nodes (absent: 1; see
    /// [`Framework::set_parallelism`]).
    #[serde(default)]
    pub parallelism: Option<u32>,
    /// The profiles (none: one default profile).
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
}

/// A profile built into a framework.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The framework.
    pub framework: Framework,
    /// Default plugins left out because k does not implement them yet.
    pub missing: Vec<&'static str>,
}

impl KubeSchedulerConfiguration {
    /// Parses YAML or JSON, checking apiVersion and kind.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value = k_api_types::manifest::yaml_to_json(text).map_err(|e| e.to_string())?;
        let config: KubeSchedulerConfiguration =
            serde_json::from_value(value).map_err(|e| format!("KubeSchedulerConfiguration: {e}"))?;
        if config.api_version != "kubescheduler.config.k8s.io/v1" || config.kind != "KubeSchedulerConfiguration" {
            return Err(format!(
                "expected apiVersion kubescheduler.config.k8s.io/v1, kind KubeSchedulerConfiguration; got {:?}, {:?}",
                config.api_version, config.kind
            ));
        }
        let mut names = Vec::new();
        for profile in &config.profiles {
            let name = profile.scheduler_name.clone().unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_owned());
            if names.contains(&name) {
                return Err(format!("profiles: duplicate schedulerName {name:?}"));
            }
            names.push(name);
        }
        if let Some(p) = config.percentage_of_nodes_to_score.filter(|p| *p > 100) {
            return Err(format!("percentageOfNodesToScore {p} is not in 0..=100"));
        }
        Ok(config)
    }

    /// Builds every profile (one default profile when none is given).
    pub fn build(&self, registry: &Registry) -> Result<Vec<Profile>, String> {
        let profiles = if self.profiles.is_empty() { vec![ProfileConfig::default()] } else { self.profiles.clone() };
        profiles
            .iter()
            .map(|p| {
                let mut profile = build_profile_config(p, self.percentage_of_nodes_to_score.unwrap_or(0), registry)?;
                profile.framework.set_parallelism(self.parallelism.unwrap_or(1).max(1) as usize);
                Ok(profile)
            })
            .collect()
    }
}

/// The default profile (kube-scheduler's default plugins k implements).
pub fn default_profile(registry: &Registry) -> Result<Profile, String> {
    build_profile_config(&ProfileConfig::default(), 0, registry)
}

/// Builds one profile; `percentage` is the configuration-wide
/// `percentageOfNodesToScore` the profile may override.
pub fn build_profile_config(config: &ProfileConfig, percentage: u32, registry: &Registry) -> Result<Profile, String> {
    let name = config.scheduler_name.clone().unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_owned());
    let mut framework = Framework::new(&name);
    framework.set_percentage_of_nodes_to_score(config.percentage_of_nodes_to_score.unwrap_or(percentage));
    let plugins = &config.plugins;
    let disabled_all = |set: &PluginSet| set.disabled.iter().any(|p| p.name == "*");
    let disabled = |set: &PluginSet, name: &str| set.disabled.iter().any(|p| p.name == name || p.name == "*");
    // multiPoint: the defaults (unless disabled), then what it enables.
    let mut multi: Vec<(String, i64)> = Vec::new();
    let mut missing = Vec::new();
    if !disabled_all(&plugins.multi_point) {
        for (plugin, weight) in DEFAULT_PLUGINS {
            if disabled(&plugins.multi_point, plugin) {
                continue;
            }
            if registry.contains(plugin) {
                multi.push(((*plugin).to_owned(), *weight));
            } else {
                missing.push(*plugin);
            }
        }
    }
    for plugin in &plugins.multi_point.enabled {
        let weight = plugin.weight.unwrap_or(1);
        match multi.iter_mut().find(|(n, _)| *n == plugin.name) {
            Some(existing) => existing.1 = weight,
            None => multi.push((plugin.name.clone(), weight)),
        }
    }
    // Each plugin is made once, with its arguments, and shared by its points.
    let args: BTreeMap<&str, &Value> = config.plugin_config.iter().map(|c| (c.name.as_str(), &c.args)).collect();
    let mut made: BTreeMap<String, Arc<dyn ExtensionPoints>> = BTreeMap::new();
    let mut make = |name: &str| -> Result<Arc<dyn ExtensionPoints>, String> {
        if let Some(plugin) = made.get(name) {
            return Ok(plugin.clone());
        }
        let plugin = registry.make(name, args.get(name).copied())?;
        made.insert(name.to_owned(), plugin.clone());
        Ok(plugin)
    };
    for point in Point::ALL {
        let set = plugins.at(point);
        let mut here: Vec<String> = Vec::new();
        for plugin in &set.enabled {
            let weight =
                plugin.weight.or_else(|| multi.iter().find(|(n, _)| *n == plugin.name).map(|(_, w)| *w)).unwrap_or(1);
            if !framework.enable_at(point, make(&plugin.name)?, weight) {
                return Err(format!(
                    "plugin {} does not serve the {} extension point",
                    plugin.name,
                    point.config_name()
                ));
            }
            here.push(plugin.name.clone());
        }
        for (plugin, weight) in &multi {
            if here.contains(plugin) || disabled(set, plugin) {
                continue;
            }
            framework.enable_at(point, make(plugin)?, *weight);
        }
    }
    for config in &config.plugin_config {
        if !made.contains_key(&config.name) {
            return Err(format!("pluginConfig for {:?}, which the profile does not enable", config.name));
        }
    }
    Ok(Profile { framework, missing })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile() {
        let profile = default_profile(&Registry::builtin()).unwrap();
        let framework = &profile.framework;
        assert_eq!(framework.name(), "default-scheduler");
        assert_eq!(
            framework.filter_plugins(),
            [
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "VolumeRestrictions",
                "NodeVolumeLimits",
                "VolumeBinding",
                "VolumeZone",
                "PodTopologySpread",
                "InterPodAffinity"
            ]
        );
        assert_eq!(
            framework.score_plugins(),
            [
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        assert!(framework.queue_sort().is_some());
        assert!(profile.missing.is_empty(), "{:?}", profile.missing);
    }

    #[test]
    fn profiles_enable_disable_weigh_and_configure() {
        let config = KubeSchedulerConfiguration::parse(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 40
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  plugins:
    multiPoint:
      disabled:
      - name: ImageLocality
    score:
      enabled:
      - name: NodeResourcesFit
        weight: 5
      disabled:
      - name: NodeResourcesBalancedAllocation
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - {name: cpu, weight: 2}
        - {name: memory, weight: 1}
- schedulerName: filters-only
  plugins:
    multiPoint:
      disabled:
      - name: "*"
    filter:
      enabled:
      - name: NodeName
      - name: NodeResourcesFit
"#,
        )
        .unwrap();
        let profiles = config.build(&Registry::builtin()).unwrap();
        assert_eq!(profiles.len(), 3);
        let packing = &profiles[1].framework;
        assert_eq!(packing.name(), "bin-packing");
        assert_eq!(
            packing.score_plugins(),
            [
                ("NodeResourcesFit", 5),
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2)
            ]
        );
        let only = &profiles[2].framework;
        assert_eq!(only.filter_plugins(), ["NodeName", "NodeResourcesFit"]);
        assert!(only.score_plugins().is_empty());
        assert!(only.queue_sort().is_none());
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        let registry = Registry::builtin();
        let bad = |text: &str| {
            KubeSchedulerConfiguration::parse(text).and_then(|c| c.build(&registry).map(|_| ())).unwrap_err()
        };
        let head = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";
        assert!(bad("apiVersion: v1\nkind: Pod\n").contains("kubescheduler.config.k8s.io/v1"));
        let e = bad(&format!("{head}profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: Nope\n"));
        assert!(e.contains("\"Nope\" is not registered"), "{e}");
        let e =
            bad(&format!("{head}profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: ImageLocality\n"));
        assert!(e.contains("does not serve the filter extension point"), "{e}");
        let e = bad(&format!("{head}profiles:\n- {{}}\n- {{}}\n"));
        assert!(e.contains("duplicate schedulerName"), "{e}");
        let e = bad(&format!(
            "{head}profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {{scoringStrategy: {{type: Best}}}}\n"
        ));
        assert!(e.contains("unknown scoring strategy"), "{e}");
    }
}
