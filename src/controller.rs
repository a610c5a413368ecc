//! The reconcile loop: watches `UserPoolMfaConfig` resources, asks `crate::logic` what to do,
//! calls Cognito, and writes status, events and the finalizer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{PartialObjectMeta, Patch, PatchParams};
use kube::core::Request;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::{debug, error, info, instrument, warn};

use crate::api::{
    CallerIdentity, DeletionPolicy, ManagementPolicy, MfaSettings, RECONCILE_REQUESTED_AT,
    RESET_FINALIZER, UserPoolAccessPolicy, UserPoolMfaConfig, UserPoolMfaConfigStatus,
};
use crate::claims::Claims;
use crate::cognito::{CallError, Caller, MfaCalls, Operation};
use crate::error::{Error, Result};
use crate::events::{Events, Notice};
use crate::http::Health;
use crate::leader::Leadership;
use crate::logic::access::{self, Grant};
use crate::logic::conditions::Reason;
use crate::logic::drift::{diff, normalise, reset};
use crate::logic::errors::{ErrorKind, RetryPolicy, retry_delay};
use crate::logic::ownership::{Claim, other_owner};
use crate::logic::partitions::{self, arn_partition};
use crate::logic::plan::{self, AfterRead, Call, Deletion, EventReason, Outcome, Verdict, Wrote};
use crate::logic::shard::Shard;
use crate::logic::validation::{Valid, describe, validate};
use crate::logic::watch::Change;
use crate::metrics::Metrics;
use crate::pacing::{Budget, MAX_WAIT, Pacer, Period, Resyncs};
use crate::queue::{Lane, Queue};

/// One Cognito call: the operation, the pool, who calls, the budget it counts against, and the
/// namespace it is made for.
type CallFor<'a> = (Operation, &'a str, &'a Caller, &'a Budget, &'a str);

/// Field manager of the operator's status and finalizer writes.
pub const MANAGER: &str = "cognito-mfa-operator";

/// Settings of the controller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Only this namespace, or all when `None`.
    pub namespace: Option<String>,
    /// The resources reconciled here (all are watched).
    pub shard: Shard,
    pub resync: Duration,
    pub concurrency: u16,
    /// Identity in events (`reportingInstance`).
    pub instance: String,
    /// Cognito call budgets per second and region (0: unlimited), and the burst.
    pub read_rps: f64,
    pub write_rps: f64,
    pub burst: u32,
    /// Consult UserPoolAccessPolicies (default deny). Off: every resource may act on any pool
    /// with the operator's own credentials.
    pub enforce_access_policies: bool,
    /// Checked before every Cognito write and status write.
    pub leadership: Leadership,
}

/// What the access policies need to know, watched while enforcement is on.
#[derive(Clone)]
struct AccessView {
    policies: Store<UserPoolAccessPolicy>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
}

impl AccessView {
    /// A namespace's labels; none while its Namespace object is unknown.
    fn labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|n| n.metadata.labels.clone())
            .unwrap_or_default()
    }
}

