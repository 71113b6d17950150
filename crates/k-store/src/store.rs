//! [`Store`]: the Kubernetes object lifecycle over any [`Backend`].

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures::StreamExt;
use k_api_types::meta::{DeleteOptions, ManagedFieldsEntry, Time, WatchEvent};
use k_api_types::registry::Registry;
use k_api_types::selector::{FieldSelector, Selector};
use k_api_types::structural::StructuralSchema;
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource, Object};
use rand::Rng;
use serde_json::Value;

use crate::admission::{AdmissionHook, AdmissionRequest};
use crate::api::{
    DeleteOutcome, DynamicWatchStream, ListOptions, ObjectApi, ObjectPage, Operation, Patch, ResourceVersionMatch,
    SharedEvent, SharedWatchStream, UserInfo, WatchOptions,
};
use crate::backend::{Backend, EventKind, KeyValue, Revision, WatchItem};
use crate::crd::is_crd;
use crate::error::{CONFLICT_MESSAGE, Result, StoreError};
use crate::key::{list_prefix, object_key};

/// Finalizer that asks the garbage collector to orphan dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// Finalizer that asks the garbage collector to delete dependents first.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Annotation on the bookmark that ends the initial events of a streaming list.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";
/// How many times a guaranteed update retries on conflict before giving up
/// (Kubernetes retries until it wins; this bound only stops livelock).
pub(crate) const MAX_RETRIES: usize = 1000;

/// The in-process object API: Kubernetes' object lifecycle over a backend.
///
/// Serves every kind of its [`Registry`] (all built-ins by default; register
/// custom resources with [`Store::register`]). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
    /// Every check runs but nothing is written (`dryRun=All`).
    dry_run: bool,
}

#[derive(Debug)]
struct Inner {
    backend: Arc<dyn Backend>,
    registry: RwLock<Registry>,
    admission: RwLock<Vec<Arc<dyn AdmissionHook>>>,
    /// Structural schemas of custom resources, by group/version/resource.
    schemas: RwLock<std::collections::HashMap<GroupVersionResource, Arc<StructuralSchema>>>,
}

