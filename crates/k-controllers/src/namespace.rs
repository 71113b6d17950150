//! The Namespace controller: deleting a namespace deletes its content.
//!
//! A namespace with a `deletionTimestamp` whose `spec.finalizers` hold
//! `kubernetes` is emptied, as kube-controller-manager's namespace
//! controller does:
//!
//! 1. `status.phase` becomes `Terminating`;
//! 2. every namespaced object of every served resource that can be listed
//!    and deleted (custom resources included, discovered from the object
//!    API on each pass; subresources left out) is deleted with the default
//!    options, so bound pods get their graceful termination and objects
//!    with finalizers wait for them;
//! 3. while content remains, the namespace's conditions say why
//!    (`NamespaceContentRemaining`: "Some resources are remaining: pods.
//!    has 2 resource instances", `NamespaceFinalizersRemaining`,
//!    `NamespaceDeletionContentFailure`, …) and the namespace is looked at
//!    again after [`NamespaceOptions::requeue_after`];
//! 4. once nothing remains, the `kubernetes` finalizer is removed and the
//!    namespace goes.
//!
//! The store keeps a deleted namespace, `Terminating`, while its
//! `spec.finalizers` hold entries; the controller removes `kubernetes`
//! through the `finalize` subresource ([`Api::finalize`]), and the store
//! then removes the namespace (unless other finalizers remain).
//!
//! ```no_run
//! # fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) {
//! let mut manager = k_runtime::manager::Manager::new(api);
//! k_controllers::namespace::add(&mut manager);
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k_api_types::ApiResource;
use k_api_types::core::v1::{FINALIZER_KUBERNETES, Namespace, NamespaceCondition, NamespaceStatus};
use k_api_types::meta::{DeleteOptions, Time};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_store::api::{DeleteOutcome, ListOptions};
use k_store::{Api, ObjectApi, StoreError};

/// The phase of a namespace being deleted.
pub const PHASE_TERMINATING: &str = "Terminating";
/// Condition: discovering the served resources failed.
pub const CONDITION_DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
/// Condition: a group/version could not be parsed.
pub const CONDITION_GROUP_VERSION_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
/// Condition: deleting some content failed.
pub const CONDITION_CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
/// Condition: content remains (being deleted).
pub const CONDITION_CONTENT_REMAINING: &str = "NamespaceContentRemaining";
/// Condition: remaining content waits for finalizers.
pub const CONDITION_FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the namespace failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Some content could not be deleted.
    #[error("deleting the content of namespace {namespace}: {message}")]
    Content {
        /// The namespace.
        namespace: String,
        /// What failed.
        message: String,
    },
}

/// The controller's options.
#[derive(Clone, Debug)]
pub struct NamespaceOptions {
    /// How soon a namespace whose content remains is looked at again.
    pub requeue_after: Duration,
}

impl Default for NamespaceOptions {
    /// Requeue after 5 s.
    fn default() -> Self {
        NamespaceOptions { requeue_after: Duration::from_secs(5) }
    }
}

/// The Namespace reconciler.
#[derive(Clone, Debug, Default)]
pub struct NamespaceReconciler {
    options: NamespaceOptions,
}

/// What one pass over a namespace's content found.
#[derive(Debug, Default)]
struct ContentReport {
    /// Objects still there, by `resource.group`.
    remaining: BTreeMap<String, usize>,
    /// Finalizers of the remaining objects, with how many hold each.
    finalizers: BTreeMap<String, usize>,
    /// Failures, one per resource.
    failures: Vec<String>,
}

impl NamespaceReconciler {
    /// A reconciler with `options`.
    pub fn new(options: NamespaceOptions) -> Self {
        NamespaceReconciler { options }
    }

    /// The controller of every namespace.
    pub fn controller(factory: Arc<InformerFactory>) -> Controller<Namespace> {
        Controller::new(factory, None).named("namespace")
    }
}

