use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use k_api_types::SortedMap;
use k_api_types::core::v1::{
    Container, Event, HostPathVolumeSource, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PersistentVolumeSpec, PodSpec, Volume,
};
use k_api_types::meta::{LabelSelector, LabelSelectorRequirement};
use k_api_types::quantity::Quantity;
use k_runtime::testing::TestEnv;
use k_store::api::ListOptions;

use super::*;

const NS: &str = "default";
const WAIT: Duration = Duration::from_secs(10);

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "k-pvbinder-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn quantity(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A ReadWriteOnce hostPath volume of `size` without class, policy Retain.
fn volume(name: &str, size: &str) -> PersistentVolume {
    PersistentVolume {
        metadata: ObjectMeta::named(name),
        spec: PersistentVolumeSpec {
            capacity: [("storage".to_owned(), quantity(size))].into_iter().collect(),
            access_modes: vec!["ReadWriteOnce".into()],
            host_path: Some(HostPathVolumeSource { path: format!("/tmp/k-pvbinder-static/{name}"), type_: None }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A ReadWriteOnce claim of `size` (class unset).
fn claim(name: &str, size: &str) -> PersistentVolumeClaim {
    let mut spec = PersistentVolumeClaimSpec { access_modes: vec!["ReadWriteOnce".into()], ..Default::default() };
    spec.resources.requests.insert("storage".into(), quantity(size));
    PersistentVolumeClaim { metadata: ObjectMeta::namespaced(NS, name), spec, ..Default::default() }
}

fn class(name: &str, provisioner: &str) -> StorageClass {
    StorageClass { metadata: ObjectMeta::named(name), provisioner: provisioner.to_owned(), ..Default::default() }
}

/// The binder running in a manager over a test environment, with the
/// local-directory provisioner under a temporary directory. The fake clock
/// is moved on in the background so retries happen.
struct Fixture {
    env: TestEnv,
    dir: TempDir,
    volumes: Api<PersistentVolume>,
    claims: Api<PersistentVolumeClaim>,
    classes: Api<StorageClass>,
    pods: Api<Pod>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    run: Option<tokio::task::JoinHandle<k_runtime::leader::Outcome>>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Fixture {
    fn start() -> Self {
        Self::start_with(|binder| binder)
    }

    /// Starts the binder after `configure` (more plugins).
    fn start_with(configure: impl FnOnce(PersistentVolumeBinder) -> PersistentVolumeBinder) -> Self {
        let env = TestEnv::new();
        let dir = TempDir::new();
        let mut manager = env.manager();
        let binder = PersistentVolumeBinder::new(manager.api(), manager.informers(), Arc::new(env.clock.clone()))
            .with_provisioner(
                LOCAL_DIRECTORY_PROVISIONER,
                Arc::new(LocalDirectoryProvisioner::new(dir.0.join("provisioned"))),
            );
        configure(binder).add_to(&mut manager);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let clock = env.clock.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                clock.advance(Duration::from_millis(100));
            }
        });
        Fixture {
            volumes: Api::with_client(env.api.clone(), None),
            claims: Api::namespaced(env.store.clone(), NS),
            classes: Api::with_client(env.api.clone(), None),
            pods: Api::namespaced(env.store.clone(), NS),
            env,
            dir,
            stop: Some(stop),
            run: Some(run),
            ticker,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(run) = self.run.take() {
            tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
        }
        self.ticker.abort();
    }

    async fn claim_until(&self, name: &str, what: impl Fn(&PersistentVolumeClaim) -> bool) -> PersistentVolumeClaim {
        self.env.wait_for(NS, name, what, WAIT).await.unwrap()
    }

    async fn bound_claim(&self, name: &str) -> PersistentVolumeClaim {
        self.claim_until(name, |c| claim_phase(c) == PHASE_BOUND).await
    }

    async fn volume_until(&self, name: &str, what: impl Fn(&PersistentVolume) -> bool) -> PersistentVolume {
        self.env.wait_for("", name, what, WAIT).await.unwrap()
    }

    async fn volume_gone(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.volumes.get_opt(name).await.unwrap().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "volume {name} never deleted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for an event with `reason` about the claim or volume `name`.
    async fn event(&self, name: &str, reason: &str) -> Event {
        let events: Api<Event> = Api::with_client(self.env.api.clone(), None);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = events
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some(reason) && e.involved_object.name == name);
            if let Some(event) = found {
                return event;
            }
            assert!(tokio::time::Instant::now() < deadline, "no {reason} event about {name}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Creates a claim bound to volume `volume`, waits for the bind and
    /// deletes the claim.
    async fn bind_and_release(&self, claim_name: &str, volume: &str) {
        let mut c = claim(claim_name, "1Gi");
        c.spec.volume_name = Some(volume.to_owned());
        self.claims.create(&c).await.unwrap();
        self.bound_claim(claim_name).await;
        self.volume_until(volume, |v| volume_phase(v) == PHASE_BOUND).await;
        self.claims.delete(claim_name, &DeleteOptions::default()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_the_smallest_volume_that_satisfies_the_claim() {
    let f = Fixture::start();
    let app = labels(&[("app", "db"), ("tier", "hot")]);
    // Labelled app=db, tier=hot, ReadWriteOnce and ReadOnlyMany, no class,
    // Filesystem; then changed by `edit`.
    let candidate = |name: &str, size: &str, edit: fn(&mut PersistentVolume)| {
        let mut v = volume(name, size);
        v.metadata.labels = app.clone();
        v.spec.access_modes.push("ReadOnlyMany".into());
        edit(&mut v);
        v
    };
    let candidates = [
        candidate("a-too-small", "1Gi", |_| {}),
        candidate("b-read-only", "3Gi", |v| v.spec.access_modes = vec!["ReadOnlyMany".into()]),
        candidate("c-other-class", "3Gi", |v| v.spec.storage_class_name = Some("fast".into())),
        candidate("d-block", "3Gi", |v| v.spec.volume_mode = Some("Block".into())),
        candidate("e-cold", "3Gi", |v| v.metadata.labels = labels(&[("app", "db"), ("tier", "cold")])),
        candidate("f-no-app", "3Gi", |v| v.metadata.labels = labels(&[("tier", "hot")])),
        candidate("g-big", "10Gi", |_| {}),
        candidate("h-right", "5Gi", |_| {}),
        candidate("i-bigger", "6Gi", |_| {}),
    ];
    for v in &candidates {
        f.volumes.create(v).await.unwrap();
    }
    // All in the (shared) cache before the claim comes: else it takes the
    // best of those it sees.
    for v in &candidates {
        f.volume_until(&v.metadata.name, |v| volume_phase(v) == PHASE_AVAILABLE).await;
    }
    let mut c = claim("db", "2Gi");
    c.spec.storage_class_name = Some(String::new());
    c.spec.selector = Some(LabelSelector {
        match_labels: labels(&[("app", "db")]),
        match_expressions: vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: vec!["hot".into(), "warm".into()],
        }],
    });
    let created = f.claims.create(&c).await.unwrap();
    let bound = f.bound_claim("db").await;
    assert_eq!(bound.spec.volume_name.as_deref(), Some("h-right"));
    assert_eq!(annotation(&bound.metadata, ANNOTATION_BIND_COMPLETED), Some("yes"));
    assert_eq!(annotation(&bound.metadata, ANNOTATION_BOUND_BY_CONTROLLER), Some("yes"));
    let status = bound.status.unwrap();
    assert_eq!(status.capacity.get("storage"), Some(&quantity("5Gi")));
    assert_eq!(status.access_modes, ["ReadWriteOnce", "ReadOnlyMany"]);

    let pv = f.volume_until("h-right", |v| volume_phase(v) == PHASE_BOUND).await;
    let reference = pv.spec.claim_ref.clone().unwrap();
    assert_eq!(
        (
            reference.kind.as_str(),
            reference.api_version.as_str(),
            reference.namespace.as_str(),
            reference.name.as_str()
        ),
        ("PersistentVolumeClaim", "v1", NS, "db")
    );
    assert_eq!(reference.uid, created.metadata.uid);
    assert!(!reference.resource_version.is_empty());
    assert_eq!(annotation(&pv.metadata, ANNOTATION_BOUND_BY_CONTROLLER), Some("yes"));
    for other in ["a-too-small", "b-read-only", "c-other-class", "d-block", "e-cold", "f-no-app", "g-big", "i-bigger"] {
        let v = f.volume_until(other, |v| volume_phase(v) == PHASE_AVAILABLE).await;
        assert!(v.spec.claim_ref.is_none(), "{other} stays unclaimed");
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_claim_stays_pending_until_a_volume_appears() {
    let f = Fixture::start();
    f.volumes.create(&volume("too-small", "1Gi")).await.unwrap();
    f.claims.create(&claim("waiting", "2Gi")).await.unwrap();
    let event = f.event("waiting", "FailedBinding").await;
    assert_eq!(event.message.as_deref(), Some(MESSAGE_NO_CLASS));
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let c = f.claims.get("waiting").await.unwrap();
    assert_eq!(claim_phase(&c), PHASE_PENDING);
    assert!(c.spec.volume_name.is_none());

    f.volumes.create(&volume("late", "2Gi")).await.unwrap();
    let bound = f.bound_claim("waiting").await;
    assert_eq!(bound.spec.volume_name.as_deref(), Some("late"));
    f.volume_until("too-small", |v| volume_phase(v) == PHASE_AVAILABLE).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_bound_volumes_and_claims_bind_to_each_other() {
    let f = Fixture::start();
    f.volumes.create(&volume("small", "1Gi")).await.unwrap();
    let mut reserved = volume("reserved", "5Gi");
    reserved.spec.claim_ref =
        Some(ObjectReference { namespace: NS.into(), name: "wants-reserved".into(), ..Default::default() });
    f.volumes.create(&reserved).await.unwrap();
    f.volumes.create(&volume("chosen", "8Gi")).await.unwrap();
    f.volume_until("reserved", |v| volume_phase(v) == PHASE_AVAILABLE).await;

    f.claims.create(&claim("wants-reserved", "1Gi")).await.unwrap();
    let mut named = claim("named", "1Gi");
    named.spec.volume_name = Some("chosen".into());
    f.claims.create(&named).await.unwrap();

    let c = f.bound_claim("wants-reserved").await;
    assert_eq!(c.spec.volume_name.as_deref(), Some("reserved"), "the pre-bound volume, not the smallest");
    let v = f.volume_until("reserved", |v| volume_phase(v) == PHASE_BOUND).await;
    assert_eq!(v.spec.claim_ref.unwrap().uid, c.metadata.uid);
    assert_eq!(annotation(&v.metadata, ANNOTATION_BOUND_BY_CONTROLLER), None, "the user chose this binding");

    let c = f.bound_claim("named").await;
    assert_eq!(c.spec.volume_name.as_deref(), Some("chosen"));
    assert_eq!(annotation(&c.metadata, ANNOTATION_BOUND_BY_CONTROLLER), None, "the user named the volume");
    assert_eq!(annotation(&c.metadata, ANNOTATION_BIND_COMPLETED), Some("yes"));
    let v = f.volume_until("chosen", |v| volume_phase(v) == PHASE_BOUND).await;
    assert_eq!(v.spec.claim_ref.unwrap().name, "named");
    assert_eq!(annotation(&v.metadata, ANNOTATION_BOUND_BY_CONTROLLER), Some("yes"));

    let s = f.volume_until("small", |v| volume_phase(v) == PHASE_AVAILABLE).await;
    assert!(s.spec.claim_ref.is_none());
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_done_binds_are_completed() {
    // Reconciled by hand (no manager): the states an interrupted bind leaves.
    let env = TestEnv::new();
    let informers = Arc::new(InformerFactory::new(env.api.clone(), k_runtime::watcher::Config::default()));
    let binder = PersistentVolumeBinder::new(env.api.clone(), informers.clone(), Arc::new(env.clock.clone()));
    let (claim_reconciler, volume_reconciler) = binder.reconcilers();
    let ctx = Context {
        controller: Arc::from("persistentvolume-binder"),
        api: env.api.clone(),
        clock: Arc::new(env.clock.clone()),
        retries: 0,
    };
    let volumes: Api<PersistentVolume> = Api::with_client(env.api.clone(), None);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(env.store.clone(), NS);

    // 1. Only the volume's claim reference was written: the claim takes
    //    that volume, not the smaller one.
    let half = claims.create(&claim("half", "1Gi")).await.unwrap();
    let mut v = volume("half-done", "5Gi");
    v.spec.claim_ref = Some(ObjectReference {
        kind: "PersistentVolumeClaim".into(),
        api_version: "v1".into(),
        namespace: NS.into(),
        name: "half".into(),
        uid: half.metadata.uid.clone(),
        ..Default::default()
    });
    v.metadata.annotations.insert(ANNOTATION_BOUND_BY_CONTROLLER.into(), "yes".into());
    volumes.create(&v).await.unwrap();
    volumes.create(&volume("smaller", "1Gi")).await.unwrap();
    // 2. The claim names its volume and says the bind completed, but the
    //    volume does not point back and the claim's status is Pending.
    let mut named = claim("named", "1Gi");
    named.spec.volume_name = Some("named-pv".into());
    named.metadata.annotations.insert(ANNOTATION_BIND_COMPLETED.into(), "yes".into());
    named.metadata.annotations.insert(ANNOTATION_BOUND_BY_CONTROLLER.into(), "yes".into());
    let named = claims.create(&named).await.unwrap();
    volumes.create(&volume("named-pv", "1Gi")).await.unwrap();

    let volume_cache = informers.informer::<PersistentVolume>(None, None, None).store();
    let claim_cache = informers.informer::<PersistentVolumeClaim>(None, None, None).store();
    let deadline = tokio::time::Instant::now() + WAIT;
    while volume_cache.len() < 3 || claim_cache.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the caches never filled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for name in ["half", "named"] {
        let current = Arc::new(claims.get(name).await.unwrap());
        assert_eq!(claim_reconciler.reconcile(current, &ctx).await.unwrap(), Action::AwaitChange);
        let bound = claims.get(name).await.unwrap();
        assert_eq!(claim_phase(&bound), PHASE_BOUND, "{name}");
        assert_eq!(annotation(&bound.metadata, ANNOTATION_BIND_COMPLETED), Some("yes"));
    }
    assert_eq!(claims.get("half").await.unwrap().spec.volume_name.as_deref(), Some("half-done"));
    let pv = volumes.get("named-pv").await.unwrap();
    assert_eq!(pv.spec.claim_ref.as_ref().unwrap().uid, named.metadata.uid);
    assert_eq!(volume_phase(&pv), PHASE_BOUND);
    assert_eq!(volume_phase(&volumes.get("half-done").await.unwrap()), PHASE_BOUND);

    // Syncing again changes nothing.
    let before = claims.get("half").await.unwrap().metadata.resource_version;
    let deadline = tokio::time::Instant::now() + WAIT;
    while claim_cache.get(&claim_key(NS, "half")).is_none_or(|c| c.metadata.resource_version != before) {
        assert!(tokio::time::Instant::now() < deadline, "the cache never caught up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let current = Arc::new(claims.get("half").await.unwrap());
    claim_reconciler.reconcile(current, &ctx).await.unwrap();
    assert_eq!(claims.get("half").await.unwrap().metadata.resource_version, before);

    // The volume half: an unclaimed volume turns Available.
    let smaller = Arc::new(volumes.get("smaller").await.unwrap());
    assert_eq!(volume_phase(&smaller), "Pending");
    volume_reconciler.reconcile(smaller, &ctx).await.unwrap();
    assert_eq!(volume_phase(&volumes.get("smaller").await.unwrap()), PHASE_AVAILABLE);
}

/// A provisioner that fails its first calls, around the local one.
#[derive(Debug)]
struct Flaky {
    inner: LocalDirectoryProvisioner,
    failing_provisions: AtomicUsize,
    failing_deletes: AtomicUsize,
    deletes: AtomicUsize,
}

/// Whether a call should fail (and one failure fewer).
fn fails(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[async_trait::async_trait]
impl Provisioner for Flaky {
    async fn provision(&self, request: &ProvisionRequest<'_>) -> Result<PersistentVolumeSpec, VolumeError> {
        if fails(&self.failing_provisions) {
            return Err(VolumeError::new("backend unavailable"));
        }
        self.inner.provision(request).await
    }

    async fn delete(&self, volume: &PersistentVolume) -> Result<(), VolumeError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        if fails(&self.failing_deletes) {
            return Err(VolumeError::new("backend busy"));
        }
        self.inner.delete(volume).await
    }
}

/// A recycler that only records what it recycled.
#[derive(Debug, Default)]
struct Recording(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Recycler for Recording {
    async fn recycle(&self, volume: &PersistentVolume) -> Result<(), VolumeError> {
        self.0.lock().unwrap().push(volume.metadata.name.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_failures_are_reported_and_retried() {
    let base = TempDir::new();
    let flaky = Arc::new(Flaky {
        inner: LocalDirectoryProvisioner::new(base.0.clone()),
        failing_provisions: AtomicUsize::new(1),
        failing_deletes: AtomicUsize::new(1),
        deletes: AtomicUsize::new(0),
    });
    let recycler = Arc::new(Recording::default());
    let f = Fixture::start_with({
        let (flaky, recycler) = (flaky.clone(), recycler.clone());
        move |binder| binder.with_provisioner("example.com/flaky", flaky).with_recycler(recycler)
    });
    f.classes.create(&class("flaky", "example.com/flaky")).await.unwrap();
    let mut c = claim("retried", "1Gi");
    c.spec.storage_class_name = Some("flaky".into());
    let created = f.claims.create(&c).await.unwrap();
    let event = f.event("retried", "ProvisioningFailed").await;
    let message = event.message.unwrap();
    assert!(message.contains("flaky") && message.contains("backend unavailable"), "{message}");
    f.bound_claim("retried").await;
    let name = format!("pvc-{}", created.metadata.uid);
    let pv = f.volumes.get(&name).await.unwrap();
    assert_eq!(annotation(&pv.metadata, ANNOTATION_PROVISIONED_BY), Some("example.com/flaky"));
    let path = PathBuf::from(&pv.spec.host_path.unwrap().path);
    assert!(path.is_dir());

    // The first deletion fails: Failed, then retried after DELETE_RETRY.
    f.claims.delete("retried", &DeleteOptions::default()).await.unwrap();
    let failed = f.volume_until(&name, |v| volume_phase(v) == PHASE_FAILED).await;
    assert!(failed.status.unwrap().message.unwrap().contains("backend busy"));
    f.event(&name, "VolumeFailedDelete").await;
    f.volume_gone(&name).await;
    assert_eq!(flaky.deletes.load(Ordering::SeqCst), 2);
    assert!(!path.exists());

    // The configured recycler is used.
    let mut recycled = volume("recycled", "1Gi");
    recycled.spec.persistent_volume_reclaim_policy = Some("Recycle".into());
    f.volumes.create(&recycled).await.unwrap();
    f.bind_and_release("c-recycled", "recycled").await;
    f.volume_until("recycled", |v| volume_phase(v) == PHASE_AVAILABLE && v.spec.claim_ref.is_none()).await;
    let seen = recycler.0.lock().unwrap().clone();
    assert_eq!(seen, ["recycled"], "recycled once, by the configured recycler");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_volumes_follow_their_reclaim_policy() {
    let f = Fixture::start();
    // Retain.
    f.volumes.create(&volume("keep", "1Gi")).await.unwrap();
    // Delete (not provisioned: only the object goes).
    let mut drop = volume("drop", "1Gi");
    drop.spec.persistent_volume_reclaim_policy = Some("Delete".into());
    f.volumes.create(&drop).await.unwrap();
    // Recycle: the directory is scrubbed.
    let data = f.dir.0.join("recycled");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("file"), b"secret").unwrap();
    std::fs::write(data.join("sub").join("nested"), b"secret").unwrap();
    let mut reuse = volume("reuse", "1Gi");
    reuse.spec.persistent_volume_reclaim_policy = Some("Recycle".into());
    reuse.spec.host_path = Some(HostPathVolumeSource { path: data.to_string_lossy().into_owned(), type_: None });
    f.volumes.create(&reuse).await.unwrap();
    // Recycle of a directory that does not exist fails.
    let mut broken = volume("broken", "1Gi");
    broken.spec.persistent_volume_reclaim_policy = Some("Recycle".into());
    broken.spec.host_path =
        Some(HostPathVolumeSource { path: f.dir.0.join("missing").to_string_lossy().into_owned(), type_: None });
    f.volumes.create(&broken).await.unwrap();

    f.bind_and_release("c-keep", "keep").await;
    f.bind_and_release("c-drop", "drop").await;
    f.bind_and_release("c-reuse", "reuse").await;
    f.bind_and_release("c-broken", "broken").await;

    let kept = f.volume_until("keep", |v| volume_phase(v) == PHASE_RELEASED).await;
    assert_eq!(kept.spec.claim_ref.unwrap().name, "c-keep", "a retained volume keeps its claim reference");

    f.volume_gone("drop").await;

    let reused = f.volume_until("reuse", |v| volume_phase(v) == PHASE_AVAILABLE && v.spec.claim_ref.is_none()).await;
    assert_eq!(annotation(&reused.metadata, ANNOTATION_BOUND_BY_CONTROLLER), None);
    assert!(data.is_dir(), "the directory itself stays");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "its contents are scrubbed");
    f.event("reuse", "VolumeRecycled").await;

    let failed = f.volume_until("broken", |v| volume_phase(v) == PHASE_FAILED).await;
    let message = failed.status.unwrap().message.unwrap();
    assert!(message.starts_with("Recycle failed"), "{message}");
    f.event("broken", "VolumeFailedRecycle").await;

    // Still released after more syncs.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(volume_phase(&f.volumes.get("keep").await.unwrap()), PHASE_RELEASED);
    // The recycled volume is bound again by a new claim.
    let mut again = claim("again", "1Gi");
    again.spec.volume_name = Some("reuse".into());
    f.claims.create(&again).await.unwrap();
    f.bound_claim("again").await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisions_local_directories_for_the_default_class_and_deletes_them() {
    let f = Fixture::start();
    let mut local = class("local", LOCAL_DIRECTORY_PROVISIONER);
    local.metadata.annotations.insert(ANNOTATION_DEFAULT_CLASS.into(), "true".into());
    f.classes.create(&local).await.unwrap();
    f.classes.create(&class("nfs", "example.com/nfs")).await.unwrap();

    let created = f.claims.create(&claim("data", "3Gi")).await.unwrap();
    let bound = f.bound_claim("data").await;
    let name = format!("pvc-{}", created.metadata.uid);
    assert_eq!(bound.spec.volume_name.as_deref(), Some(name.as_str()));
    assert_eq!(annotation(&bound.metadata, ANNOTATION_STORAGE_PROVISIONER), Some(LOCAL_DIRECTORY_PROVISIONER));
    assert_eq!(bound.status.unwrap().capacity.get("storage"), Some(&quantity("3Gi")));
    let pv = f.volume_until(&name, |v| volume_phase(v) == PHASE_BOUND).await;
    assert_eq!(annotation(&pv.metadata, ANNOTATION_PROVISIONED_BY), Some(LOCAL_DIRECTORY_PROVISIONER));
    assert_eq!(pv.spec.storage_class_name.as_deref(), Some("local"));
    assert_eq!(pv.spec.persistent_volume_reclaim_policy.as_deref(), Some("Delete"));
    assert_eq!(pv.spec.access_modes, ["ReadWriteOnce"]);
    assert_eq!(pv.spec.claim_ref.as_ref().unwrap().uid, created.metadata.uid);
    let path = PathBuf::from(&pv.spec.host_path.as_ref().unwrap().path);
    assert_eq!(path, f.dir.0.join("provisioned").join(&name));
    assert!(path.is_dir(), "the directory is created");
    let event = f.event("data", "ProvisioningSucceeded").await;
    assert!(event.message.unwrap().contains(&name));

    // A class without registered provisioner waits for an external one.
    let mut external = claim("external", "1Gi");
    external.spec.storage_class_name = Some("nfs".into());
    f.claims.create(&external).await.unwrap();
    f.event("external", "ExternalProvisioning").await;
    let waiting =
        f.claim_until("external", |c| annotation(&c.metadata, ANNOTATION_STORAGE_PROVISIONER).is_some()).await;
    assert_eq!(annotation(&waiting.metadata, ANNOTATION_STORAGE_PROVISIONER), Some("example.com/nfs"));
    assert_eq!(claim_phase(&waiting), PHASE_PENDING);
    assert!(waiting.spec.volume_name.is_none());

    f.claims.delete("data", &DeleteOptions::default()).await.unwrap();
    f.volume_gone(&name).await;
    assert!(!path.exists(), "the directory is deleted with the volume");
    f.stop().await;
}

fn pod(name: &str, claim_name: &str, node: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta::namespaced(NS, name),
        spec: PodSpec {
            containers: vec![Container { name: "c".into(), image: Some("busybox".into()), ..Default::default() }],
            volumes: vec![Volume {
                name: "data".into(),
                persistent_volume_claim: Some(Box::new(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name.into(),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            node_name: node.map(str::to_owned),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_first_consumer_waits_for_a_scheduled_pod() {
    let f = Fixture::start();
    let mut late = class("late", LOCAL_DIRECTORY_PROVISIONER);
    late.volume_binding_mode = Some("WaitForFirstConsumer".into());
    f.classes.create(&late).await.unwrap();
    let mut c = claim("wffc", "1Gi");
    c.spec.storage_class_name = Some("late".into());
    let created = f.claims.create(&c).await.unwrap();
    f.event("wffc", "WaitForFirstConsumer").await;
    // An unscheduled pod is not enough.
    f.pods.create(&pod("unscheduled", "wffc", None)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = f.claims.get("wffc").await.unwrap();
    assert_eq!(claim_phase(&c), PHASE_PENDING);
    assert!(!c.metadata.annotations.contains_key(ANNOTATION_SELECTED_NODE));
    assert!(f.volumes.list(&ListOptions::default()).await.unwrap().items.is_empty(), "nothing provisioned yet");

    f.pods.create(&pod("scheduled", "wffc", Some("node-a"))).await.unwrap();
    let bound = f.bound_claim("wffc").await;
    assert_eq!(annotation(&bound.metadata, ANNOTATION_SELECTED_NODE), Some("node-a"));
    let pv = f.volumes.get(&format!("pvc-{}", created.metadata.uid)).await.unwrap();
    assert!(pv.spec.local.is_some(), "a local volume on the selected node");
    let affinity = pv.spec.node_affinity.unwrap().required.unwrap();
    let requirement = &affinity.node_selector_terms[0].match_expressions[0];
    assert_eq!((requirement.key.as_str(), requirement.values.as_slice()), (LABEL_HOSTNAME, &["node-a".to_owned()][..]));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_volume_makes_its_claim_lost() {
    let f = Fixture::start();
    f.volumes.create(&volume("vanishing", "1Gi")).await.unwrap();
    f.claims.create(&claim("orphaned", "1Gi")).await.unwrap();
    f.bound_claim("orphaned").await;
    f.volumes.delete("vanishing", &DeleteOptions::default()).await.unwrap();
    let lost = f.claim_until("orphaned", |c| claim_phase(c) == PHASE_LOST).await;
    assert_eq!(lost.spec.volume_name.as_deref(), Some("vanishing"));
    let event = f.event("orphaned", "ClaimLost").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    f.stop().await;
}

#[tokio::test]
async fn the_local_directory_provisioner_only_deletes_under_its_base() {
    let dir = TempDir::new();
    let provisioner = LocalDirectoryProvisioner::new(dir.0.join("base"));
    let c = claim("c", "1Gi");
    let sc = class("local", LOCAL_DIRECTORY_PROVISIONER);
    let request = ProvisionRequest { volume_name: "pvc-1", claim: &c, class: &sc, selected_node: None };
    let spec = provisioner.provision(&request).await.unwrap();
    let path = PathBuf::from(&spec.host_path.as_ref().unwrap().path);
    assert!(path.is_dir());
    let bad = ProvisionRequest { volume_name: "../escape", ..request };
    assert!(provisioner.provision(&bad).await.is_err());

    let outside = PersistentVolume {
        spec: PersistentVolumeSpec {
            host_path: Some(HostPathVolumeSource { path: dir.0.to_string_lossy().into_owned(), type_: None }),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(provisioner.delete(&outside).await.is_err(), "never outside the base directory");
    assert!(dir.0.is_dir());
    let inside = PersistentVolume { spec: spec.clone(), ..Default::default() };
    provisioner.delete(&inside).await.unwrap();
    assert!(!path.exists());
    provisioner.delete(&inside).await.expect("deleting again is fine");
}
