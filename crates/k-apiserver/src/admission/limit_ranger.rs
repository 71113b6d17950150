//! LimitRanger: the namespace's LimitRanges give a new pod's containers
//! their default limits (`default`) and requests (`defaultRequest`), then
//! bound them: `min` ≤ request, limit ≤ `max`, limit/request ≤
//! `maxLimitRequestRatio`, per container (`type: Container`) and for the
//! pod's sums (`type: Pod`). A LimitRange item that gives `max` but no
//! `default` defaults to `max`, and `defaultRequest` defaults to `default`
//! (then `min`), as Kubernetes defaults LimitRanges.

use std::sync::Arc;

use k_api_types::core::v1::{Container, LimitRange, LimitRangeItem, ResourceRequirements};
use k_api_types::quantity::ResourceList;
use k_api_types::{GroupVersionResource, Object};
use k_store::ObjectApi;
use k_store::admission::AdmissionRequest;
use k_store::api::{ListOptions, Operation};

use super::{AdmissionPlugin, forbidden};

/// The plugin; see the [module docs](self).
#[derive(Debug)]
pub struct LimitRanger {
    api: Arc<dyn ObjectApi>,
}

impl LimitRanger {
    /// The plugin, reading LimitRanges from `api`.
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        Self { api }
    }

    async fn items(&self, namespace: &str) -> k_store::Result<Vec<LimitRangeItem>> {
        let gvr = GroupVersionResource::new("", "v1", "limitranges");
        let ranges = self.api.list(&gvr, Some(namespace), &ListOptions::default()).await?;
        let mut items = Vec::new();
        for range in ranges.items {
            let range: LimitRange = range.to_typed().map_err(|e| k_store::StoreError::Internal(e.to_string()))?;
            items.extend(range.spec.limits.into_iter().map(defaulted));
        }
        Ok(items)
    }
}

/// A LimitRange item with Kubernetes' defaults for `type: Container`.
fn defaulted(mut item: LimitRangeItem) -> LimitRangeItem {
    if item.type_ != "Container" {
        return item;
    }
    for (resource, max) in item.max.clone().iter() {
        if !item.default_.contains_key(resource) {
            item.default_.insert(resource.clone(), max.clone());
        }
    }
    for (resource, limit) in item.default_.clone().iter() {
        if !item.default_request.contains_key(resource) {
            item.default_request.insert(resource.clone(), limit.clone());
        }
    }
    for (resource, min) in item.min.clone().iter() {
        if !item.default_request.contains_key(resource) {
            item.default_request.insert(resource.clone(), min.clone());
        }
    }
    item
}

/// LimitRanger looks at pod creates only: pods are immutable in what it
/// checks, and an update (a label, a finalizer removed) must not fail
/// because a LimitRange came after the pod.
fn pod_create(request: &AdmissionRequest<'_>) -> bool {
    request.subresource.is_none()
        && request.resource.group.is_empty()
        && request.resource.plural == "pods"
        && request.operation == Operation::Create
}

fn default_container(container: &mut Container, item: &LimitRangeItem) {
    let resources = container.resources.get_or_insert_with(ResourceRequirements::default);
    for (resource, limit) in item.default_.iter() {
        if !resources.limits.contains_key(resource) {
            resources.limits.insert(resource.clone(), limit.clone());
        }
    }
    for (resource, request) in item.default_request.iter() {
        if !resources.requests.contains_key(resource) {
            resources.requests.insert(resource.clone(), request.clone());
        }
    }
}