/// Whether `r` holds objects the controller deletes: namespaced, listable,
/// deletable, not a subresource.
fn deletable(r: &ApiResource) -> bool {
    r.namespaced
        && !r.plural.contains('/')
        && r.verbs.iter().any(|v| v == "list")
        && r.verbs.iter().any(|v| v == "delete")
}

/// Deletes everything in `namespace` and reports what remains.
async fn delete_content(api: &dyn ObjectApi, namespace: &str) -> ContentReport {
    let mut report = ContentReport::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut resources: Vec<ApiResource> = api.resources().into_iter().filter(deletable).collect();
    resources.sort_by(|a, b| (&a.group, &a.plural, &a.version).cmp(&(&b.group, &b.plural, &b.version)));
    for resource in resources {
        // One version of each group/resource is enough: they are the same objects.
        if !seen.insert((resource.group.clone(), resource.plural.clone())) {
            continue;
        }
        let label = format!("{}.{}", resource.plural, resource.group);
        let gvr = resource.gvr();
        let page = match api.list(&gvr, Some(namespace), &ListOptions::default()).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => continue, // no longer served
            Err(e) => {
                report.failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let mut left = 0;
        for object in page.items {
            let remaining = if object.metadata.deletion_timestamp.is_some() {
                Some(object)
            } else {
                match api
                    .delete(&gvr, namespace, &object.metadata.name, &DeleteOptions::default(), &Default::default())
                    .await
                {
                    Ok(DeleteOutcome::Deleted(_)) => None,
                    Ok(DeleteOutcome::Pending(o)) => Some(o),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => {
                        report.failures.push(format!("{label} {}: {e}", object.metadata.name));
                        Some(object)
                    }
                }
            };
            if let Some(o) = remaining {
                left += 1;
                for f in &o.metadata.finalizers {
                    *report.finalizers.entry(f.clone()).or_default() += 1;
                }
            }
        }
        if left > 0 {
            report.remaining.insert(label, left);
        }
    }
    report
}

/// The five conditions Kubernetes reports for a terminating namespace.
fn conditions(report: &ContentReport) -> Vec<(&'static str, bool, &'static str, String)> {
    let remaining = report
        .remaining
        .iter()
        .map(|(gr, n)| format!("{gr} has {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ");
    let finalizers =
        report.finalizers.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect::<Vec<_>>().join(", ");
    vec![
        (CONDITION_DISCOVERY_FAILURE, false, "ResourcesDiscovered", "All resources successfully discovered".into()),
        (
            CONDITION_GROUP_VERSION_PARSING_FAILURE,
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
        if report.failures.is_empty() {
            (
                CONDITION_CONTENT_FAILURE,
                false,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".into(),
            )
        } else {
            (
                CONDITION_CONTENT_FAILURE,
                true,
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    report.failures.len(),
                    report.failures.join(", ")
                ),
            )
        },
        if report.remaining.is_empty() {
            (CONDITION_CONTENT_REMAINING, false, "ContentRemoved", "All content successfully removed".into())
        } else {
            (
                CONDITION_CONTENT_REMAINING,
                true,
                "SomeResourcesRemain",
                format!("Some resources are remaining: {remaining}"),
            )
        },
        if report.finalizers.is_empty() {
            (
                CONDITION_FINALIZERS_REMAINING,
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".into(),
            )
        } else {
            (
                CONDITION_FINALIZERS_REMAINING,
                true,
                "SomeFinalizersRemain",
                format!("Some content in the namespace has finalizers remaining: {finalizers}"),
            )
        },
    ]
}

/// Sets `status` to phase Terminating with the conditions of `report`; whether it changed.
fn set_status(status: &mut NamespaceStatus, report: &ContentReport, now: Time) -> bool {
    let before = status.clone();
    status.phase = Some(PHASE_TERMINATING.to_owned());
    for (type_, on, reason, message) in conditions(report) {
        let value = if on { "True" } else { "False" };
        match status.conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != value {
                    c.status = value.to_owned();
                    c.last_transition_time = Some(now);
                }
                c.reason = Some(reason.to_owned());
                c.message = Some(message);
            }
            None => status.conditions.push(NamespaceCondition {
                type_: type_.to_owned(),
                status: value.to_owned(),
                last_transition_time: Some(now),
                reason: Some(reason.to_owned()),
                message: Some(message),
            }),
        }
    }
    *status != before
}

