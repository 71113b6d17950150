//! Priority: a new pod's `priorityClassName` becomes its `priority` (and
//! `preemptionPolicy`) from the PriorityClass of that name; a pod naming
//! none gets the global default class, if there is one, else priority 0.
//! A class that does not exist, or a priority that contradicts the class,
//! is refused. The two system classes (`system-cluster-critical`,
//! `system-node-critical`) are created at start by [`ensure_system_classes`].

use std::sync::Arc;

use k_api_types::scheduling::v1::PriorityClass;
use k_api_types::{DynamicObject, GroupVersionResource, Object};
use k_store::ObjectApi;
use k_store::admission::AdmissionRequest;
use k_store::api::ListOptions;

use super::{AdmissionPlugin, creates_pod, forbidden};

fn gvr() -> GroupVersionResource {
    GroupVersionResource::new("scheduling.k8s.io", "v1", "priorityclasses")
}

/// Creates the system PriorityClasses when missing.
pub async fn ensure_system_classes(api: &dyn ObjectApi) -> k_store::Result<()> {
    let user = crate::authz::apiserver_user();
    for (name, value) in k_api_types::scheduling::v1::SYSTEM_PRIORITY_CLASSES {
        let class = serde_json::json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value,
            "description": "Used for system critical pods that must not be moved from their current node.",
        });
        let object: DynamicObject =
            serde_json::from_value(class).map_err(|e| k_store::StoreError::Internal(e.to_string()))?;
        match api.create(&gvr(), "", object, &user).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The plugin; see the [module docs](self).
#[derive(Debug)]
pub struct Priority {
    api: Arc<dyn ObjectApi>,
}

impl Priority {
    /// The plugin, reading classes from `api`.
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        Self { api }
    }
}

#[async_trait::async_trait]
impl AdmissionPlugin for Priority {
    fn name(&self) -> &'static str {
        "Priority"
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if !creates_pod(request) {
            return Ok(());
        }
        let (name, given) = match request.object.as_deref() {
            Some(Object::Pod(pod)) => (pod.spec.priority_class_name.clone().unwrap_or_default(), pod.spec.priority),
            _ => return Ok(()),
        };
        let class: Option<PriorityClass> = if name.is_empty() {
            let all = self.api.list(&gvr(), None, &ListOptions::default()).await?;
            all.items
                .iter()
                .filter_map(|o| o.to_typed::<PriorityClass>().ok())
                .filter(|c| c.global_default == Some(true))
                .min_by_key(|c| c.value)
        } else {
            match self.api.get(&gvr(), "", &name).await {
                Ok(o) => Some(o.to_typed().map_err(|e| k_store::StoreError::Internal(e.to_string()))?),
                Err(e) if e.is_not_found() => {
                    return Err(forbidden(request, format!("no PriorityClass with name {name} was found")));
                }
                Err(e) => return Err(e),
            }
        };
        let (class_name, value, policy) = match &class {
            Some(c) => (
                Some(c.metadata.name.clone()),
                c.value,
                c.preemption_policy.clone().unwrap_or_else(|| "PreemptLowerPriority".to_owned()),
            ),
            None => (None, 0, "PreemptLowerPriority".to_owned()),
        };
        if let Some(given) = given
            && given != value
        {
            return Err(forbidden(
                request,
                format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
                ),
            ));
        }
        let Some(Object::Pod(pod)) = request.object.as_deref_mut() else { return Ok(()) };
        if class_name.is_some() {
            pod.spec.priority_class_name = class_name;
        }
        pod.spec.priority = Some(value);
        if pod.spec.preemption_policy.is_none() {
            pod.spec.preemption_policy = Some(policy);
        }
        Ok(())
    }
}
