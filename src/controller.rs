//! The reconcile loop: watches `UserPoolMfaConfig` resources, asks `crate::logic` what to do,
//! calls Cognito, and writes status, events and the finalizer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::mpsc;
use tracing::{debug, info, instrument, warn};

use crate::api::{
    DeletionPolicy, MfaSettings, RESET_FINALIZER, UserPoolMfaConfig, UserPoolMfaConfigStatus,
};
use crate::cognito::{CallError, Cognito, Operation};
use crate::error::{Error, Result};
use crate::logic::conditions::Reason;
use crate::logic::drift::{normalise, reset};
use crate::logic::errors::{ErrorKind, retry_delay};
use crate::logic::ownership::{Claim, other_owner};
use crate::logic::plan::{self, AfterRead, Call, Outcome, Verdict, Wrote};
use crate::logic::validation::{describe, pool_region, validate};
use crate::metrics::Metrics;
use crate::pacing::{MAX_WAIT, Pacer};

/// Field manager of the operator's status and finalizer writes.
pub const MANAGER: &str = "cognito-mfa-operator";

/// Settings of the controller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Only this namespace, or all when `None`.
    pub namespace: Option<String>,
    pub resync: Duration,
    pub concurrency: u16,
    /// Identity in events (`reportingInstance`).
    pub instance: String,
    /// Cognito call budgets per second and region (0: unlimited), and the burst.
    pub read_rps: f64,
    pub write_rps: f64,
    pub burst: u32,
}

/// State shared by all reconciles and the HTTP server.
pub struct Context {
    client: Client,
    cognito: Arc<Cognito>,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    store: Store<UserPoolMfaConfig>,
    pacer: Pacer,
    resync: Duration,
    /// Consecutive failures per resource UID, for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

/// Runs the controller until `shutdown` completes; in-flight reconciles finish first.
pub async fn run(
    client: Client,
    cognito: Arc<Cognito>,
    metrics: Arc<Metrics>,
    settings: Settings,
    synced: Arc<AtomicBool>,
    shared_store: Arc<Mutex<Option<Store<UserPoolMfaConfig>>>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<UserPoolMfaConfig> = match &settings.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (reader, writer) = reflector::store();
    *shared_store.lock().expect("store lock") = Some(reader.clone());

    let ctx = Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: Some(settings.instance.clone()),
            },
        ),
        client,
        cognito,
        metrics,
        store: reader.clone(),
        pacer: Pacer::new(settings.read_rps, settings.write_rps, settings.burst),
        resync: settings.resync,
        failures: Mutex::default(),
    });
    // A resource in Conflict may own its pool once another resource changes or goes away.
    let (retrigger, conflicts) = mpsc::unbounded_channel::<ObjectRef<UserPoolMfaConfig>>();
    let watch_ctx = ctx.clone();
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        // The cache never needs managed fields; dropping them keeps the footprint small.
        .modify(|obj| obj.managed_fields_mut().clear())
        .reflect(writer)
        .inspect_ok(move |event| match event {
            watcher::Event::InitDone => synced.store(true, Ordering::SeqCst),
            watcher::Event::Apply(changed) | watcher::Event::Delete(changed) => {
                if matches!(event, watcher::Event::Delete(_)) {
                    watch_ctx.forget(changed);
                }
                for other in watch_ctx.store.state() {
                    let in_conflict = other
                        .status
                        .as_ref()
                        .and_then(|s| s.ready())
                        .is_some_and(|c| c.reason == "Conflict");
                    if in_conflict && other.uid() != changed.uid() {
                        let _ = retrigger.send(ObjectRef::from_obj(&*other));
                    }
                }
            }
            _ => {}
        })
        .touched_objects()
        // Status writes do not change the generation: they must not trigger a pass.
        .predicate_filter(predicates::generation, Default::default());

    Controller::for_stream(events, reader)
        .with_config(ControllerConfig::default().concurrency(settings.concurrency))
        .reconcile_on(tokio_stream(conflicts))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                // A requeue for a resource deleted meanwhile: nothing to do.
                Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
                    debug!(%obj, "already gone")
                }
                Err(e) => warn!(error = %e, "reconcile failed"),
                Ok(_) => {}
            }
        })
        .await;
}