#[async_trait::async_trait]
impl Reconciler<Namespace> for NamespaceReconciler {
    type Error = Error;

    async fn reconcile(&self, ns: Arc<Namespace>, ctx: &Context) -> Result<Action, Error> {
        let api: Api<Namespace> = Api::with_client(ctx.api.clone(), None);
        let name = ns.metadata.name.clone();
        if ns.metadata.deletion_timestamp.is_none() || !ns.spec.finalizers.iter().any(|f| f == FINALIZER_KUBERNETES) {
            // Active, or others' finalizers only: nothing of ours to do.
            return Ok(Action::AwaitChange);
        }
        let report = delete_content(&*ctx.api, &name).await;
        let mut status = ns.status.clone().unwrap_or_default();
        if set_status(&mut status, &report, Time(ctx.clock.wall())) {
            let mut next = (*ns).clone();
            next.status = Some(status);
            match api.update_status(&next).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                Err(e) => return Err(e.into()),
            }
        }
        if !report.failures.is_empty() {
            return Err(Error::Content { namespace: name, message: report.failures.join(", ") });
        }
        if !report.remaining.is_empty() {
            tracing::debug!(namespace = %name, remaining = ?report.remaining, "namespace content remains");
            return Ok(Action::RequeueAfter(self.options.requeue_after));
        }
        // Empty: finalize (the store then removes the namespace).
        let Some(current) = api.get_opt(&name).await? else { return Ok(Action::AwaitChange) };
        let mut next = current.clone();
        next.spec.finalizers.retain(|f| f != FINALIZER_KUBERNETES);
        if next.spec.finalizers == current.spec.finalizers {
            return Ok(Action::AwaitChange);
        }
        match api.finalize(&next).await {
            Ok(_) => Ok(Action::AwaitChange),
            Err(e) if e.is_not_found() => Ok(Action::AwaitChange),
            Err(e) => Err(e.into()),
        }
    }
}

/// Adds the Namespace controller with the default options.
pub fn add(manager: &mut Manager) {
    let controller = NamespaceReconciler::controller(manager.informers());
    manager.add(controller, NamespaceReconciler::default());
}

#[cfg(test)]
mod tests {
    use k_api_types::core::v1::Pod;
    use k_runtime::testing::TestEnv;

    use super::*;

    const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.org}
