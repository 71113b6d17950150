//! Event (core/v1).

use super::ObjectReference;
use crate::meta::{MicroTime, ObjectMeta, Time};
use crate::resource::{ALL_VERBS, Resource, metadata_field};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, qualified_name_errors, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// Longest `reason`, `action` and `reportingInstance` of a new-style event.
const SHORT_LIMIT: usize = 128;
/// Longest `message` of a new-style event.
const NOTE_LIMIT: usize = 1024;

/// A report of something that happened to an object (core/v1 Event).
///
/// Events created with `eventTime` set are "new-style" (as `events.k8s.io`
/// writes them) and must carry `reportingComponent`, `reportingInstance`,
/// `action` and `reason`.
#[wire]
pub struct Event {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Event`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// Short, machine-readable CamelCase reason, such as `Scheduled`.
    pub reason: Option<String>,
    /// Human-readable description.
    pub message: Option<String>,
    /// The component reporting the event. Always written, as Go writes it.
    pub source: EventSource,
    /// When the event was first recorded (omitted when unset).
    pub first_timestamp: Option<Time>,
    /// When the event was most recently recorded (omitted when unset).
    pub last_timestamp: Option<Time>,
    /// How many times the event occurred.
    pub count: Option<i32>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// When the event was first observed, with microseconds (omitted when unset).
    pub event_time: Option<MicroTime>,
    /// Data about the series of events this one belongs to.
    pub series: Option<EventSeries>,
    /// What action was taken or failed, such as `Binding`.
    pub action: Option<String>,
    /// A second object involved, for more complex actions.
    pub related: Option<ObjectReference>,
    /// Name of the controller that emitted the event, such as `kubernetes.io/kubelet`
    /// (omitted when empty).
    #[wire(omitempty)]
    pub reporting_component: String,
    /// Id of the controller instance, such as `kubelet-node-1` (omitted when empty).
    #[wire(omitempty)]
    pub reporting_instance: String,
}
crate::impl_resource!(Event {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    short_names: ["ev"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    selectable_fields: [
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ],
    field_value: event_field_value
});
/// A list of events.
pub type EventList = crate::meta::ObjectList<Event>;

/// The component that reported an event.
#[wire(eq)]
pub struct EventSource {
    /// Component name, such as `kubelet`.
    pub component: Option<String>,
    /// Node name the event came from.
    pub host: Option<String>,
}

/// Data about a series of repeated events.
#[wire(eq)]
pub struct EventSeries {
    /// Number of occurrences so far.
    pub count: Option<i32>,
    /// When the last occurrence was observed.
    pub last_observed_time: Option<MicroTime>,
}

fn event_field_value(ev: &Event, field: &str) -> Option<String> {
    let o = &ev.involved_object;
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    Some(match field {
        "involvedObject.kind" => o.kind.clone(),
        "involvedObject.namespace" => o.namespace.clone(),
        "involvedObject.name" => o.name.clone(),
        "involvedObject.uid" => o.uid.clone(),
        "involvedObject.apiVersion" => o.api_version.clone(),
        "involvedObject.resourceVersion" => o.resource_version.clone(),
        "involvedObject.fieldPath" => o.field_path.clone(),
        "reason" => text(&ev.reason),
        "reportingComponent" => ev.reporting_component.clone(),
        // The source component, falling back to the reporting controller.
        "source" => match ev.source.component.as_deref() {
            Some(c) if !c.is_empty() => c.to_owned(),
            _ => ev.reporting_component.clone(),
        },
        "type" => text(&ev.type_),
        _ => return metadata_field(ev.metadata(), field),
    })
}

impl ApplyDefaults for Event {
    /// Kubernetes has no Event defaults.
    fn apply_defaults(&mut self) {}
}

/// Kubernetes' legacy (core/v1) event rules.
fn validate_event_fields(ev: &Event, errors: &mut ErrorList) {
    let ns_path = Path::new("involvedObject").child("namespace");
    let involved_ns = ev.involved_object.namespace.as_str();
    let ns = ev.metadata.namespace.as_str();
    let mismatch = |errors: &mut ErrorList| {
        errors.push(FieldError::invalid(&ns_path, involved_ns, "does not match event.namespace"));
    };
    if ev.event_time.is_none() {
        // Events of cluster-scoped objects live in "default" (or no namespace).
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                mismatch(errors);
            }
        } else if ns != involved_ns {
            mismatch(errors);
        }
        return;
    }
    if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
        mismatch(errors);
    }
    let rc = Path::new("reportingComponent");
    if ev.reporting_component.is_empty() {
        errors.push(FieldError::required(&rc, ""));
    }
    for msg in qualified_name_errors(&ev.reporting_component) {
        errors.push(FieldError::invalid(&rc, &ev.reporting_component, msg));
    }
    let limited = |name: &str, value: &str, limit: usize, required: bool, errors: &mut ErrorList| {
        let p = Path::new(name);
        if required && value.is_empty() {
            errors.push(FieldError::required(&p, ""));
        }
        if value.len() > limit {
            errors.push(FieldError::invalid(&p, "", format!("can have at most {limit} characters")));
        }
    };
    limited("reportingInstance", &ev.reporting_instance, SHORT_LIMIT, true, errors);
    limited("action", ev.action.as_deref().unwrap_or_default(), SHORT_LIMIT, true, errors);
    limited("reason", ev.reason.as_deref().unwrap_or_default(), SHORT_LIMIT, true, errors);
    limited("message", ev.message.as_deref().unwrap_or_default(), NOTE_LIMIT, false, errors);
}

impl Validate for Event {
    /// Metadata (names follow the path-segment rule, as for any object the
    /// generic registry stores) and the core/v1 event rules.
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Path, &mut errors);
        validate_event_fields(self, &mut errors);
        errors
    }

    /// core/v1 allows any change that still passes the create rules.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Path, &mut errors);
        validate_event_fields(self, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;

    fn legacy() -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0.17a2b3c4d5e6f708", "namespace": "work"},
            "involvedObject": {"kind": "Pod", "namespace": "work", "name": "web-0", "uid": "u-1", "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled",
            "message": "Successfully pulled image",
            "source": {"component": "kubelet", "host": "node-1"},
            "type": "Normal"
        }))
        .unwrap()
    }

    fn new_style() -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0.17a2b3c4d5e6f709", "namespace": "work"},
            "involvedObject": {"kind": "Pod", "namespace": "work", "name": "web-0"},
            "reason": "Scheduled",
            "action": "Binding",
            "eventTime": "2026-01-02T03:04:05.123456Z",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-node-1"
        }))
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-0.17a2b3c4d5e6f708", "namespace": "work"},
            "involvedObject": {"kind": "Pod", "namespace": "work", "name": "web-0", "uid": "u-1", "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{web}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-01-02T03:04:05Z",
            "lastTimestamp": "2026-01-02T03:09:05Z",
            "count": 12,
            "type": "Warning",
            "eventTime": "2026-01-02T03:04:05.123456Z",
            "series": {"count": 11, "lastObservedTime": "2026-01-02T03:09:05.000001Z"},
            "action": "Restarting",
            "related": {"kind": "Node", "name": "node-1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1"
        });
        let e: Event = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap(), v);
        // Unset timestamps, empty reporting fields and empty metadata are omitted;
        // involvedObject and source are always written.
        let bare = Event::default();
        assert_eq!(serde_json::to_value(&bare).unwrap(), json!({"involvedObject": {}, "source": {}}));
        let back: Event = serde_json::from_value(serde_json::to_value(&bare).unwrap()).unwrap();
        assert_eq!(back, bare);
    }

    #[test]
    fn info_and_fields() {
        assert_eq!(Event::INFO.short_names, ["ev"]);
        const { assert!(Event::INFO.namespaced) };
        let e = legacy();
        let cases = [
            ("involvedObject.kind", Some("Pod")),
            ("involvedObject.namespace", Some("work")),
            ("involvedObject.name", Some("web-0")),
            ("involvedObject.uid", Some("u-1")),
            ("involvedObject.apiVersion", Some("v1")),
            ("involvedObject.resourceVersion", Some("7")),
            ("involvedObject.fieldPath", Some("spec.containers{web}")),
            ("reason", Some("Pulled")),
            ("reportingComponent", Some("")),
            ("source", Some("kubelet")),
            ("type", Some("Normal")),
            ("metadata.name", Some("web-0.17a2b3c4d5e6f708")),
            ("metadata.namespace", Some("work")),
            ("message", None),
        ];
        for (field, want) in cases {
            assert_eq!(e.field_value(field).as_deref(), want, "{field}");
        }
        for field in Event::INFO.selectable_fields {
            assert!(e.field_value(field).is_some(), "{field}");
        }
        // `source` falls back to the reporting controller.
        let n = new_style();
        assert_eq!(n.field_value("source").as_deref(), Some("default-scheduler"));
        assert_eq!(n.field_value("type").as_deref(), Some(""));
    }

    #[test]
    fn defaults() {
        let mut e = legacy();
        e.apply_defaults();
        assert_eq!(e, legacy());
    }

    #[test]
    fn validation() {
        type Case = (&'static str, fn(&mut Event), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("legacy valid", |_| {}, &[]),
            (
                "legacy namespace mismatch",
                |e| e.involved_object.namespace = "other".into(),
                &[("involvedObject.namespace", "FieldValueInvalid")],
            ),
            (
                "cluster object in default",
                |e| {
                    e.involved_object =
                        ObjectReference { kind: "Node".into(), name: "node-1".into(), ..Default::default() };
                    e.metadata.namespace = "default".into();
                },
                &[],
            ),
            (
                "cluster object elsewhere",
                |e| e.involved_object.namespace.clear(),
                &[("involvedObject.namespace", "FieldValueInvalid")],
            ),
            ("colon in name", |e| e.metadata.name = "system:node:x.17a".into(), &[]),
            ("slash in name", |e| e.metadata.name = "a/b".into(), &[("metadata.name", "FieldValueInvalid")]),
            (
                "no namespace",
                |e| {
                    e.metadata.namespace.clear();
                },
                &[("metadata.namespace", "FieldValueRequired"), ("involvedObject.namespace", "FieldValueInvalid")],
            ),
            (
                "new style missing fields",
                |e| {
                    e.event_time = Some("2026-01-02T03:04:05Z".parse().unwrap());
                    e.reason = None;
                },
                &[
                    ("reportingComponent", "FieldValueRequired"),
                    ("reportingComponent", "FieldValueInvalid"),
                    ("reportingInstance", "FieldValueRequired"),
                    ("action", "FieldValueRequired"),
                    ("reason", "FieldValueRequired"),
                ],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut e = legacy();
            mutate(&mut e);
            assert_eq!(causes(&e.validate()), expect(want), "{name}");
        }
        type NewCase = (&'static str, fn(&mut Event), &'static [(&'static str, &'static str)]);
        let cases: &[NewCase] = &[
            ("new style valid", |_| {}, &[]),
            ("long reason", |e| e.reason = Some("R".repeat(129)), &[("reason", "FieldValueInvalid")]),
            ("long message", |e| e.message = Some("m".repeat(1025)), &[("message", "FieldValueInvalid")]),
            (
                "bad component",
                |e| e.reporting_component = "default scheduler".into(),
                &[("reportingComponent", "FieldValueInvalid")],
            ),
            (
                "cluster object in kube-system",
                |e| {
                    e.involved_object.namespace.clear();
                    e.metadata.namespace = "kube-system".into();
                },
                &[],
            ),
            (
                "cluster object in work",
                |e| e.involved_object.namespace.clear(),
                &[("involvedObject.namespace", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut e = new_style();
            mutate(&mut e);
            assert_eq!(causes(&e.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn update() {
        let old = legacy();
        let mut bumped = old.clone();
        bumped.count = Some(2);
        bumped.last_timestamp = Some("2026-01-02T03:04:05Z".parse().unwrap());
        assert!(bumped.validate_update(&old).is_empty());
        let mut renamed = old.clone();
        renamed.metadata.name = "other".into();
        assert_eq!(causes(&renamed.validate_update(&old)), expect(&[("metadata.name", "FieldValueInvalid")]));
    }
}