fn tokio_stream<T>(mut rx: mpsc::UnboundedReceiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn error_policy(obj: Arc<UserPoolMfaConfig>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(name = %obj.name_any(), namespace = obj.namespace().unwrap_or_default(), %error, "requeue after error");
    Action::requeue(ctx.backoff(&obj, ErrorKind::Network))
}

#[instrument(skip_all, fields(namespace = obj.namespace().unwrap_or_default(), name = %obj.name_any()))]
async fn reconcile(obj: Arc<UserPoolMfaConfig>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = if obj.meta().deletion_timestamp.is_some() {
        ctx.clean_up(&obj).await
    } else {
        ctx.apply(&obj).await
    };
    let label = match &result {
        Ok((_, reason)) => reason.as_str(),
        Err(_) => "KubeError",
    };
    ctx.metrics.reconciled(label, started.elapsed());
    result.map(|(action, _)| action)
}

impl Context {
    fn api(&self, obj: &UserPoolMfaConfig) -> Api<UserPoolMfaConfig> {
        Api::namespaced(self.client.clone(), &obj.namespace().unwrap_or_default())
    }

    /// One pass for a live resource.
    async fn apply(&self, obj: &UserPoolMfaConfig) -> Result<(Action, Reason)> {
        self.sync_finalizer(obj).await?;
        let spec = &obj.spec;
        let pool = spec.user_pool_id.as_str();
        let generation = obj.meta().generation.unwrap_or_default();

        let violations = validate(spec);
        if !violations.is_empty() {
            let verdict = Verdict::failed(Reason::InvalidSpec, describe(&violations));
            return self.finish(obj, Outcome::verdict(verdict)).await;
        }
        if let Some((namespace, name)) = self.owner_other_than(obj) {
            return self
                .finish(
                    obj,
                    Outcome::verdict(Verdict::conflict(pool, &namespace, &name)),
                )
                .await;
        }

        let outcome = match plan::first_call(spec, obj.status.as_ref(), generation) {
            Call::Write(desired) => match self.set(pool, &desired).await {
                Ok(live) => Outcome::synced(pool, live, Wrote::Applied),
                Err(e) => Outcome::failed(e.kind, e.message, None),
            },
            Call::Read => match self.get(pool).await {
                Err(e) => Outcome::failed(e.kind, e.message, None),
                Ok(live) => match plan::after_read(spec, &live) {
                    AfterRead::InSync => Outcome::synced(pool, live, Wrote::Nothing),
                    AfterRead::Correct(fields) => {
                        self.metrics.drift_detections.inc();
                        info!(pool, ?fields, "correcting drift");
                        match self.set(pool, &normalise(spec.mfa.clone())).await {
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
        self.finish(obj, outcome).await
    }

    /// One pass for a resource being deleted.
    async fn clean_up(&self, obj: &UserPoolMfaConfig) -> Result<(Action, Reason)> {
        if !obj.finalizers().iter().any(|f| f == RESET_FINALIZER) {
            return Ok((Action::await_change(), Reason::Synced));
        }
        let pool = obj.spec.user_pool_id.as_str();
        // An invalid spec never configured a pool, and a non-owner must not reset the owner's pool.
        let reset_done = if validate(&obj.spec).is_empty() && self.owner_other_than(obj).is_none() {
            match self.set(pool, &reset()).await {
                Ok(_) => true,
                Err(e) if e.kind == ErrorKind::ResourceNotFound => false,
                Err(e) => {
                    let message = format!("resetting MFA before deletion: {}", e.message);
                    return self
                        .finish(obj, Outcome::failed(e.kind, message, None))
                        .await;
                }
            }
        } else {
            false
        };
        if reset_done {
            let note = format!("pool {pool}: MFA turned OFF before deletion");
            self.publish(
                obj,
                &plan::Notice {
                    warning: false,
                    reason: "MfaReset",
                    note,
                },
            )
            .await;
        }
        self.set_finalizer(obj, false).await?;
        self.forget(obj);
        info!(pool, "finalizer released");
        Ok((Action::await_change(), Reason::Synced))
    }

    /// Adds the finalizer for `Reset`, removes it for `Retain`.
    async fn sync_finalizer(&self, obj: &UserPoolMfaConfig) -> Result<()> {
        let want = obj.spec.deletion_policy == DeletionPolicy::Reset;
        let has = obj.finalizers().iter().any(|f| f == RESET_FINALIZER);
        if want != has {
            self.set_finalizer(obj, want).await?;
        }
        Ok(())
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
        self.api(obj)
            .patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        Ok(())
    }

    /// The namespace and name of the older resource that owns this pool, if not this one.
    fn owner_other_than(&self, obj: &UserPoolMfaConfig) -> Option<(String, String)> {
        fn claim(o: &UserPoolMfaConfig) -> Claim<'_> {
            Claim {
                namespace: o.meta().namespace.as_deref().unwrap_or_default(),
                name: o.meta().name.as_deref().unwrap_or_default(),
                created: o.meta().creation_timestamp.as_ref().map(|t| t.0),
                pool: &o.spec.user_pool_id,
            }
        }
        let all = self.store.state();
        other_owner(&claim(obj), all.iter().map(|o| claim(o)))
            .map(|o| (o.namespace.to_owned(), o.name.to_owned()))
    }

    async fn set(&self, pool: &str, desired: &MfaSettings) -> Result<MfaSettings, CallError> {
        self.counted(
            Operation::SetUserPoolMfaConfig,
            pool,
            self.cognito.set(pool, desired),
        )
        .await
    }

    async fn get(&self, pool: &str) -> Result<MfaSettings, CallError> {
        self.counted(
            Operation::GetUserPoolMfaConfig,
            pool,
            self.cognito.get(pool),
        )
        .await
    }

    /// Paces, makes and counts one call (`call` is lazy: nothing is sent before the budget).
    async fn counted(
        &self,
        op: Operation,
        pool: &str,
        call: impl Future<Output = Result<MfaSettings, CallError>>,
    ) -> Result<MfaSettings, CallError> {
        let Some(waited) = self
            .pacer
            .acquire(op, pool_region(pool).unwrap_or_default())
            .await
        else {
            return Err(CallError {
                kind: ErrorKind::TooManyRequests,
                code: None,
                message: format!(
                    "no budget left in the client-side rate limit within {MAX_WAIT:?}"
                ),
            });
        };
        self.metrics.waited(op.as_str(), waited);
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.kind.reason().as_str(),
        };
        self.metrics.called(op.as_str(), outcome);
        if let Err(e) = &result {
            warn!(operation = op.as_str(), kind = ?e.kind, code = e.code.as_deref(), message = %e.message, "Cognito call failed");
        }
        result
    }

    /// Writes status (only when it changed) and the event, and decides when to come back.
    async fn finish(&self, obj: &UserPoolMfaConfig, outcome: Outcome) -> Result<(Action, Reason)> {
        let Outcome {
            verdict,
            live,
            wrote,
            failed,
        } = outcome;
        let generation = obj.meta().generation.unwrap_or_default();
        let now = Time(jiff::Timestamp::now());
        let prev = obj.status.as_ref();
        let next = plan::next_status(prev, generation, &verdict, live, &now);
        if prev != Some(&next) {
            self.write_status(obj, &next).await?;
        }
        let ready = next.ready().expect("next_status always sets Ready");
        if let Some(notice) =
            plan::notice(prev.and_then(UserPoolMfaConfigStatus::ready), ready, &wrote)
        {
            self.publish(obj, &notice).await;
        }
        let action = match failed {
            Some(kind) => Action::requeue(self.backoff(obj, kind)),
            None => {
                self.forget(obj);
                Action::requeue(self.resync.mul_f64(0.9 + 0.2 * rand::random::<f64>()))
            }
        };
        Ok((action, verdict.reason))
    }

    async fn write_status(
        &self,
        obj: &UserPoolMfaConfig,
        status: &UserPoolMfaConfigStatus,
    ) -> Result<()> {
        let patch = serde_json::json!({
            "apiVersion": UserPoolMfaConfig::api_version(&()),
            "kind": UserPoolMfaConfig::kind(&()),
            "status": status,
        });
        self.api(obj)
            .patch_status(
                &obj.name_any(),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await?;
        Ok(())
    }

    async fn publish(&self, obj: &UserPoolMfaConfig, notice: &plan::Notice) {
        let event = KubeEvent {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.into(),
            note: Some(notice.note.chars().take(1024).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(error = %e, "could not publish event");
        }
    }

    /// The next retry delay for a failing resource; counts the failure.
    fn backoff(&self, obj: &UserPoolMfaConfig, kind: ErrorKind) -> Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let attempt = failures.entry(obj.uid().unwrap_or_default()).or_default();
        let delay = retry_delay(kind.retry(), *attempt, self.resync, rand::random::<f64>());
        *attempt = attempt.saturating_add(1);
        delay
    }

    fn forget(&self, obj: &UserPoolMfaConfig) {
        self.failures
            .lock()
            .expect("failures lock")
            .remove(&obj.uid().unwrap_or_default());
    }
}