/// Consecutive failures of one resource; each kind backs off on its own.
#[derive(Debug, Default)]
struct Streaks {
    /// Passes that ended with a failed Cognito call.
    cognito: u32,
    /// Passes that ended with a failed Kubernetes step: the step (its metric label) and how many
    /// times in a row it failed. Another step failing starts a count of its own.
    kubernetes: Option<(&'static str, u32)>,
}

/// State shared by all reconciles and the HTTP server.
pub struct Context {
    client: Client,
    cognito: Arc<dyn MfaCalls>,
    events: Events,
    metrics: Arc<Metrics>,
    store: Store<UserPoolMfaConfig>,
    /// `None`: enforcement off.
    access: Option<AccessView>,
    pacer: Pacer,
    resync: Duration,
    /// Each resource's resync period, by the resources sharing its read budget.
    resyncs: Resyncs,
    /// Budgets whose resync period is longer than the configured one (logged when it changes).
    stretched: Mutex<HashSet<Budget>>,
    /// Consecutive failures per resource UID, for backoff.
    failures: Mutex<HashMap<String, Streaks>>,
    /// The resources claiming each pool.
    claims: Arc<Claims>,
    leadership: Leadership,
    shard: Shard,
    /// The passes waiting for the scheduler, and each resource's next resync.
    queue: Arc<Queue>,
}

/// What the operator watches, for the life of the process: a standby replica keeps it warm, so
/// a takeover starts reconciling at once from a current cache instead of listing from cold.
pub struct Watched {
    store: Store<UserPoolMfaConfig>,
    /// `None`: enforcement off.
    access: Option<AccessView>,
    claims: Arc<Claims>,
    /// Where the watches send what calls for a pass while this replica leads; `None` while it
    /// stands by (a new term starts with every resource anyway).
    term: Arc<Mutex<Option<mpsc::UnboundedSender<Trigger>>>>,
    tasks: tokio::task::JoinSet<()>,
}

/// What the watches hand to the term that is reconciling.
enum Trigger {
    /// A resource to reconcile.
    Run(ObjectRef<UserPoolMfaConfig>),
    /// A resource gone: its per-resource state goes too.
    Deleted(Box<UserPoolMfaConfig>),
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl Watched {
    /// Starts the watches of `settings` (namespace, shard, access policies); returns once the
    /// access policies and namespaces are listed, if they are enforced.
    pub async fn start(
        client: &Client,
        settings: &Settings,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let api: Api<UserPoolMfaConfig> = match &settings.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let (reader, writer) = reflector::store();
        *health.store.lock().expect("store lock") = Some(reader.clone());
        let term: Arc<Mutex<Option<mpsc::UnboundedSender<Trigger>>>> = Arc::default();
        let send = {
            let term = term.clone();
            move |trigger: Trigger| {
                if let Some(tx) = term.lock().expect("term lock").as_ref() {
                    let _ = tx.send(trigger);
                }
            }
        };
        let mut tasks = tokio::task::JoinSet::new();

        // Policies and namespace labels are watched beside the resources. A change of either
        // re-runs the resources it may concern, so tightening a policy stops writes at the next
        // pass and loosening one lets waiting resources proceed.
        let access = settings.enforce_access_policies.then(|| {
            let (policies, policy_writer) = reflector::store();
            let (namespaces, namespace_writer) = reflector::store();
            let view = AccessView {
                policies,
                namespaces,
            };
            let stream = watch(
                Api::<UserPoolAccessPolicy>::all(client.clone()),
                watcher::Config::default(),
                "UserPoolAccessPolicy",
                health.clone(),
                metrics.clone(),
            )
            .modify(|p| p.managed_fields_mut().clear())
            .reflect(policy_writer);
            let (resources, concerning, send_policy) = (reader.clone(), view.clone(), send.clone());
            tasks.spawn(stream.for_each(move |event| {
                if let Ok(watcher::Event::Apply(p) | watcher::Event::Delete(p)) = event {
                    for r in concerned_by(&resources, &concerning, &p) {
                        send_policy(Trigger::Run(r));
                    }
                }
                futures::future::ready(())
            }));
            // Metadata only: labels are all a policy reads of a namespace.
            let namespace_api = Api::<PartialObjectMeta<Namespace>>::all(client.clone());
            let config = match &settings.namespace {
                Some(ns) => watcher::Config::default().fields(&format!("metadata.name={ns}")),
                None => watcher::Config::default(),
            };
            let stream = watch(
                namespace_api,
                config,
                "Namespace",
                health.clone(),
                metrics.clone(),
            )
            .modify(|n| n.managed_fields_mut().clear())
            .reflect(namespace_writer)
            .applied_objects()
            .predicate_filter(predicates::labels, Default::default());
            let (resources, send_namespace) = (reader.clone(), send.clone());
            tasks.spawn(stream.for_each(move |ns| {
                if let Ok(ns) = ns {
                    let ns = ns.name_any();
                    resources
                        .state()
                        .iter()
                        .filter(|o| o.namespace().as_deref() == Some(ns.as_str()))
                        .for_each(|o| send_namespace(Trigger::Run(o.reference())));
                }
                futures::future::ready(())
            }));
            view
        });
        if let Some(view) = &access {
            // Deciding before both lists are in would refuse permitted resources for a moment.
            let _ = view.policies.wait_until_ready().await;
            let _ = view.namespaces.wait_until_ready().await;
            info!("access policies and namespaces listed: enforcing access policies");
        }
        if !settings.shard.is_all() {
            info!(shard = %settings.shard, "reconciling the resources of this shard only");
        }

        // Other claimants of a pool re-run when a claim on it changes (see `crate::claims`).
        let claims = Arc::new(Claims::default());
        let (claims_seen, send_claims, shard) =
            (claims.clone(), send.clone(), settings.shard.clone());
        let in_shard = move |obj: &UserPoolMfaConfig| shard.contains(obj.labels());
        // While a list is under way the cache still holds the state from before it, so a pass
        // started then would run on that: what the list calls for waits for its end.
        let held: Arc<Mutex<Option<Vec<ObjectRef<UserPoolMfaConfig>>>>> = Arc::default();
        let hold = held.clone();
        // A relist delivers no Delete for what went while the watch was down: the cache from
        // before it tells what the relist no longer has, so that its state is forgotten too.
        let (cached, mut listed_before) = (reader.clone(), Vec::new());
        let events = watch(
            api,
            watcher::Config::default(),
            "UserPoolMfaConfig",
            health.clone(),
            metrics,
        )
        .modify(slim)
        .reflect(writer)
        .inspect_ok(move |event| {
            let claims = &claims_seen;
            let rerun = match event {
                watcher::Event::Init => {
                    claims.relist();
                    *hold.lock().expect("held lock") = Some(vec![]);
                    listed_before = cached.state();
                    vec![]
                }
                watcher::Event::InitApply(obj) => {
                    claims.relisted(obj);
                    vec![]
                }
                watcher::Event::InitDone => {
                    health.synced.store(true, Ordering::SeqCst);
                    for gone in std::mem::take(&mut listed_before).into_iter().filter(|o| {
                        cached
                            .get(&o.reference())
                            .is_none_or(|now| now.uid() != o.uid())
                    }) {
                        send_claims(Trigger::Deleted(Box::new((*gone).clone())));
                    }
                    let listed = hold.lock().expect("held lock").take().unwrap_or_default();
                    listed.into_iter().chain(claims.relist_done()).collect()
                }
                watcher::Event::Apply(obj) => claims.applied(obj),
                watcher::Event::Delete(obj) => {
                    send_claims(Trigger::Deleted(Box::new(obj.clone())));
                    claims.deleted(obj)
                }
            };
            for other in rerun {
                send_claims(Trigger::Run(other));
            }
        })
        .touched_objects()
        // A pass follows a change of the generation (spec, deletion), of the finalizers (one
        // someone added or removed is put right), of the reconcile request annotation, or of
        // the shard the labels put the resource in; a status write changes none of them.
        .predicate_filter(
            predicates::generation
                .combine(predicates::finalizers)
                .combine(reconcile_requested)
                .combine({
                    let in_shard = in_shard.clone();
                    move |obj: &UserPoolMfaConfig| Some(in_shard(obj).into())
                }),
            Default::default(),
        );
        tasks.spawn(events.for_each(move |obj| {
            // Every claim counted above; only this shard's resources go on.
            if let Ok(obj) = obj
                && in_shard(&obj)
            {
                match held.lock().expect("held lock").as_mut() {
                    Some(listed) => listed.push(obj.reference()),
                    None => send(Trigger::Run(obj.reference())),
                }
            }
            futures::future::ready(())
        }));
        Self {
            store: reader,
            access,
            claims,
            term,
            tasks,
        }
    }
}

/// The annotation in which client-side `kubectl apply` keeps the manifest it applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the operator never reads from a resource before it is cached: the managed fields
/// and the copy of the manifest that client-side `kubectl apply` (and Argo CD, by default)
/// keeps in an annotation. There is one cached copy per resource.
fn slim(obj: &mut UserPoolMfaConfig) {
    obj.managed_fields_mut().clear();
    obj.annotations_mut().remove(LAST_APPLIED);
}

/// Reconciles for one term (leadership, or the whole run without leader election) until
/// `shutdown` completes; in-flight reconciles finish first.
pub async fn run(
    watched: &Watched,
    client: Client,
    cognito: Arc<dyn MfaCalls>,
    metrics: Arc<Metrics>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ctx = Arc::new(Context::new(
        watched.store.clone(),
        watched.access.clone(),
        watched.claims.clone(),
        client,
        cognito,
        metrics,
        &settings,
    ));
    // Listening first, then every resource in the cache: nothing in between is missed (a
    // resource twice is one pass).
    let (tx, mut rx) = mpsc::unbounded_channel();
    *watched.term.lock().expect("term lock") = Some(tx);
    let queue = ctx.queue.clone();
    for o in watched.store.state() {
        if ctx.shard.contains(o.labels()) {
            queue.push(&o.reference(), Lane::Routine);
        }
    }
    let deleted_ctx = ctx.clone();
    let triggers = futures::stream::poll_fn(move |cx| {
        while let Poll::Ready(Some(trigger)) = rx.poll_recv(cx) {
            match trigger {
                Trigger::Run(r) => queue.push(&r, Lane::Change),
                Trigger::Deleted(obj) => deleted_ctx.forget_deleted(&obj),
            }
        }
        queue.poll_next(cx).map(Some)
    });
    Controller::for_stream(
        futures::stream::pending::<watcher::Result<UserPoolMfaConfig>>(),
        watched.store.clone(),
    )
    .with_config(ControllerConfig::default().concurrency(settings.concurrency))
    .reconcile_on(triggers)
    .graceful_shutdown_on(shutdown)
    .run(reconcile, error_policy, ctx.clone())
    .for_each(|result| async {
        match result {
            // A pass for a resource deleted meanwhile: nothing to do.
            Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
                ctx.queue
                    .started(obj.namespace.as_deref().unwrap_or_default(), &obj.name);
                debug!(%obj, "already gone")
            }
            // Counted and logged by the watch itself.
            Err(kube::runtime::controller::Error::QueueError(e)) => {
                debug!(error = %e, "watch error")
            }
            Err(e) => warn!(error = %e, "reconcile failed"),
            Ok(_) => {}
        }
    })
    .await;
    *watched.term.lock().expect("term lock") = None;
}

/// The resources a change of `policy` (its new or its last state) may decide differently:
/// those in namespaces it selects, those it permitted before, and, where it sets or set a
/// floor, those on pools it covers.
fn concerned_by(
    store: &Store<UserPoolMfaConfig>,
    view: &AccessView,
    policy: &UserPoolAccessPolicy,
) -> Vec<ObjectRef<UserPoolMfaConfig>> {
    let name = policy.name_any();
    store
        .state()
        .iter()
        .filter(|o| {
            let namespace = o.namespace().unwrap_or_default();
            let labels = view.labels(&namespace);
            let status = o.status.as_ref();
            let ns = access::Namespace {
                name: &namespace,
                labels: &labels,
            };
            access::selects(&policy.spec, ns)
                || status
                    .and_then(|s| s.identity.as_ref())
                    .is_some_and(|i| i.policies.contains(&name))
                || (access::covers(&policy.spec, &o.spec.user_pool_id)
                    && (policy.spec.mfa_floor.is_some()
                        || status
                            .and_then(|s| s.ready())
                            .is_some_and(|c| c.reason == Reason::BelowMfaFloor.as_str())))
        })
        .map(|o| o.reference())
        .collect()
}

/// The reconcile request annotation, hashed, for the watch's predicate.
fn reconcile_requested(obj: &UserPoolMfaConfig) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let value = obj.annotations().get(RECONCILE_REQUESTED_AT)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    Some(hasher.finish())
}