spec:
  group: example.org
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

    fn start(env: &TestEnv) -> tokio::sync::oneshot::Sender<()> {
        let mut manager = env.manager();
        let options = NamespaceOptions { requeue_after: Duration::from_millis(100) };
        manager.add(NamespaceReconciler::controller(manager.informers()), NamespaceReconciler::new(options));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        stop
    }

    async fn create_namespace(env: &TestEnv, name: &str) {
        let api: Api<Namespace> = Api::with_client(env.api.clone(), None);
        let mut ns = Namespace::default();
        ns.metadata.name = name.into();
        let created = api.create(&ns).await.unwrap();
        assert_eq!(created.spec.finalizers, [FINALIZER_KUBERNETES]);
    }

    fn pod(namespace: &str, name: &str, extra: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}{extra}}}\n\
             spec: {{containers: [{{name: c, image: busybox}}]}}\n"
        )
    }

    async fn wait_gone(env: &TestEnv, name: &str) {
        let api: Api<Namespace> = Api::with_client(env.api.clone(), None);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        while api.get_opt(name).await.unwrap().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "namespace {name} never went");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn count(env: &TestEnv, group: &str, version: &str, plural: &str, namespace: &str) -> usize {
        let gvr = k_api_types::GroupVersionResource::new(group, version, plural);
        env.api.list(&gvr, Some(namespace), &ListOptions::default()).await.unwrap().items.len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_a_namespace_deletes_its_content_then_the_namespace() {
        let env = TestEnv::new();
        env.apply(WIDGET_CRD).await.unwrap();
        let _stop = start(&env);
        create_namespace(&env, "doomed").await;
        create_namespace(&env, "kept").await;
        for (ns, name) in [("doomed", "a"), ("doomed", "b"), ("kept", "a")] {
            env.apply(&pod(ns, name, "")).await.unwrap();
            env.apply(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\n"))
                .await
                .unwrap();
        }
        env.apply("apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w, namespace: doomed}\nsize: 3\n")
            .await
            .unwrap();
        assert_eq!(count(&env, "example.org", "v1", "widgets", "doomed").await, 1);

        let api: Api<Namespace> = Api::with_client(env.api.clone(), None);
        let outcome = api.delete("doomed", &DeleteOptions::default()).await.unwrap();
        assert!(matches!(outcome, DeleteOutcome::Pending(_)), "held until its content is gone");
        wait_gone(&env, "doomed").await;
        assert_eq!(count(&env, "", "v1", "pods", "doomed").await, 0);
        assert_eq!(count(&env, "", "v1", "configmaps", "doomed").await, 0);
        assert_eq!(count(&env, "example.org", "v1", "widgets", "doomed").await, 0);
        // Other namespaces keep theirs.
        assert_eq!(count(&env, "", "v1", "pods", "kept").await, 1);
        assert_eq!(count(&env, "", "v1", "configmaps", "kept").await, 1);
        let kept = api.get("kept").await.unwrap();
        assert_eq!(kept.status.unwrap().phase.as_deref(), Some("Active"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finalizer_on_content_keeps_the_namespace_terminating_with_conditions() {
        let env = TestEnv::new();
        let _stop = start(&env);
        create_namespace(&env, "slow").await;
        env.apply(&pod("slow", "stuck", ", finalizers: [example.com/hold]")).await.unwrap();
        env.apply(&pod("slow", "free", "")).await.unwrap();
        env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: slow}\n").await.unwrap();
        let api: Api<Namespace> = Api::with_client(env.api.clone(), None);
        api.delete("slow", &DeleteOptions::default()).await.unwrap();

        let condition = |n: &Namespace, type_: &str| {
            n.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == type_).cloned())
        };
        let ns = env
            .wait_for(
                "",
                "slow",
                |n: &Namespace| condition(n, CONDITION_CONTENT_REMAINING).is_some_and(|c| c.status == "True"),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(ns.status.as_ref().unwrap().phase.as_deref(), Some(PHASE_TERMINATING));
        let remaining = condition(&ns, CONDITION_CONTENT_REMAINING).unwrap();
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(remaining.message.as_deref(), Some("Some resources are remaining: pods. has 1 resource instances"));
        let finalizers = condition(&ns, CONDITION_FINALIZERS_REMAINING).unwrap();
        assert_eq!(finalizers.status, "True");
        assert_eq!(
            finalizers.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
        let failure = condition(&ns, CONDITION_CONTENT_FAILURE).unwrap();
        assert_eq!((failure.status.as_str(), failure.reason.as_deref()), ("False", Some("ContentDeleted")));
        // The rest went; the blocked pod stays, terminating.
        assert_eq!(count(&env, "", "v1", "configmaps", "slow").await, 0);
        let pods: Api<Pod> = Api::with_client(env.api.clone(), Some("slow".into()));
        let stuck = pods.get("stuck").await.unwrap();
        assert!(stuck.metadata.deletion_timestamp.is_some());
        assert!(pods.get_opt("free").await.unwrap().is_none());
        // Still there a few passes later.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(api.get_opt("slow").await.unwrap().is_some());

        // Releasing the finalizer lets the deletion complete.
        let mut released = stuck;
        released.metadata.finalizers.clear();
        pods.update(&released).await.unwrap();
        wait_gone(&env, "slow").await;
        assert_eq!(count(&env, "", "v1", "pods", "slow").await, 0);
    }
}