impl Store {
    /// A store of every built-in kind over `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                registry: RwLock::new(Registry::builtin()),
                admission: RwLock::new(Vec::new()),
                schemas: RwLock::new(std::collections::HashMap::new()),
            }),
            dry_run: false,
        }
    }

    /// The same store in dry-run mode: writes go through defaulting,
    /// admission and validation and are answered as usual, but nothing is
    /// stored (Kubernetes' `dryRun=All`).
    pub fn dry_run(&self) -> Store {
        Store { inner: Arc::clone(&self.inner), dry_run: true }
    }

    /// Whether this is a dry-run view.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    async fn backend_create(&self, key: &str, bytes: Bytes) -> Result<Revision> {
        if !self.dry_run {
            return self.inner.backend.create(key, bytes).await;
        }
        if self.inner.backend.get(key, None).await?.is_some() {
            return Err(StoreError::key_exists(key));
        }
        self.inner.backend.revision().await
    }

    async fn backend_update(&self, key: &str, bytes: Bytes, expected: Revision) -> Result<Revision> {
        if !self.dry_run {
            return self.inner.backend.update(key, bytes, expected).await;
        }
        match self.inner.backend.get(key, None).await? {
            None => Err(StoreError::key_not_found(key)),
            Some(kv) if kv.mod_revision != expected => Err(StoreError::key_conflict(key)),
            Some(_) => Ok(expected),
        }
    }

    async fn backend_delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        if !self.dry_run {
            return self.inner.backend.delete(key, expected).await;
        }
        match self.inner.backend.get(key, None).await? {
            None => Err(StoreError::key_not_found(key)),
            Some(kv) if expected.is_some_and(|e| e != kv.mod_revision) => Err(StoreError::key_conflict(key)),
            Some(kv) => Ok((kv.mod_revision, kv)),
        }
    }

    /// A store over a new in-memory backend (the embedded default).
    pub fn in_memory() -> Self {
        Self::new(Arc::new(crate::backend::memory::MemoryBackend::new()))
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// Serves another kind (a custom resource).
    pub fn register(&self, resource: ApiResource) -> Result<()> {
        self.registry_mut()?.register(resource).map_err(|e| StoreError::BadRequest(e.to_string()))
    }

    /// Serves every served version of a CustomResourceDefinition, with its
    /// schemas (objects are pruned, defaulted and validated against them).
    pub fn register_crd(&self, crd: &k_api_types::apiextensions::v1::CustomResourceDefinition) -> Result<()> {
        self.registry_mut()?.register_crd(crd).map_err(|e| StoreError::BadRequest(e.to_string()))?;
        let mut schemas = self.inner.schemas.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for version in &crd.spec.versions {
            let gvr = GroupVersionResource::new(&crd.spec.group, &version.name, &crd.spec.names.plural);
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|s| serde_json::to_value(s).ok())
                .and_then(|s| StructuralSchema::new(&s).ok());
            match schema {
                Some(schema) => schemas.insert(gvr, Arc::new(schema)),
                None => schemas.remove(&gvr),
            };
        }
        Ok(())
    }

    /// The structural schema of a custom resource, if its CRD has one.
    fn custom_schema(&self, resource: &ApiResource) -> Option<Arc<StructuralSchema>> {
        let schemas = self.inner.schemas.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        schemas.get(&resource.gvr()).cloned()
    }

    /// Stops serving every version of a resource (its stored objects stay).
    pub fn unregister(&self, group: &str, plural: &str) -> Result<()> {
        self.registry_mut()?.unregister(group, plural);
        self.inner
            .schemas
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|gvr, _| gvr.group != group || gvr.resource != plural);
        Ok(())
    }

    /// A snapshot of the served kinds.
    pub fn registry(&self) -> Registry {
        match self.inner.registry.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn registry_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, Registry>> {
        self.inner.registry.write().map_err(|_| StoreError::Internal("registry lock poisoned".into()))
    }

    /// Adds an admission hook; hooks run in the order added.
    pub fn add_admission(&self, hook: Arc<dyn AdmissionHook>) {
        match self.inner.admission.write() {
            Ok(mut hooks) => hooks.push(hook),
            Err(poisoned) => poisoned.into_inner().push(hook),
        }
    }

    fn hooks(&self) -> Vec<Arc<dyn AdmissionHook>> {
        match self.inner.admission.read() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Read-modify-write with retry on conflict: `f` gets the current object
    /// and returns the new one (or `None` to leave it unchanged).
    pub async fn guaranteed_update<F>(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        user: &UserInfo,
        mut f: F,
    ) -> Result<DynamicObject>
    where
        F: FnMut(DynamicObject) -> Result<Option<DynamicObject>> + Send,
    {
        let mut last = None;
        for _ in 0..MAX_RETRIES {
            let current = self.get(gvr, namespace, name).await?;
            let rv = current.metadata.resource_version.clone();
            let Some(mut next) = f(current.clone())? else { return Ok(current) };
            next.metadata.resource_version = rv;
            match self.update(gvr, namespace, next, user).await {
                Err(e) if e.is_conflict() => {
                    last = Some(e);
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Internal("guaranteed update gave up".into())))
    }

    /// Runs the hooks' mutating (`validating == false`) or validating phase.
    #[allow(clippy::too_many_arguments)] // the fields of an AdmissionRequest, one by one
    async fn admit(
        &self,
        validating: bool,
        operation: Operation,
        resource: &ApiResource,
        subresource: Option<&str>,
        object: Option<&mut Object>,
        old: Option<&Object>,
        user: &UserInfo,
    ) -> Result<()> {
        let hooks = self.hooks();
        if hooks.is_empty() {
            return Ok(());
        }
        let (namespace, name) = match (&object, old) {
            (Some(o), _) => (o.metadata().namespace.clone(), o.metadata().name.clone()),
            (None, Some(o)) => (o.metadata().namespace.clone(), o.metadata().name.clone()),
            (None, None) => Default::default(),
        };
        let mut request = AdmissionRequest {
            operation,
            resource,
            subresource,
            namespace: &namespace,
            name: &name,
            object,
            old_object: old,
            user,
            dry_run: self.dry_run,
        };
        for hook in hooks {
            if validating {
                hook.validate(&request).await?;
            } else {
                hook.admit(&mut request).await?;
            }
        }
        Ok(())
    }

    async fn read(&self, resource: &ApiResource, namespace: &str, name: &str) -> Result<KeyValue> {
        let key = object_key(resource, namespace, name);
        self.inner
            .backend
            .get(&key, None)
            .await?
            .ok_or_else(|| StoreError::NotFound { resource: qualified(resource), name: name.to_owned() })
    }

    /// Writes an object that passed the lifecycle checks, compare-and-swap on `expected`.
    async fn write(&self, resource: &ApiResource, object: DynamicObject, expected: Revision) -> Result<DynamicObject> {
        let key = object_key(resource, &object.metadata.namespace, &object.metadata.name);
        let (bytes, mut object) = encode(object)?;
        let rev = self.backend_update(&key, bytes, expected).await.map_err(|e| named(e, resource, &object))?;
        object.metadata.resource_version = rev.to_string();
        Ok(object)
    }

    /// The lifecycle of an update through the main path, the status path
    /// or a namespace's finalize path.
    async fn update_impl(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        mut new: DynamicObject,
        user: &UserInfo,
        path: UpdatePath,
    ) -> Result<DynamicObject> {
        let status_path = path == UpdatePath::Status;
        let resource = self.resource(gvr)?;
        if resource.namespaced && new.metadata.namespace.is_empty() {
            new.metadata.namespace = namespace.to_owned();
        }
        check_namespace(&resource, namespace, &mut new)?;
        let kv = self.read(&resource, &new.metadata.namespace, &new.metadata.name).await?;
        let old = decode(&kv)?;
        if !new.metadata.resource_version.is_empty() && new.metadata.resource_version != old.metadata.resource_version {
            return Err(conflict(&resource, &new.metadata.name, CONFLICT_MESSAGE));
        }
        if !new.metadata.uid.is_empty() && new.metadata.uid != old.metadata.uid {
            let msg = format!(
                "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                new.metadata.uid, old.metadata.uid
            );
            return Err(conflict(&resource, &new.metadata.name, &msg));
        }
        fill_type_meta(&resource, &mut new);
        let has_status = resource.has_subresource("status");
        let is_namespace = resource.group.is_empty() && resource.kind == "Namespace";
        // A namespace's spec.finalizers change only through its finalize
        // path (Kubernetes' namespace strategy), and that path changes
        // nothing else.
        let kept_finalizers = if path == UpdatePath::Finalize {
            let requested = new.data.get("spec").and_then(|s| s.get("finalizers")).cloned();
            new = old.clone();
            set_namespace_finalizers(&mut new, requested.clone());
            requested
        } else if is_namespace {
            old.data.get("spec").and_then(|s| s.get("finalizers")).cloned()
        } else {
            None
        };
        if status_path {
            // Only the status changes; everything else stays as stored, but
            // for the field managers (a status write records its own).
            let status = new.data.remove("status");
            let managed = std::mem::take(&mut new.metadata.managed_fields);
            new = old.clone();
            if !managed.is_empty() {
                new.metadata.managed_fields = managed;
            }
            match status {
                Some(s) => new.data.insert("status".into(), s),
                None => new.data.remove("status"),
            };
        } else if path == UpdatePath::Main {
            // System fields are the server's.
            let meta = &mut new.metadata;
            meta.uid = old.metadata.uid.clone();
            meta.creation_timestamp = old.metadata.creation_timestamp;
            meta.deletion_timestamp = old.metadata.deletion_timestamp;
            meta.deletion_grace_period_seconds = old.metadata.deletion_grace_period_seconds;
            meta.generation = old.metadata.generation;
            // Managed fields are the server's record, as in Kubernetes: an
            // update that sends none (an object built afresh, or from a cache
            // that dropped them) keeps the stored ones; `[{}]` clears them.
            match meta.managed_fields.as_slice() {
                [] => meta.managed_fields.clone_from(&old.metadata.managed_fields),
                [only] if *only == ManagedFieldsEntry::default() => meta.managed_fields.clear(),
                _ => {}
            }
            if has_status {
                match old.data.get("status") {
                    Some(s) => new.data.insert("status".into(), s.clone()),
                    None => new.data.remove("status"),
                };
            }
        }
        new.metadata.resource_version.clear();
        let mut typed = to_object(new)?;
        typed.apply_defaults();
        if is_namespace {
            // Defaulting adds `kubernetes` to an empty list; only a create
            // gets that, an update keeps the list it may change.
            let mut value = from_object(&typed)?;
            set_namespace_finalizers(&mut value, kept_finalizers);
            typed = to_object(value)?;
        }
        let schema = self.custom_schema(&resource);
        if let Some(schema) = &schema {
            schema_defaults(schema, &mut typed)?;
        }
        let old_typed = to_object(old.clone())?;
        let subresource = match path {
            UpdatePath::Main => None,
            UpdatePath::Status => Some("status"),
            UpdatePath::Finalize => Some("finalize"),
        };
        self.admit(false, Operation::Update, &resource, subresource, Some(&mut typed), Some(&old_typed), user).await?;
        // The finalize path exists to change what an update may not.
        let mut errors =
            if path == UpdatePath::Finalize { typed.validate() } else { typed.validate_update(&old_typed) };
        if let Some(schema) = &schema {
            errors.extend(schema_errors(schema, &typed)?);
        }
        if !errors.is_empty() {
            return Err(invalid(&resource, &typed, errors));
        }
        self.admit(true, Operation::Update, &resource, subresource, Some(&mut typed), Some(&old_typed), user).await?;
        storage_form(&mut typed);
        let mut new = from_object(&typed)?;
        new.metadata.resource_version = old.metadata.resource_version.clone();
        // The generation counts changes of the defaulted spec (kube compares
        // decoded, hence defaulted, objects).
        if path == UpdatePath::Main {
            new.metadata.generation = old.metadata.generation;
            if spec_changed(&new, &old) {
                new.metadata.generation = Some(old.metadata.generation.unwrap_or(0) + 1);
            }
        }
        if new == old {
            return Ok(old);
        }
        // A terminating object whose last finalizer was removed is deleted
        // now, unless it waits out a grace period (a bound pod: its node
        // agent deletes it once its containers stopped), as Kubernetes'
        // shouldDeleteDuringUpdate says.
        if new.metadata.finalizers.is_empty()
            && old.metadata.deletion_timestamp.is_some()
            && old.metadata.deletion_grace_period_seconds.is_none_or(|g| g == 0)
            && !(is_namespace && has_namespace_finalizers(&new))
        {
            let key = object_key(&resource, &new.metadata.namespace, &new.metadata.name);
            let (rev, _) =
                self.backend_delete(&key, Some(kv.mod_revision)).await.map_err(|e| named(e, &resource, &new))?;
            new.metadata.resource_version = rev.to_string();
            return Ok(new);
        }
        self.write(&resource, new, kv.mod_revision).await
    }

    fn compile_selectors(
        resource: &ApiResource,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<(Option<Selector>, Option<FieldSelector>)> {
        let label = match labels.filter(|s| !s.is_empty()) {
            Some(s) => Some(
                Selector::parse(s).map_err(|e| StoreError::BadRequest(format!("unable to parse requirement: {e}")))?,
            ),
            None => None,
        };
        let field = match fields.filter(|s| !s.is_empty()) {
            Some(s) => {
                let sel = FieldSelector::parse(s).map_err(|e| StoreError::BadRequest(e.to_string()))?;
                let supported: Vec<&str> = resource.selectable_fields.iter().map(String::as_str).collect();
                sel.validate_fields(&supported).map_err(|e| StoreError::BadRequest(e.to_string()))?;
                Some(sel)
            }
            None => None,
        };
        Ok((label, field))
    }
}

/// Whether an object passes label and field selectors.
fn selected(obj: &DynamicObject, label: Option<&Selector>, field: Option<&FieldSelector>) -> bool {
    if let Some(l) = label
        && !l.matches(&obj.metadata.labels)
    {
        return false;
    }
    if let Some(f) = field {
        return f.matches(|path| field_value(obj, path));
    }
    true
}

/// The value of a field-selector field, read from the object's JSON by path.
fn field_value(obj: &DynamicObject, path: &str) -> Option<String> {
    match path {
        "metadata.name" => return Some(obj.metadata.name.clone()),
        "metadata.namespace" => return Some(obj.metadata.namespace.clone()),
        _ => {}
    }
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut v = obj.data.get(first)?;
    for p in parts {
        v = v.get(p)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether anything but metadata and status differs: what `generation` tracks.
/// What Kubernetes changes in a valid object as it stores it: a Secret's
/// `stringData` is folded into `data` (and never stored).
fn storage_form(typed: &mut Object) {
    if let Object::Secret(secret) = typed {
        secret.fold_string_data();
    }
}

/// Which write path an update takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UpdatePath {
    /// Spec and metadata.
    Main,
    /// The `status` subresource.
    Status,
    /// A namespace's `finalize` subresource: `spec.finalizers` only.
    Finalize,
}

/// Sets (or, with `None`, removes) a namespace's `spec.finalizers`.
fn set_namespace_finalizers(namespace: &mut DynamicObject, finalizers: Option<Value>) {
    let spec = namespace.data.entry("spec").or_insert_with(|| serde_json::json!({}));
    if let Some(spec) = spec.as_object_mut() {
        match finalizers {
            Some(f) => spec.insert("finalizers".into(), f),
            None => spec.remove("finalizers"),
        };
    }
}

/// Whether a namespace's `spec.finalizers` still holds any entry.
fn has_namespace_finalizers(namespace: &DynamicObject) -> bool {
    namespace
        .data
        .get("spec")
        .and_then(|s| s.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

fn spec_changed(new: &DynamicObject, old: &DynamicObject) -> bool {
    !new.data.iter().filter(|(k, _)| k.as_str() != "status").eq(old.data.iter().filter(|(k, _)| k.as_str() != "status"))
}

fn fill_type_meta(resource: &ApiResource, obj: &mut DynamicObject) {
    obj.api_version = resource.api_version();
    obj.kind = resource.kind.clone();
}

fn check_namespace(resource: &ApiResource, namespace: &str, obj: &mut DynamicObject) -> Result<()> {
    if !resource.namespaced {
        obj.metadata.namespace.clear();
        return Ok(());
    }
    if obj.metadata.namespace.is_empty() {
        obj.metadata.namespace = namespace.to_owned();
    } else if !namespace.is_empty() && obj.metadata.namespace != namespace {
        return Err(StoreError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request".into(),
        ));
    }
    if obj.metadata.namespace.is_empty() {
        return Err(StoreError::BadRequest("a namespace is required for namespaced resources".into()));
    }
    Ok(())
}

fn conflict(resource: &ApiResource, name: &str, message: &str) -> StoreError {
    StoreError::Conflict { resource: qualified(resource), name: name.to_owned(), message: message.to_owned() }
}

fn invalid(resource: &ApiResource, obj: &Object, errors: k_api_types::validation::ErrorList) -> StoreError {
    StoreError::Invalid {
        kind: resource.kind.clone(),
        group: resource.group.clone(),
        name: obj.metadata().name.clone(),
        errors,
    }
}

/// Prunes unknown fields of a custom resource and applies its schema's defaults.
fn schema_defaults(schema: &StructuralSchema, typed: &mut Object) -> Result<()> {
    if let Object::Dynamic(d) = typed {
        let mut value = serde_json::to_value(&**d).map_err(|e| StoreError::Internal(e.to_string()))?;
        k_api_types::structural::prune(schema, &mut value);
        k_api_types::structural::apply_defaults(schema, &mut value);
        **d = serde_json::from_value(value).map_err(|e| StoreError::BadRequest(e.to_string()))?;
    }
    Ok(())
}

/// A custom resource's schema violations.
fn schema_errors(schema: &StructuralSchema, typed: &Object) -> Result<k_api_types::validation::ErrorList> {
    match typed {
        Object::Dynamic(d) => {
            let value = serde_json::to_value(&**d).map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(k_api_types::structural::validate(schema, &value))
        }
        _ => Ok(Vec::new()),
    }
}

/// The resource as Kubernetes names it in errors: `pods`, `deployments.apps`.
pub(crate) fn qualified(resource: &ApiResource) -> String {
    if resource.group.is_empty() { resource.plural.clone() } else { format!("{}.{}", resource.plural, resource.group) }
}

/// Rewrites a backend error (which names keys) in terms of the object.
fn named(e: StoreError, resource: &ApiResource, obj: &DynamicObject) -> StoreError {
    let (resource, name) = (qualified(resource), obj.metadata.name.clone());
    match e {
        StoreError::NotFound { .. } => StoreError::NotFound { resource, name },
        StoreError::AlreadyExists { .. } => StoreError::AlreadyExists { resource, name },
        StoreError::Conflict { .. } => StoreError::Conflict { resource, name, message: CONFLICT_MESSAGE.into() },
        other => other,
    }
}

fn decode(kv: &KeyValue) -> Result<DynamicObject> {
    let mut obj: DynamicObject = serde_json::from_slice(&kv.value)
        .map_err(|e| StoreError::Internal(format!("stored object {} does not decode: {e}", kv.key)))?;
    obj.metadata.resource_version = kv.mod_revision.to_string();
    Ok(obj)
}

/// Encodes an object for storage (without its resourceVersion).
fn encode(mut obj: DynamicObject) -> Result<(Bytes, DynamicObject)> {
    obj.metadata.resource_version.clear();
    let bytes = serde_json::to_vec(&obj).map_err(|e| StoreError::Internal(format!("encoding failed: {e}")))?;
    Ok((Bytes::from(bytes), obj))
}

fn to_object(obj: DynamicObject) -> Result<Object> {
    let value = serde_json::to_value(obj).map_err(|e| StoreError::BadRequest(e.to_string()))?;
    Object::from_value(&value).map_err(|e| StoreError::BadRequest(e.to_string()))
}

fn from_object(obj: &Object) -> Result<DynamicObject> {
    let value = obj.to_value().map_err(|e| StoreError::Internal(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| StoreError::Internal(e.to_string()))
}

fn parse_rv(rv: &str) -> Result<Revision> {
    rv.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| StoreError::BadRequest(format!("invalid resource version {rv:?}")))
}

/// A random suffix for generateName, from the alphabet Kubernetes uses.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, start: &str) -> String {
    let json = serde_json::to_vec(&ContinueToken { rv, start: start.to_owned() }).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_continue(token: &str) -> Result<ContinueToken> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| StoreError::BadRequest("continue key is not valid".into()))
}

/// The grace period of a pod deletion: the request's, else the pod's, else 30 s.
fn pod_grace_period(obj: &DynamicObject, options: &DeleteOptions) -> i64 {
    options
        .grace_period_seconds
        .or_else(|| obj.data.get("spec").and_then(|s| s.get("terminationGracePeriodSeconds")).and_then(Value::as_i64))
        .unwrap_or(30)
        .max(0)
}

#[async_trait::async_trait]
impl ObjectApi for Store {
    fn dry_run(&self) -> Option<Arc<dyn ObjectApi>> {
        Some(Arc::new(Store::dry_run(self)))
    }

    async fn bind_pod(&self, namespace: &str, name: &str, node: &str, user: &UserInfo) -> Result<DynamicObject> {
        let resource = self.resource(&GroupVersionResource::new("", "v1", "pods"))?;
        let _ = user;
        if node.is_empty() {
            return Err(StoreError::BadRequest("a binding needs a target node name".into()));
        }
        let mut last = None;
        for _ in 0..MAX_RETRIES {
            let kv = self.read(&resource, namespace, name).await?;
            let mut pod = decode(&kv)?;
            fill_type_meta(&resource, &mut pod);
            let bound =
                pod.data.get("spec").and_then(|s| s.get("nodeName")).and_then(Value::as_str).unwrap_or_default();
            if !bound.is_empty() {
                return Err(conflict(&resource, name, &format!("pod {name} is already assigned to node {bound:?}")));
            }
            if pod.metadata.deletion_timestamp.is_some() {
                return Err(conflict(
                    &resource,
                    name,
                    &format!("pod {name} is being deleted, cannot be assigned to a host"),
                ));
            }
            if let Some(Value::Object(spec)) = pod.data.get_mut("spec") {
                spec.insert("nodeName".into(), Value::String(node.to_owned()));
            }
            let status = pod.data.entry("status").or_insert_with(|| serde_json::json!({}));
            if let Value::Object(status) = status {
                let conditions = status.entry("conditions").or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = conditions {
                    list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
                    list.push(serde_json::json!({
                        "type": "PodScheduled",
                        "status": "True",
                        "lastProbeTime": null,
                        "lastTransitionTime": Time::now(),
                    }));
                }
            }
            match self.write(&resource, pod, kv.mod_revision).await {
                Err(e) if e.is_conflict() => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Internal("binding gave up".into())))
    }

    fn resources(&self) -> Vec<ApiResource> {
        let registry = match self.inner.registry.read() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        registry.iter().map(|r| (**r).clone()).collect()
    }

    fn resource(&self, gvr: &GroupVersionResource) -> Result<ApiResource> {
        let registry = match self.inner.registry.read() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        registry.by_resource(gvr).map(|r| (**r).clone()).ok_or_else(|| StoreError::UnknownResource(gvr.to_string()))
    }

    async fn get(&self, gvr: &GroupVersionResource, namespace: &str, name: &str) -> Result<DynamicObject> {
        let resource = self.resource(gvr)?;
        let mut obj = decode(&self.read(&resource, namespace, name).await?)?;
        fill_type_meta(&resource, &mut obj);
        Ok(obj)
    }

    async fn list(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<ObjectPage> {
        let resource = self.resource(gvr)?;
        let (label, field) =
            Self::compile_selectors(&resource, options.label_selector.as_deref(), options.field_selector.as_deref())?;
        let prefix = list_prefix(&resource, namespace);
        let backend = &self.inner.backend;
        let (mut at, mut start) = (None, None);
        if let Some(token) = options.continue_token.as_deref().filter(|t| !t.is_empty()) {
            let t = decode_continue(token)?;
            at = Some(t.rv);
            start = Some(t.start);
        } else {
            match options.resource_version.as_deref() {
                None | Some("") | Some("0") => {}
                Some(rv) => {
                    let rv = parse_rv(rv)?;
                    match options.resource_version_match {
                        Some(ResourceVersionMatch::Exact) => at = Some(rv),
                        _ => {
                            let current = backend.revision().await?;
                            if rv > current {
                                return Err(StoreError::TooLargeResourceVersion { requested: rv, current });
                            }
                        }
                    }
                }
            }
        }
        let mut items = Vec::new();
        let mut revision = None;
        let mut last_key: Option<String> = None;
        let mut more;
        loop {
            let want = if options.limit == 0 { 0 } else { options.limit - items.len() };
            let page = backend.range(&prefix, last_key.as_deref().or(start.as_deref()), want, at.or(revision)).await?;
            revision.get_or_insert(page.revision);
            more = page.more;
            for kv in &page.kvs {
                let mut obj = decode(kv)?;
                fill_type_meta(&resource, &mut obj);
                if selected(&obj, label.as_ref(), field.as_ref()) {
                    items.push(obj);
                }
            }
            if let Some(kv) = page.kvs.last() {
                last_key = Some(kv.key.clone());
            }
            if !more || options.limit == 0 || items.len() >= options.limit || page.kvs.is_empty() {
                break;
            }
        }
        let revision = revision.unwrap_or_default();
        let continue_token = match (&last_key, more && options.limit > 0) {
            (Some(k), true) => encode_continue(revision, k),
            _ => String::new(),
        };
        Ok(ObjectPage { items, resource_version: revision.to_string(), continue_token })
    }

    async fn watch(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<DynamicWatchStream> {
        let events = self.watch_shared(gvr, namespace, options).await?;
        Ok(events.map(|item| item.map(|e| e.to_owned_event())).boxed())
    }

    async fn watch_shared(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<SharedWatchStream> {
        let resource = self.resource(gvr)?;
        let (label, field) =
            Self::compile_selectors(&resource, options.label_selector.as_deref(), options.field_selector.as_deref())?;
        let from_state =
            matches!(options.resource_version.as_deref(), None | Some("") | Some("0")) || options.send_initial_events;
        let mut initial = Vec::new();
        let start = if from_state {
            let mut page = self
                .list(
                    gvr,
                    namespace,
                    &ListOptions {
                        label_selector: options.label_selector.clone(),
                        field_selector: options.field_selector.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            initial.extend(page.items.drain(..).map(|o| Ok(SharedEvent::new(WatchEvent::Added(Arc::new(o))))));
            parse_rv(&page.resource_version)?
        } else {
            parse_rv(options.resource_version.as_deref().unwrap_or("0"))?
        };
        if options.send_initial_events {
            let mut mark = DynamicObject {
                api_version: resource.api_version(),
                kind: resource.kind.clone(),
                ..Default::default()
            };
            mark.metadata.resource_version = start.to_string();
            mark.metadata.annotations.insert(INITIAL_EVENTS_END.into(), "true".into());
            initial.push(Ok(SharedEvent::new(WatchEvent::Bookmark(Arc::new(mark)))));
        }
        let prefix = list_prefix(&resource, namespace);
        let stream = self.inner.backend.watch(&prefix, start).await?;
        let bookmarks = options.allow_bookmarks;
        let events = stream.filter_map(move |item| {
            let out = convert(item, &resource, label.as_ref(), field.as_ref(), bookmarks);
            futures::future::ready(out)
        });
        Ok(futures::stream::iter(initial).chain(events).boxed())
    }

    async fn create(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        mut object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let resource = self.resource(gvr)?;
        check_namespace(&resource, namespace, &mut object)?;
        if !object.metadata.resource_version.is_empty() {
            return Err(StoreError::BadRequest("resourceVersion should not be set on objects to be created".into()));
        }
        if object.metadata.name.is_empty() && !object.metadata.generate_name.is_empty() {
            object.metadata.name = format!("{}{}", object.metadata.generate_name, random_suffix());
        }
        fill_type_meta(&resource, &mut object);
        let meta = &mut object.metadata;
        meta.uid = uuid::Uuid::new_v4().to_string();
        meta.creation_timestamp = Some(Time::now());
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.generation = Some(1);
        // Status is written through the status path (nodes register with theirs).
        if resource.has_subresource("status") && resource.kind != "Node" {
            object.data.remove("status");
        }
        if resource.kind == "Pod" && resource.group.is_empty() {
            object.data.insert("status".into(), serde_json::json!({"phase": "Pending"}));
        }
        let mut typed = to_object(object)?;
        if let Object::Job(job) = &mut typed {
            job.generate_selector();
        }
        typed.apply_defaults();
        let schema = self.custom_schema(&resource);
        if let Some(schema) = &schema {
            schema_defaults(schema, &mut typed)?;
        }
        self.admit(false, Operation::Create, &resource, None, Some(&mut typed), None, user).await?;
        let mut errors = typed.validate();
        if let Some(schema) = &schema {
            errors.extend(schema_errors(schema, &typed)?);
        }
        if !errors.is_empty() {
            return Err(invalid(&resource, &typed, errors));
        }
        self.admit(true, Operation::Create, &resource, None, Some(&mut typed), None, user).await?;
        storage_form(&mut typed);
        let object = from_object(&typed)?;
        let key = object_key(&resource, &object.metadata.namespace, &object.metadata.name);
        let (bytes, mut object) = encode(object)?;
        let rev = self.backend_create(&key, bytes).await.map_err(|e| named(e, &resource, &object))?;
        object.metadata.resource_version = rev.to_string();
        if is_crd(gvr) {
            self.sync_crd(&object.metadata.name, None).await?;
        }
        Ok(object)
    }

    async fn update(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let name = object.metadata.name.clone();
        let out = self.update_impl(gvr, namespace, object, user, UpdatePath::Main).await?;
        if is_crd(gvr) {
            self.sync_crd(&name, None).await?;
        }
        Ok(out)
    }

    async fn update_status(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let resource = self.resource(gvr)?;
        if !resource.has_subresource("status") {
            return Err(StoreError::UnknownResource(format!("{gvr}/status")));
        }
        self.update_impl(gvr, namespace, object, user, UpdatePath::Status).await
    }

    async fn finalize_namespace(&self, namespace: DynamicObject, user: &UserInfo) -> Result<DynamicObject> {
        let gvr = GroupVersionResource::new("", "v1", "namespaces");
        self.update_impl(&gvr, "", namespace, user, UpdatePath::Finalize).await
    }

    async fn patch(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        patch: &Patch,
        status: bool,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        if let Patch::Apply { configuration, field_manager, force } = patch {
            let resource = self.resource(gvr)?;
            let request = crate::apply::ApplyRequest {
                resource: &resource,
                namespace,
                name,
                field_manager,
                force: *force,
                subresource: if status { "status" } else { "" },
                user,
            };
            return Ok(crate::apply::server_side_apply(self, &request, configuration.clone()).await?.object);
        }
        let strategic = match patch {
            Patch::Strategic(_) => {
                let gvk = self.resource(gvr)?.gvk();
                Some(crate::patch::strategic::PatchMeta::for_kind(&gvk).ok_or_else(|| {
                    StoreError::BadRequest(format!(
                        "strategic merge patch is not supported for {gvk}; use a JSON merge patch or JSON patch"
                    ))
                })?)
            }
            _ => None,
        };
        crate::api::modify::<StoreError>(self, gvr, namespace, name, status, user, |current| {
            let mut value = serde_json::to_value(current).map_err(|e| StoreError::Internal(e.to_string()))?;
            match patch {
                Patch::Json(ops) => {
                    let ops: json_patch::Patch = serde_json::from_value(ops.clone())
                        .map_err(|e| StoreError::BadRequest(format!("invalid JSON patch: {e}")))?;
                    json_patch::patch(&mut value, &ops)
                        .map_err(|e| StoreError::BadRequest(format!("the JSON patch could not be applied: {e}")))?;
                }
                Patch::Merge(m) => json_patch::merge(&mut value, m),
                Patch::Strategic(p) => {
                    if !p.is_object() {
                        return Err(StoreError::BadRequest("a strategic merge patch must be a JSON object".into()));
                    }
                    let meta = strategic.as_ref().expect("checked above");
                    value = crate::patch::strategic::strategic_merge(&value, p, meta)
                        .map_err(|e| StoreError::BadRequest(e.to_string()))?;
                }
                Patch::Apply { .. } => unreachable!("served above"),
            }
            // A patch that sets resourceVersion is a precondition (see `modify`).
            let next: DynamicObject = serde_json::from_value(value)
                .map_err(|e| StoreError::BadRequest(format!("patched object does not decode: {e}")))?;
            Ok(Some(next))
        })
        .await
    }

    async fn delete(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<DeleteOutcome> {
        let resource = self.resource(gvr)?;
        let policy = options.propagation_policy.as_deref().or(match options.orphan_dependents {
            Some(true) => Some("Orphan"),
            _ => None,
        });
        let finalizer = match policy {
            Some("Orphan") => Some(ORPHAN_FINALIZER),
            Some("Foreground") => Some(FOREGROUND_FINALIZER),
            Some("Background") | None => None,
            Some(other) => {
                return Err(StoreError::BadRequest(format!(
                    "unsupported propagationPolicy {other:?}: supported values: Orphan, Foreground, Background"
                )));
            }
        };
        let mut last = None;
        // Admission runs once per delete, not once per retry.
        let mut admitted = false;
        for _ in 0..MAX_RETRIES {
            let kv = self.read(&resource, namespace, name).await?;
            let mut obj = decode(&kv)?;
            fill_type_meta(&resource, &mut obj);
            if let Some(p) = &options.preconditions {
                if let Some(uid) = p.uid.as_deref().filter(|u| *u != obj.metadata.uid) {
                    let msg = format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        obj.metadata.uid
                    );
                    return Err(conflict(&resource, name, &msg));
                }
                if let Some(rv) = p.resource_version.as_deref().filter(|r| *r != obj.metadata.resource_version) {
                    let msg = format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        obj.metadata.resource_version
                    );
                    return Err(conflict(&resource, name, &msg));
                }
            }
            if !admitted {
                let typed = to_object(obj.clone())?;
                self.admit(false, Operation::Delete, &resource, None, None, Some(&typed), user).await?;
                self.admit(true, Operation::Delete, &resource, None, None, Some(&typed), user).await?;
                admitted = true;
            }
            let before = obj.clone();
            if let Some(f) = finalizer
                && !obj.metadata.finalizers.iter().any(|x| x == f)
            {
                obj.metadata.finalizers.push(f.to_owned());
            }
            let is_pod = resource.kind == "Pod" && resource.group.is_empty();
            let bound_pod = is_pod
                && obj
                    .data
                    .get("spec")
                    .and_then(|s| s.get("nodeName"))
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty());
            let grace = if bound_pod { pod_grace_period(&obj, options) } else { 0 };
            // A namespace lives on, Terminating, while its spec finalizers
            // (the namespace controller's `kubernetes`) remain.
            let is_namespace = resource.group.is_empty() && resource.kind == "Namespace";
            let held_namespace = is_namespace && has_namespace_finalizers(&obj);
            let graceful = !obj.metadata.finalizers.is_empty() || grace > 0 || held_namespace;
            if !graceful {
                let (rev, _) = match self.backend_delete(&kv.key, Some(kv.mod_revision)).await {
                    Err(e) if e.is_conflict() => {
                        last = Some(named(e, &resource, &obj));
                        continue;
                    }
                    other => other.map_err(|e| named(e, &resource, &obj))?,
                };
                obj.metadata.resource_version = rev.to_string();
                if is_crd(gvr) {
                    self.sync_crd(name, None).await?;
                }
                return Ok(DeleteOutcome::Deleted(obj));
            }
            if obj.metadata.deletion_timestamp.is_none() {
                let now = chrono_now_plus(grace);
                obj.metadata.deletion_timestamp = Some(now);
                obj.metadata.deletion_grace_period_seconds = Some(grace);
                obj.metadata.generation = Some(obj.metadata.generation.unwrap_or(0) + 1);
                if is_namespace {
                    let status = obj.data.entry("status").or_insert_with(|| serde_json::json!({}));
                    if let Some(status) = status.as_object_mut() {
                        status.insert("phase".into(), Value::String("Terminating".into()));
                    }
                }
            } else if bound_pod && grace < obj.metadata.deletion_grace_period_seconds.unwrap_or(i64::MAX) {
                // A shorter grace period moves the deadline earlier (force delete: 0).
                obj.metadata.deletion_timestamp = Some(chrono_now_plus(grace));
                obj.metadata.deletion_grace_period_seconds = Some(grace);
            }
            if obj == before {
                return Ok(DeleteOutcome::Pending(obj));
            }
            match self.write(&resource, obj, kv.mod_revision).await {
                Ok(o) => return Ok(DeleteOutcome::Pending(o)),
                Err(e) if e.is_conflict() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Internal("delete gave up".into())))
    }

    async fn delete_collection(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Vec<DeleteOutcome>> {
        let page = self.list(gvr, namespace, &ListOptions { limit: 0, continue_token: None, ..list.clone() }).await?;
        let mut out = Vec::with_capacity(page.items.len());
        for obj in page.items {
            match self.delete(gvr, &obj.metadata.namespace, &obj.metadata.name, options, user).await {
                Ok(o) => out.push(o),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

fn chrono_now_plus(seconds: i64) -> Time {
    Time(Time::now().0 + chrono::Duration::seconds(seconds))
}

/// Turns a backend watch item into an API watch event for one watcher.
fn convert(
    item: Result<WatchItem>,
    resource: &ApiResource,
    label: Option<&Selector>,
    field: Option<&FieldSelector>,
    bookmarks: bool,
) -> Option<Result<SharedEvent>> {
    let item = match item {
        Ok(i) => i,
        Err(e) => return Some(Err(e)),
    };
    let decode_typed = |kv: &KeyValue| {
        decode(kv).map(|mut o| {
            fill_type_meta(resource, &mut o);
            o
        })
    };
    match item {
        WatchItem::Progress(rev) => bookmarks.then(|| {
            let mut mark = DynamicObject {
                api_version: resource.api_version(),
                kind: resource.kind.clone(),
                ..Default::default()
            };
            mark.metadata.resource_version = rev.to_string();
            Ok(SharedEvent::new(WatchEvent::Bookmark(Arc::new(mark))))
        }),
        WatchItem::Event(event) => {
            // Decoded once per change, by whichever watcher comes first.
            let obj = match event.cache.object.get() {
                Some(o) => o.clone(),
                None => match decode_typed(&event.kv) {
                    Ok(o) => event.cache.object.get_or_init(|| Arc::new(o)).clone(),
                    Err(e) => return Some(Err(e)),
                },
            };
            let now = selected(&obj, label, field);
            let shared = |e: WatchEvent<Arc<DynamicObject>>| Some(Ok(SharedEvent::from_change(e, event.clone())));
            match event.kind {
                EventKind::Delete => {
                    if now {
                        shared(WatchEvent::Deleted(obj))
                    } else {
                        None
                    }
                }
                EventKind::Put if event.kv.create_revision == event.kv.mod_revision => {
                    if now {
                        shared(WatchEvent::Added(obj))
                    } else {
                        None
                    }
                }
                EventKind::Put => {
                    let before = if label.is_none() && field.is_none() {
                        true
                    } else {
                        match &event.prev {
                            Some(prev) => decode_typed(prev).map(|p| selected(&p, label, field)).unwrap_or(now),
                            None => now,
                        }
                    };
                    match (before, now) {
                        (true, true) => shared(WatchEvent::Modified(obj)),
                        (false, true) => shared(WatchEvent::Added(obj)),
                        (true, false) => shared(WatchEvent::Deleted(obj)),
                        (false, false) => None,
                    }
                }
            }
        }
    }
}