/// A watch as the controller runs it: backed off after errors, which are counted by `resource`
/// (the kind) and tell readiness whether it keeps failing.
///
/// After an error it starts over with a new list. kube's watcher would retry a failed watch
/// start silently, so a recovery would only show with the next change of an object; a list
/// shows it at once (and is what the watcher does after an expired resource version anyway).
fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    resource: &'static str,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    metrics.watch_started(resource);
    let relisting = futures::stream::unfold(None, move |current| {
        let (api, config) = (api.clone(), config.clone());
        async move {
            let mut stream = current.unwrap_or_else(|| watcher(api, config).boxed());
            let item = stream.next().await?;
            let keep = item.is_ok().then_some(stream);
            Some((item, keep))
        }
    });
    relisting.default_backoff().inspect(move |item| {
        let delivered = match item {
            // Sent before the list is requested: says nothing about the API server.
            Ok(watcher::Event::Init) => return,
            Ok(_) => true,
            Err(e) => {
                metrics.watch_failed(resource);
                warn!(resource, error = %e, "watch failed: retrying with backoff");
                false
            }
        };
        match health.watched(resource, delivered) {
            Some(Change::Failing) => error!(resource, "watch keeps failing: not ready"),
            Some(Change::Recovered) => info!(resource, "watch recovered: ready"),
            None => {}
        }
    })
}

