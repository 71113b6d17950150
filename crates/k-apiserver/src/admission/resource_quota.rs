//! ResourceQuota: a namespace's ResourceQuotas cap object counts and
//! compute resources, and a create that would pass a quota's `hard` is
//! refused.
//!
//! Usage is **reserved atomically**: a create adds what it uses to the
//! quota's `status.used` with a compare-and-swap on the quota's
//! resourceVersion before the object is written, retrying on conflict, so
//! concurrent creates never exceed `hard` (kube-apiserver does the same).
//! The first time a quota tracks a resource, its usage is counted from the
//! objects already there (in the quota's scopes). An update charges what it
//! adds (a Service becoming a NodePort, a claim growing) and gives back what
//! it drops; a delete gives its usage back when it starts (a graceful
//! delete's grace period is not charged). Charges run after validation, so
//! invalid objects charge nothing; a create of a name that exists charges
//! nothing. A write that still fails after admission (a lost race on the
//! name) keeps its reservation until the quota is recounted (the
//! resource-quota controller's job, in the controller-manager issue).
//!
//! Tracked: `pods`, `services`, `services.nodeports`,
//! `services.loadbalancers`, `configmaps`, `secrets`,
//! `persistentvolumeclaims`, `replicationcontrollers`, `resourcequotas`,
//! `count/<resource>[.<group>]`, `requests.<r>`, `limits.<r>` and bare
//! `cpu`/`memory`/`ephemeral-storage` (requests) for pods, `requests.storage`
//! and `<class>.storageclass.storage.k8s.io/…` for claims. Scopes
//! `BestEffort`, `NotBestEffort`, `Terminating` and `NotTerminating` are
//! honoured; a quota with a `scopeSelector` is not enforced (logged).

use std::sync::Arc;

use k_api_types::core::v1::{Pod, ResourceQuota as Quota};
use k_api_types::quantity::{Quantity, ResourceList};
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource, Object};
use k_store::admission::AdmissionRequest;
use k_store::api::{ListOptions, Operation};
use k_store::{ObjectApi, StoreError};

use super::{AdmissionPlugin, forbidden};

/// The plugin; see the [module docs](self).
#[derive(Debug)]
pub struct ResourceQuota {
    api: Arc<dyn ObjectApi>,
}

impl ResourceQuota {
    /// The plugin, reading and charging quotas through `api`.
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        Self { api }
    }
}

fn quotas_gvr() -> GroupVersionResource {
    GroupVersionResource::new("", "v1", "resourcequotas")
}

fn one() -> Quantity {
    Quantity::from_value(1, k_api_types::quantity::QuantityFormat::DecimalSI)
}

fn add(list: &mut ResourceList, key: &str, quantity: &Quantity) {
    let total = match list.get(key) {
        Some(existing) => existing.checked_add(quantity).unwrap_or_else(|| existing.clone()),
        None => quantity.clone(),
    };
    list.insert(key.to_owned(), total);
}

/// What a pod's containers ask for: the sum over containers, or the largest
/// init container when that is more, per resource.
fn pod_resources(pod: &Pod, limits: bool) -> ResourceList {
    let pick = |c: &k_api_types::core::v1::Container| {
        c.resources.as_ref().map(|r| if limits { r.limits.clone() } else { r.requests.clone() }).unwrap_or_default()
    };
    let mut total = ResourceList::default();
    for container in &pod.spec.containers {
        for (resource, quantity) in pick(container).iter() {
            add(&mut total, resource, quantity);
        }
    }
    for container in &pod.spec.init_containers {
        for (resource, quantity) in pick(container).iter() {
            if total.get(resource).is_none_or(|t| t < quantity) {
                total.insert(resource.clone(), quantity.clone());
            }
        }
    }
    total
}

/// The usage of one object, by every quota name it counts under.
pub fn usage(resource: &ApiResource, object: &Object) -> ResourceList {
    let mut used = ResourceList::default();
    let count = if resource.group.is_empty() {
        format!("count/{}", resource.plural)
    } else {
        format!("count/{}.{}", resource.plural, resource.group)
    };
    used.insert(count, one());
    if resource.group.is_empty()
        && matches!(
            resource.plural.as_str(),
            "pods"
                | "services"
                | "configmaps"
                | "secrets"
                | "persistentvolumeclaims"
                | "replicationcontrollers"
                | "resourcequotas"
        )
    {
        used.insert(resource.plural.clone(), one());
    }
    match object {
        Object::Pod(pod) => {
            for (resource, quantity) in pod_resources(pod, false).iter() {
                add(&mut used, &format!("requests.{resource}"), quantity);
                if matches!(resource.as_str(), "cpu" | "memory" | "ephemeral-storage") {
                    add(&mut used, resource, quantity);
                }
            }
            for (resource, quantity) in pod_resources(pod, true).iter() {
                add(&mut used, &format!("limits.{resource}"), quantity);
            }
        }
        Object::Service(service) => {
            let kind = service.spec.type_.as_deref().unwrap_or("ClusterIP");
            if matches!(kind, "NodePort" | "LoadBalancer") {
                let ports = service.spec.ports.len() as i64;
                used.insert(
                    "services.nodeports".into(),
                    Quantity::from_value(ports, k_api_types::quantity::QuantityFormat::DecimalSI),
                );
            }
            if kind == "LoadBalancer" {
                used.insert("services.loadbalancers".into(), one());
            }
        }
        Object::PersistentVolumeClaim(claim) => {
            if let Some(storage) = claim.spec.resources.requests.get("storage") {
                used.insert("requests.storage".into(), storage.clone());
                if let Some(class) = claim.spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
                    let prefix = format!("{class}.storageclass.storage.k8s.io/");
                    used.insert(format!("{prefix}requests.storage"), storage.clone());
                    used.insert(format!("{prefix}persistentvolumeclaims"), one());
                }
            }
        }
        _ => {}
    }
    used
}