/// The bounds of `item` on one set of requests and limits (`what` is
/// `Container` or `Pod`), as kube-apiserver words each violation.
fn check(what: &str, item: &LimitRangeItem, requests: &ResourceList, limits: &ResourceList, errors: &mut Vec<String>) {
    for (resource, min) in item.min.iter() {
        match requests.get(resource) {
            None => errors.push(format!("minimum {resource} usage per {what} is {min}.  No request is specified")),
            Some(r) if r < min => {
                errors.push(format!("minimum {resource} usage per {what} is {min}, but request is {r}"))
            }
            _ => {}
        }
    }
    for (resource, max) in item.max.iter() {
        match limits.get(resource) {
            None => errors.push(format!("maximum {resource} usage per {what} is {max}.  No limit is specified")),
            Some(l) if l > max => {
                errors.push(format!("maximum {resource} usage per {what} is {max}, but limit is {l}"))
            }
            _ => {}
        }
    }
    for (resource, ratio) in item.max_limit_request_ratio.iter() {
        let (Some(limit), Some(request)) = (limits.get(resource), requests.get(resource)) else {
            if limits.get(resource).is_none() {
                errors.push(format!(
                    "{resource} max limit to request ratio per {what} is {ratio}, but no limit is specified"
                ));
            }
            continue;
        };
        if request.is_zero() {
            continue;
        }
        let actual = limit.milli_value() as f64 / request.milli_value() as f64;
        if actual > ratio.as_f64() {
            errors.push(format!(
                "{resource} max limit to request ratio per {what} is {ratio}, but provided ratio is {actual:.6}"
            ));
        }
    }
}

fn sum(into: &mut ResourceList, from: &ResourceList) {
    for (resource, quantity) in from.iter() {
        let total = match into.get(resource) {
            Some(existing) => existing.checked_add(quantity).unwrap_or_else(|| existing.clone()),
            None => quantity.clone(),
        };
        into.insert(resource.clone(), total);
    }
}

#[async_trait::async_trait]
impl AdmissionPlugin for LimitRanger {
    fn name(&self) -> &'static str {
        "LimitRanger"
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if !pod_create(request) {
            return Ok(());
        }
        let items = self.items(request.namespace).await?;
        let Some(Object::Pod(pod)) = request.object.as_deref_mut() else { return Ok(()) };
        for item in items.iter().filter(|i| i.type_ == "Container") {
            for container in pod.spec.containers.iter_mut().chain(pod.spec.init_containers.iter_mut()) {
                default_container(container, item);
            }
        }
        Ok(())
    }

    async fn validate(&self, request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        if !pod_create(request) {
            return Ok(());
        }
        let Some(Object::Pod(pod)) = request.object.as_deref() else { return Ok(()) };
        let items = self.items(request.namespace).await?;
        if items.is_empty() {
            return Ok(());
        }
        let mut errors = Vec::new();
        let empty = ResourceRequirements::default();
        for item in &items {
            match item.type_.as_str() {
                "Container" => {
                    for container in pod.spec.containers.iter().chain(&pod.spec.init_containers) {
                        let resources = container.resources.as_ref().unwrap_or(&empty);
                        check("Container", item, &resources.requests, &resources.limits, &mut errors);
                    }
                }
                "Pod" => {
                    let (mut requests, mut limits) = (ResourceList::default(), ResourceList::default());
                    for container in &pod.spec.containers {
                        let resources = container.resources.as_ref().unwrap_or(&empty);
                        sum(&mut requests, &resources.requests);
                        sum(&mut limits, &resources.limits);
                    }
                    check("Pod", item, &requests, &limits, &mut errors);
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(forbidden(request, format!("[{}]", errors.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use k_api_types::quantity::Quantity;

    use super::*;

    fn q(text: &str) -> Quantity {
        text.parse().unwrap()
    }

    #[test]
    fn bounds_are_worded_like_kube_apiserver() {
        let item = LimitRangeItem {
            type_: "Container".into(),
            min: [("cpu".to_owned(), q("100m"))].into(),
            max: [("memory".to_owned(), q("1Gi"))].into(),
            max_limit_request_ratio: [("cpu".to_owned(), q("2"))].into(),
            ..LimitRangeItem::default()
        };
        let mut errors = Vec::new();
        let requests: ResourceList = [("cpu".to_owned(), q("50m"))].into();
        let limits: ResourceList = [("cpu".to_owned(), q("500m")), ("memory".to_owned(), q("2Gi"))].into();
        check("Container", &item, &requests, &limits, &mut errors);
        assert_eq!(
            errors,
            [
                "minimum cpu usage per Container is 100m, but request is 50m",
                "maximum memory usage per Container is 1Gi, but limit is 2Gi",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000",
            ]
        );
        let defaulted = defaulted(LimitRangeItem { max: [("cpu".to_owned(), q("1"))].into(), ..item });
        assert_eq!(defaulted.default_["cpu"], q("1"));
        assert_eq!(defaulted.default_request["cpu"], q("1"), "defaultRequest follows default before min");
    }
}