/// Only a failed Kubernetes step ends a pass with an error (a failed Cognito call is an outcome,
/// with its own retry). Each step backs off briefly, by how many times in a row it failed for
/// this resource (counted by `reconcile`).
fn error_policy(obj: Arc<UserPoolMfaConfig>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(name = %obj.name_any(), namespace = obj.namespace().unwrap_or_default(), %error, "requeue after error");
    Action::requeue(ctx.kube_backoff(&obj))
}

#[instrument(skip_all, fields(namespace = obj.namespace().unwrap_or_default(), name = %obj.name_any()))]
async fn reconcile(obj: Arc<UserPoolMfaConfig>, ctx: Arc<Context>) -> Result<Action> {
    ctx.queue.started(
        obj.metadata.namespace.as_deref().unwrap_or_default(),
        &obj.name_any(),
    );
    // Requeued before its labels moved it to another shard, or a claimant there.
    if !ctx.shard.contains(obj.labels()) {
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let result = if obj.meta().deletion_timestamp.is_some() {
        ctx.clean_up(&obj).await
    } else {
        ctx.apply(&obj).await
    };
    let label = match &result {
        Ok((_, label)) => label,
        Err(e) => e.metric_label(),
    };
    ctx.metrics.reconciled(label, started.elapsed());
    match &result {
        Ok(_) => ctx.kube_succeeded(&obj),
        Err(e) => ctx.kube_failed(&obj, e).await,
    }
    result.map(|(action, _)| action)
}

/// The identity recorded in the status for calls made under `grant`.
fn caller_identity(grant: &Grant) -> CallerIdentity {
    CallerIdentity {
        role_arn: grant.identity.as_ref().map(|i| i.role_arn.clone()),
        account_id: grant.identity.as_ref().map(|i| i.account().to_owned()),
        policies: grant.policies.clone(),
    }
}

impl Context {
    fn new(
        store: Store<UserPoolMfaConfig>,
        access: Option<AccessView>,
        claims: Arc<Claims>,
        client: Client,
        cognito: Arc<dyn MfaCalls>,
        metrics: Arc<Metrics>,
        settings: &Settings,
    ) -> Self {
        Self {
            events: Events::new(client.clone(), MANAGER, &settings.instance),
            client,
            cognito,
            metrics,
            store,
            access,
            pacer: Pacer::new(
                settings.read_rps,
                settings.write_rps,
                settings.burst,
                (usize::from(settings.concurrency) / 4).max(1),
            ),
            resync: settings.resync,
            resyncs: Resyncs::new(settings.resync, settings.read_rps),
            stretched: Mutex::default(),
            failures: Mutex::default(),
            claims,
            leadership: settings.leadership.clone(),
            shard: settings.shard.clone(),
            // Wide enough that the scheduler never runs dry: with twice the concurrency, a
            // restart pass over 10,000 took 16.3 s; with 64 times, 12.8 s at the same peak RSS.
            queue: Arc::new(Queue::new(64 * usize::from(settings.concurrency))),
        }
    }

    /// Requests about `obj`, in its namespace.
    fn request(obj: &UserPoolMfaConfig) -> Request {
        Request::new(UserPoolMfaConfig::url_path(&(), obj.namespace().as_deref()))
    }

    /// Sends a write of the resource's status or finalizers. The answer, the whole object, is
    /// not parsed: the watch brings it (parsing the answers to these writes and to the Event
    /// creates took about a twentieth of the operator's CPU converging).
    async fn send(
        &self,
        request: std::result::Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> kube::Result<()> {
        let request = request.map_err(kube::Error::BuildRequest)?;
        self.client.request_text(request).await.map(drop)
    }

    /// Whether the resource may act on its pool at all: its spec is valid and the access
    /// policies permit it. The `Err` verdict says why not.
    fn decide<'a>(&self, obj: &'a UserPoolMfaConfig) -> Result<(Valid<'a>, Grant), Verdict> {
        let valid = validate(&obj.spec)
            .map_err(|violations| Verdict::failed(Reason::InvalidSpec, describe(&violations)))?;
        let grant = self.grant(obj, valid)?;
        self.check_partition(valid, &grant)?;
        Ok((valid, grant))
    }

    /// What the access policies let a valid resource do.
    fn grant(&self, obj: &UserPoolMfaConfig, valid: Valid) -> Result<Grant, Verdict> {
        let Some(view) = &self.access else {
            return Ok(Grant::unrestricted());
        };
        let namespace = obj.namespace().unwrap_or_default();
        let labels = view.labels(&namespace);
        let policies = view.policies.state();
        let pool = valid.pool();
        let refused = |r: access::Refusal| Verdict::failed(r.reason(), r.to_string());
        let grant = access::grant(
            access::Namespace {
                name: &namespace,
                labels: &labels,
            },
            pool,
            policies.iter().map(|p| access::Policy {
                name: p.metadata.name.as_deref().unwrap_or_default(),
                spec: &p.spec,
            }),
        )
        .map_err(refused)?;
        grant.admits(pool, valid.spec()).map_err(refused)?;
        Ok(grant)
    }

    /// Whether the credentials of `grant` belong to the pool's partition.
    fn check_partition(&self, valid: Valid, grant: &Grant) -> Result<(), Verdict> {
        let pool = valid.pool();
        let (caller, via) = match &grant.identity {
            Some(role) => (
                arn_partition(&role.role_arn),
                "the credentials of the policy's role",
            ),
            None => (self.cognito.partition(), "the operator's own credentials"),
        };
        match partitions::mismatch(valid.region(), caller, via) {
            Some(why) => Err(Verdict::failed(
                Reason::PartitionMismatch,
                format!("pool {pool}: {why}"),
            )),
            None => Ok(()),
        }
    }

    /// Who calls Cognito for `obj` under `grant`.
    fn caller(obj: &UserPoolMfaConfig, grant: &Grant) -> Caller {
        match &grant.identity {
            None => Caller::Operator,
            Some(identity) => Caller::Role {
                identity: identity.clone(),
                namespace: obj.namespace().unwrap_or_default(),
                name: obj.name_any(),
            },
        }
    }

    /// One pass for a live resource.
    async fn apply(&self, obj: &UserPoolMfaConfig) -> Result<(Action, &'static str)> {
        let decision = self.decide(obj);
        // The finalizer is there only while a Reset or Restore may be carried out.
        let reset = decision
            .as_ref()
            .is_ok_and(|(valid, _)| valid.spec().deletion_policy != DeletionPolicy::Retain);
        if self.sync_finalizer(obj, reset).await? {
            // The change comes back through the watch and starts the next pass, on the object
            // as it is then. Going on here would race that pass (to a second Set, when it reads
            // the object before this one's status lands).
            return Ok((Action::await_change(), "FinalizerUpdated"));
        }
        let (valid, grant) = match decision {
            Ok(decided) => decided,
            Err(verdict) => return self.finish(obj, Outcome::verdict(verdict)).await,
        };
        let (spec, pool) = (valid.spec(), valid.pool());
        let generation = obj.meta().generation.unwrap_or_default();
        if let Some((namespace, name)) = self.owner_other_than(obj) {
            let verdict = Verdict::conflict(
                pool,
                &obj.namespace().unwrap_or_default(),
                &namespace,
                &name,
            );
            return self.finish(obj, Outcome::verdict(verdict)).await;
        }

        let caller = Self::caller(obj, &grant);
        let budget = Budget::of(&caller, pool);
        self.resync_periods(self.resyncs.joined(&obj.uid().unwrap_or_default(), &budget));
        let namespace = obj.namespace().unwrap_or_default();
        let first = plan::first_call(spec, obj.status.as_ref(), generation);
        let first_op = match first {
            Call::Write(_) => Operation::SetUserPoolMfaConfig,
            Call::Read | Call::Adopt(_) => Operation::GetUserPoolMfaConfig,
        };
        // Steps aside while its namespace's share of the budget is taken (see `crate::pacing`).
        let uid = obj.uid().unwrap_or_default();
        let _admission = match self.pacer.admit(&budget, &namespace, first_op, &uid) {
            Ok(admission) => admission,
            Err(after) => {
                self.metrics.deferred(&namespace);
                // The wait is the pass's place in its namespace's line; a little spread keeps
                // the lines of several namespaces from retrying in step.
                let delay = after.mul_f64(0.95 + 0.1 * rand::random::<f64>());
                return Ok((Action::requeue(delay), "Deferred"));
            }
        };
        let call = |op| (op, pool, &caller, &budget, namespace.as_str());

        let outcome = match first {
            Call::Write(desired) => match self
                .set(call(Operation::SetUserPoolMfaConfig), &desired)
                .await
            {
                Ok(live) => Outcome::synced(pool, live, Wrote::Applied),
                Err(e) => Outcome::failed(e.kind, e.message, None),
            },
            Call::Adopt(desired) => match self.get(call(Operation::GetUserPoolMfaConfig)).await {
                Err(e) => Outcome::failed(e.kind, e.message, None),
                Ok(original) => {
                    let outcome = if diff(&desired, &original).is_empty() {
                        Outcome::synced(pool, original.clone(), Wrote::Nothing)
                    } else {
                        match self
                            .set(call(Operation::SetUserPoolMfaConfig), &desired)
                            .await
                        {
                            Ok(live) => Outcome::synced(pool, live, Wrote::Applied),
                            Err(e) => Outcome::failed(e.kind, e.message, Some(original.clone())),
                        }
                    };
                    Outcome {
                        original: Some(original),
                        ..outcome
                    }
                }
            },
            Call::Read => match self.get(call(Operation::GetUserPoolMfaConfig)).await {
                Err(e) => Outcome::failed(e.kind, e.message, None),
                Ok(live) => match plan::after_read(spec, &live) {
                    AfterRead::InSync => Outcome::synced(pool, live, Wrote::Nothing),
                    AfterRead::Correct(fields) => {
                        self.metrics.drift_detections.inc();
                        info!(pool, ?fields, "correcting drift");
                        let desired = normalise(spec.mfa.clone());
                        match self
                            .set(call(Operation::SetUserPoolMfaConfig), &desired)
                            .await
                        {
                            Ok(now) => Outcome::synced(pool, now, Wrote::Corrected(fields)),
                            Err(e) => Outcome::failed(e.kind, e.message, Some(live)),
                        }
                    }
                    AfterRead::Drifted(fields) => {
                        self.metrics.drift_detections.inc();
                        Outcome {
                            live: Some(live),
                            ..Outcome::verdict(Verdict::drifted(pool, &fields))
                        }
                    }
                },
            },
        };
        let outcome = Outcome {
            identity: Some(caller_identity(&grant)),
            ..outcome
        };
        self.finish(obj, outcome).await
    }

    /// One pass for a resource being deleted: carries out the deletion policy in force now.
    async fn clean_up(&self, obj: &UserPoolMfaConfig) -> Result<(Action, &'static str)> {
        if !obj.finalizers().iter().any(|f| f == RESET_FINALIZER) {
            self.forget(obj);
            return Ok((Action::await_change(), "Deleted"));
        }
        let pool = obj.spec.user_pool_id.as_str();
        let decision = self.decide(obj);
        let owned_elsewhere = decision.is_ok() && self.owner_other_than(obj).is_some();
        let plan = plan::deletion(
            &obj.spec,
            obj.status.as_ref(),
            decision
                .as_ref()
                .map(|(_, grant)| grant)
                .map_err(|v| v.message.as_str()),
            owned_elsewhere,
        );
        let notice = match plan {
            Deletion::Skip(why) => plan::Notice {
                warning: false,
                reason: EventReason::ResetSkipped,
                note: why,
            },
            Deletion::Reset | Deletion::Restore(_) => {
                let (settings, done, what) = match plan {
                    Deletion::Restore(original) => (
                        original,
                        EventReason::MfaRestored,
                        "the MFA configuration from before this resource put back",
                    ),
                    _ => (reset(), EventReason::MfaReset, "MFA turned OFF"),
                };
                let (_, grant) = decision
                    .as_ref()
                    .expect("a write at deletion is planned only when permitted");
                let caller = Self::caller(obj, grant);
                let budget = Budget::of(&caller, pool);
                let namespace = obj.namespace().unwrap_or_default();
                let call = (
                    Operation::SetUserPoolMfaConfig,
                    pool,
                    &caller,
                    &budget,
                    namespace.as_str(),
                );
                match self.set(call, &settings).await {
                    Ok(_) => plan::Notice {
                        warning: false,
                        reason: done,
                        note: format!("pool {pool}: {what} before deletion"),
                    },
                    Err(e) if e.kind == ErrorKind::ResourceNotFound => plan::Notice {
                        warning: false,
                        reason: EventReason::ResetSkipped,
                        note: format!("pool {pool} no longer exists: nothing to put back"),
                    },
                    Err(e) => {
                        let message = format!("at deletion ({what}): {}", e.message);
                        let outcome = Outcome {
                            identity: Some(caller_identity(grant)),
                            ..Outcome::failed(e.kind, message, None)
                        };
                        return self.finish(obj, outcome).await;
                    }
                }
            }
        };
        let published = self.publish(obj, &notice).await;
        self.set_finalizer(obj, false).await?;
        self.forget(obj);
        info!(pool, reason = notice.reason.as_str(), "finalizer released");
        let label = published.map_or_else(|e| e.metric_label(), |()| "Deleted");
        Ok((Action::await_change(), label))
    }

    /// Adds or removes the Reset finalizer; true when it did.
    async fn sync_finalizer(&self, obj: &UserPoolMfaConfig, want: bool) -> Result<bool> {
        let has = obj.finalizers().iter().any(|f| f == RESET_FINALIZER);
        if want != has {
            self.set_finalizer(obj, want).await?;
        }
        Ok(want != has)
    }

    async fn set_finalizer(&self, obj: &UserPoolMfaConfig, present: bool) -> Result<()> {
        let mut finalizers: Vec<String> = obj
            .finalizers()
            .iter()
            .filter(|f| *f != RESET_FINALIZER)
            .cloned()
            .collect();
        if present {
            finalizers.push(RESET_FINALIZER.into());
        }
        // resourceVersion makes the patch fail instead of overwriting a concurrent change.
        let patch = serde_json::json!({
            "metadata": { "finalizers": finalizers, "resourceVersion": obj.resource_version() }
        });
        let request = Self::request(obj).patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        );
        self.send(request).await.map_err(Error::Finalizer)
    }

    /// The namespace and name of the older permitted `Manage` resource that owns this pool, if
    /// not this one. Resources that may not act on the pool are no claimants.
    fn owner_other_than(&self, obj: &UserPoolMfaConfig) -> Option<(String, String)> {
        fn claim(o: &UserPoolMfaConfig) -> Claim<'_> {
            Claim {
                namespace: o.meta().namespace.as_deref().unwrap_or_default(),
                name: o.meta().name.as_deref().unwrap_or_default(),
                created: o.meta().creation_timestamp.as_ref().map(|t| t.0),
                pool: &o.spec.user_pool_id,
                observe: o.spec.management_policy == ManagementPolicy::Observe,
            }
        }
        let claimants: Vec<Arc<UserPoolMfaConfig>> = self
            .claims
            .of(&obj.spec.user_pool_id)
            .iter()
            .filter_map(|r| self.store.get(r))
            .filter(|o| o.meta().deletion_timestamp.is_none() && self.decide(o).is_ok())
            .collect();
        other_owner(&claim(obj), claimants.iter().map(|o| claim(o)))
            .map(|o| (o.namespace.to_owned(), o.name.to_owned()))
    }

    async fn set(
        &self,
        call: CallFor<'_>,
        desired: &MfaSettings,
    ) -> Result<MfaSettings, CallError> {
        let (_, pool, caller, ..) = call;
        self.counted(call, self.cognito.set(pool, caller, desired))
            .await
    }

    async fn get(&self, call: CallFor<'_>) -> Result<MfaSettings, CallError> {
        let (_, pool, caller, ..) = call;
        self.counted(call, self.cognito.get(pool, caller)).await
    }

    /// Paces, makes and counts one call (`call` is lazy: nothing is sent before the budget).
    async fn counted(
        &self,
        (op, _, _, budget, namespace): CallFor<'_>,
        call: impl Future<Output = Result<MfaSettings, CallError>>,
    ) -> Result<MfaSettings, CallError> {
        let Some(waited) = self.pacer.acquire(op, budget).await else {
            return Err(CallError {
                kind: ErrorKind::TooManyRequests,
                code: None,
                message: format!(
                    "no budget left in the client-side rate limit within {MAX_WAIT:?}"
                ),
            });
        };
        self.metrics.waited(op.as_str(), namespace, waited);
        // The fence: once this replica is not sure to lead, another may lead from a newer spec,
        // and a write from this one's cache would undo it. Checked last, right before sending.
        if op == Operation::SetUserPoolMfaConfig && !self.leadership.is_leading() {
            info!(operation = op.as_str(), "no longer the leader: not sent");
            return Err(CallError {
                kind: ErrorKind::Network,
                code: None,
                message: "not sent: this replica no longer leads".into(),
            });
        }
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.kind.reason().as_str(),
        };
        self.metrics.called(op.as_str(), outcome, &budget.region);
        if let Err(e) = &result {
            warn!(operation = op.as_str(), kind = ?e.kind, code = e.code.as_deref(), message = %e.message, "Cognito call failed");
        }
        result
    }

    /// Writes status (only when it changed) and the event, and decides when to come back.
    async fn finish(
        &self,
        obj: &UserPoolMfaConfig,
        outcome: Outcome,
    ) -> Result<(Action, &'static str)> {
        let Outcome {
            verdict,
            live,
            wrote,
            identity,
            failed,
            original,
        } = outcome;
        // A pass that outlived its leadership term writes nothing more: no status, no event.
        if !self.leadership.is_leading() {
            return Ok((Action::await_change(), "NotLeader"));
        }
        let generation = obj.meta().generation.unwrap_or_default();
        let now = Time(jiff::Timestamp::now());
        let prev = obj.status.as_ref();
        let observed = plan::Observed {
            live,
            identity,
            requested_at: obj.annotations().get(RECONCILE_REQUESTED_AT).cloned(),
            original,
        };
        let next = plan::next_status(prev, generation, &verdict, observed, &now);
        if prev != Some(&next) {
            self.write_status(obj, &next).await?;
        }
        let ready = next.ready().expect("next_status always sets Ready");
        let published = match plan::notice(
            prev.and_then(UserPoolMfaConfigStatus::ready),
            ready,
            verdict.reason,
            &wrote,
        ) {
            Some(notice) => self.publish(obj, &notice).await,
            None => Ok(()),
        };
        let action = match failed {
            Some(kind) => Action::requeue(self.backoff(obj, kind)),
            None => {
                self.forget(obj);
                let period = self.resyncs.period_of(&obj.uid().unwrap_or_default());
                // Held by the queue, not kube's scheduler (see `crate::queue`).
                self.queue.resync_after(
                    obj.metadata.namespace.as_deref().unwrap_or_default(),
                    &obj.name_any(),
                    period.mul_f64(0.9 + 0.2 * rand::random::<f64>()),
                );
                Action::await_change()
            }
        };
        // An event that cannot be published does not fail the pass: a retry would not publish
        // it again (the status already says what it said) and would cost a Cognito call. The
        // pass is counted under the failed step instead.
        let label = published.map_or_else(|e| e.metric_label(), |()| verdict.reason.as_str());
        Ok((action, label))
    }

    async fn write_status(
        &self,
        obj: &UserPoolMfaConfig,
        status: &UserPoolMfaConfigStatus,
    ) -> Result<()> {
        let patch = serde_json::json!({
            "apiVersion": UserPoolMfaConfig::api_version(&()),
            "kind": UserPoolMfaConfig::kind(&()),
            "status": plan::applied(status),
        });
        let request = Self::request(obj).patch_subresource(
            "status",
            &obj.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        );
        self.send(request).await.map_err(Error::Status)
    }

    async fn publish(&self, obj: &UserPoolMfaConfig, notice: &plan::Notice) -> Result<()> {
        let event = Notice {
            warning: notice.warning,
            reason: notice.reason.as_str(),
            note: notice.sendable_note(),
        };
        self.events.publish(obj, &event).await.map_err(|e| {
            warn!(error = %e, reason = notice.reason.as_str(), "could not publish event");
            Error::Event(e)
        })
    }

    /// The next retry delay for a resource whose Cognito call failed; counts the failure.
    fn backoff(&self, obj: &UserPoolMfaConfig, kind: ErrorKind) -> Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let attempt = &mut failures
            .entry(obj.uid().unwrap_or_default())
            .or_default()
            .cognito;
        let delay = retry_delay(kind.retry(), *attempt, self.resync, rand::random::<f64>());
        *attempt = attempt.saturating_add(1);
        delay
    }

    /// Counts a pass that ended with `error`, for `kube_backoff`. A status write that keeps
    /// failing is reported by a Warning event, since the status cannot say it.
    async fn kube_failed(&self, obj: &UserPoolMfaConfig, error: &Error) {
        let in_a_row = {
            let mut failures = self.failures.lock().expect("failures lock");
            let streak = &mut failures
                .entry(obj.uid().unwrap_or_default())
                .or_default()
                .kubernetes;
            let step = error.metric_label();
            let n = match *streak {
                Some((last, n)) if last == step => n.saturating_add(1),
                _ => 1,
            };
            *streak = Some((step, n));
            n
        };
        if let Error::Status(_) = error
            && let Some(notice) = plan::status_failure_notice(in_a_row, &error.to_string())
        {
            self.metrics.status_write_warnings.inc();
            let _ = self.publish(obj, &notice).await; // logged there
        }
    }

    /// Ends the resource's Kubernetes streak: its pass made every Kubernetes call it needed.
    fn kube_succeeded(&self, obj: &UserPoolMfaConfig) {
        let mut failures = self.failures.lock().expect("failures lock");
        if let Some(streaks) = failures.get_mut(&obj.uid().unwrap_or_default()) {
            streaks.kubernetes = None;
        }
    }

    /// The retry delay after a failed Kubernetes step, by how many times in a row it failed.
    fn kube_backoff(&self, obj: &UserPoolMfaConfig) -> Duration {
        let failures = self.failures.lock().expect("failures lock");
        let in_a_row = failures
            .get(&obj.uid().unwrap_or_default())
            .and_then(|s| s.kubernetes)
            .map_or(1, |(_, n)| n);
        retry_delay(
            RetryPolicy::Kubernetes,
            in_a_row - 1,
            self.resync,
            rand::random::<f64>(),
        )
    }

    /// Drops what is kept per resource: its failure count (also on success) and, once it is
    /// deleted, its assumed-role clients.
    fn forget(&self, obj: &UserPoolMfaConfig) {
        self.failures
            .lock()
            .expect("failures lock")
            .remove(&obj.uid().unwrap_or_default());
    }

    /// Shows budgets' new resync periods, and says when one stretches past the configured
    /// interval (the budget cannot read every pool within it) or comes back.
    fn resync_periods(&self, periods: impl IntoIterator<Item = Period>) {
        for p in periods {
            self.metrics
                .resync_period(&p.budget.account, &p.budget.region, p.resources, p.period);
            let mut stretched = self.stretched.lock().expect("stretched lock");
            let (account, region) = (p.budget.account.as_str(), p.budget.region.as_str());
            if p.stretched && stretched.insert(p.budget.clone()) {
                warn!(
                    account,
                    region,
                    resources = p.resources,
                    period = ?p.period,
                    configured = ?self.resync,
                    "the read budget cannot read every pool within the resync interval: resync reads are spread over a longer period"
                );
            } else if !p.stretched && stretched.remove(&p.budget) {
                info!(
                    account,
                    region,
                    resources = p.resources,
                    "resync back at the configured interval"
                );
            }
        }
    }

    fn forget_deleted(&self, obj: &UserPoolMfaConfig) {
        let uid = obj.uid().unwrap_or_default();
        self.pacer.forget(&uid);
        self.resync_periods(self.resyncs.left(&uid));
        self.forget(obj);
        self.cognito
            .forget(&obj.namespace().unwrap_or_default(), &obj.name_any());
    }
}

#[cfg(test)]
mod tests;