/// Whether a quota's scopes cover a pod (objects other than pods are
/// covered only by quotas without scopes).
fn in_scope(quota: &Quota, object: &Object) -> bool {
    let Object::Pod(pod) = object else { return quota.spec.scopes.is_empty() };
    quota.spec.scopes.iter().all(|scope| {
        let best_effort = pod
            .spec
            .containers
            .iter()
            .chain(&pod.spec.init_containers)
            .all(|c| c.resources.as_ref().is_none_or(|r| r.requests.is_empty() && r.limits.is_empty()));
        let terminating = pod.spec.active_deadline_seconds.is_some();
        match scope.as_str() {
            "BestEffort" => best_effort,
            "NotBestEffort" => !best_effort,
            "Terminating" => terminating,
            "NotTerminating" => !terminating,
            _ => false,
        }
    })
}

/// A pod that has finished counts against no quota.
fn terminal(object: &Object) -> bool {
    let Object::Pod(pod) = object else { return false };
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

fn listing(list: &ResourceList, keys: &[String]) -> String {
    keys.iter().map(|k| format!("{k}={}", list.get(k).cloned().unwrap_or_default())).collect::<Vec<_>>().join(",")
}

impl ResourceQuota {
    /// Usage of what already exists, for keys a quota starts tracking.
    async fn count_existing(
        &self,
        quota: &Quota,
        resource: &ApiResource,
        namespace: &str,
        keys: &[String],
    ) -> k_store::Result<ResourceList> {
        let mut used = ResourceList::default();
        let page = self.api.list(&resource.gvr(), Some(namespace), &ListOptions::default()).await?;
        for item in page.items {
            let Ok(decoded) = Object::decode(&serde_json::to_value(&item).unwrap_or_default()) else { continue };
            if terminal(&decoded.object) || !in_scope(quota, &decoded.object) {
                continue;
            }
            for (key, quantity) in usage(resource, &decoded.object).iter() {
                if keys.contains(key) {
                    add(&mut used, key, quantity);
                }
            }
        }
        for key in keys {
            if used.get(key).is_none() {
                used.insert(key.clone(), Quantity::default());
            }
        }
        Ok(used)
    }

    /// Adds `delta` (negated when `refund`) to one quota's usage, by
    /// compare-and-swap; refuses a charge that passes `hard`.
    async fn charge(
        &self,
        request: &AdmissionRequest<'_>,
        scoped: &Quota,
        delta: &ResourceList,
        refund: bool,
    ) -> k_store::Result<()> {
        let name = scoped.metadata.name.as_str();
        let mut last = None;
        for _ in 0..64 {
            let stored = self.api.get(&quotas_gvr(), request.namespace, name).await?;
            let mut quota: Quota = stored.to_typed().map_err(|e| StoreError::Internal(e.to_string()))?;
            let tracked: Vec<String> = delta.keys().filter(|k| quota.spec.hard.contains_key(*k)).cloned().collect();
            if tracked.is_empty() {
                return Ok(());
            }
            let mut status = quota.status.take().unwrap_or_default();
            let missing: Vec<String> = tracked.iter().filter(|k| !status.used.contains_key(*k)).cloned().collect();
            if !missing.is_empty() {
                let existing = self.count_existing(scoped, request.resource, request.namespace, &missing).await?;
                for (key, quantity) in existing.iter() {
                    status.used.insert(key.clone(), quantity.clone());
                }
            }
            let before = status.used.clone();
            let mut exceeded = Vec::new();
            for key in &tracked {
                let current = status.used.get(key).cloned().unwrap_or_default();
                let change = &delta[key.as_str()];
                let next = if refund {
                    let left = current.checked_sub(change).unwrap_or_default();
                    if left.is_negative() { Quantity::default() } else { left }
                } else {
                    match current.checked_add(change) {
                        Some(sum) => sum,
                        // Past the largest quantity: more than any hard limit.
                        None => {
                            exceeded.push(key.clone());
                            continue;
                        }
                    }
                };
                if !refund && next > quota.spec.hard[key.as_str()] {
                    exceeded.push(key.clone());
                }
                status.used.insert(key.clone(), next);
            }
            if !exceeded.is_empty() {
                return Err(forbidden(
                    request,
                    format!(
                        "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                        listing(delta, &exceeded),
                        listing(&before, &exceeded),
                        listing(&quota.spec.hard, &exceeded)
                    ),
                ));
            }
            status.hard = quota.spec.hard.clone();
            quota.status = Some(status);
            let object = DynamicObject::from_typed(&quota).map_err(|e| StoreError::Internal(e.to_string()))?;
            match self
                .api
                .update_status(&quotas_gvr(), request.namespace, object, &crate::authz::apiserver_user())
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Internal("quota update gave up".into())))
    }
}

#[async_trait::async_trait]
impl AdmissionPlugin for ResourceQuota {
    fn name(&self) -> &'static str {
        "ResourceQuota"
    }

    async fn validate(&self, request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        if request.dry_run
            || request.subresource.is_some()
            || !request.resource.namespaced
            || request.namespace.is_empty()
        {
            return Ok(());
        }
        // What to add to the quotas and what to give back.
        let (object, charge, refund) = match (request.operation, request.object.as_deref(), request.old_object) {
            (Operation::Create, Some(object), _) => (object, usage(request.resource, object), ResourceList::default()),
            (Operation::Delete, _, Some(old)) if old.metadata().deletion_timestamp.is_none() && !terminal(old) => {
                (old, ResourceList::default(), usage(request.resource, old))
            }
            (Operation::Update, Some(new), Some(old)) => {
                // Only what the update changes (a Service becoming a NodePort,
                // a claim growing).
                let (before, after) = (usage(request.resource, old), usage(request.resource, new));
                let (mut more, mut less) = (ResourceList::default(), ResourceList::default());
                for key in before.keys().chain(after.keys()) {
                    let zero = Quantity::default();
                    let (b, a) = (before.get(key).unwrap_or(&zero), after.get(key).unwrap_or(&zero));
                    if a > b {
                        more.insert(key.clone(), a.checked_sub(b).unwrap_or_default());
                    } else if b > a {
                        less.insert(key.clone(), b.checked_sub(a).unwrap_or_default());
                    }
                }
                if more.is_empty() && less.is_empty() {
                    return Ok(());
                }
                (new, more, less)
            }
            _ => return Ok(()),
        };
        let page = self.api.list(&quotas_gvr(), Some(request.namespace), &ListOptions::default()).await?;
        if page.items.is_empty() {
            return Ok(());
        }
        if request.operation == Operation::Create
            && !request.name.is_empty()
            && self.api.get(&request.resource.gvr(), request.namespace, request.name).await.is_ok()
        {
            // The create will fail with AlreadyExists: charge nothing.
            return Ok(());
        }
        let mut quotas: Vec<Quota> = page.items.iter().filter_map(|o| o.to_typed().ok()).collect();
        quotas.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let mut charged = Vec::new();
        for quota in &quotas {
            if quota.spec.scope_selector.is_some() {
                tracing::warn!(
                    "quota {}/{} has a scopeSelector, which k does not enforce",
                    request.namespace,
                    quota.metadata.name
                );
                continue;
            }
            if !in_scope(quota, object) {
                continue;
            }
            if request.operation == Operation::Create
                && let Object::Pod(pod) = object
            {
                // A quota on cpu or memory needs every container to say what it uses.
                let mut missing = Vec::new();
                for key in quota.spec.hard.keys() {
                    let (limits, resource) = match key.as_str() {
                        "requests.cpu" | "cpu" => (false, "cpu"),
                        "requests.memory" | "memory" => (false, "memory"),
                        "limits.cpu" => (true, "cpu"),
                        "limits.memory" => (true, "memory"),
                        _ => continue,
                    };
                    let without: Vec<&str> = pod
                        .spec
                        .containers
                        .iter()
                        .chain(&pod.spec.init_containers)
                        .filter(|c| {
                            c.resources
                                .as_ref()
                                .is_none_or(|r| !(if limits { &r.limits } else { &r.requests }).contains_key(resource))
                        })
                        .map(|c| c.name.as_str())
                        .collect();
                    if !without.is_empty() {
                        missing.push(format!("{key} for: {}", without.join(",")));
                    }
                }
                if !missing.is_empty() {
                    return Err(forbidden(
                        request,
                        format!("failed quota: {}: must specify {}", quota.metadata.name, missing.join("; ")),
                    ));
                }
            }
            if !refund.is_empty()
                && let Err(e) = self.charge(request, quota, &refund, true).await
            {
                tracing::warn!("giving quota {} back: {e}", quota.metadata.name);
            }
            if charge.is_empty() {
                continue;
            }
            match self.charge(request, quota, &charge, false).await {
                Ok(()) => charged.push(quota),
                Err(e) => {
                    // Give back what the quotas before this one reserved.
                    for earlier in charged {
                        let _ = self.charge(request, earlier, &charge, true).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}
