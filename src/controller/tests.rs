//! Fast controller tests: one pass of `reconcile`, through the real kube client against a mock
//! API server that answers every request and records it, with a fake Cognito. They show what a
//! pass writes and calls, in milliseconds; the e2e suite runs the same against real servers.
//! Also what the watch hands the term around a list, against a mock API server the test
//! answers request by request.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};

use super::*;
use crate::cognito::{CallError, Caller, MfaCalls};
use crate::logic::errors::ErrorKind;

/// Pools by ID, and the calls made, in order.
#[derive(Default)]
struct FakeCognito {
    pools: Mutex<HashMap<String, MfaSettings>>,
    calls: Mutex<Vec<&'static str>>,
}

impl FakeCognito {
    fn with_pool(pool: &str, settings: MfaSettings) -> Arc<Self> {
        let fake = Self::default();
        fake.pools.lock().unwrap().insert(pool.into(), settings);
        Arc::new(fake)
    }

    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }

    fn answer(&self, pool: &str, write: Option<&MfaSettings>) -> Result<MfaSettings, CallError> {
        let mut pools = self.pools.lock().unwrap();
        let Some(held) = pools.get_mut(pool) else {
            return Err(CallError {
                kind: ErrorKind::ResourceNotFound,
                code: Some("ResourceNotFoundException".into()),
                message: format!("User pool {pool} does not exist."),
            });
        };
        if let Some(settings) = write {
            *held = normalise(settings.clone());
        }
        Ok(held.clone())
    }
}

impl MfaCalls for FakeCognito {
    fn get<'a>(
        &'a self,
        pool_id: &'a str,
        _: &'a Caller,
    ) -> BoxFuture<'a, Result<MfaSettings, CallError>> {
        self.calls.lock().unwrap().push("GetUserPoolMfaConfig");
        Box::pin(futures::future::ready(self.answer(pool_id, None)))
    }

    fn set<'a>(
        &'a self,
        pool_id: &'a str,
        _: &'a Caller,
        settings: &'a MfaSettings,
    ) -> BoxFuture<'a, Result<MfaSettings, CallError>> {
        self.calls.lock().unwrap().push("SetUserPoolMfaConfig");
        Box::pin(futures::future::ready(self.answer(pool_id, Some(settings))))
    }

    fn partition(&self) -> Option<&'static str> {
        Some("aws")
    }

    fn forget(&self, _: &str, _: &str) {}
}

/// A request the pass made: method, path, and the JSON body.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    path: String,
    body: Value,
}

/// A kube client whose API server answers every request with `{}`, and the requests it
/// received. A pass parses no answer (the watch brings the objects), so nothing more is needed.
fn mock_api_server() -> (Client, Arc<Mutex<Vec<Sent>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    tokio::spawn(async move {
        while let Some((request, respond)) = handle.next_request().await {
            let method = request.method().to_string();
            let path = request.uri().path().to_owned();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            record.lock().unwrap().push(Sent { method, path, body });
            respond.send_response(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(b"{}".to_vec()))
                    .unwrap(),
            );
        }
    });
    (Client::new(service, "default"), sent)
}

fn resource(spec: Value, status: Option<Value>) -> UserPoolMfaConfig {
    serde_json::from_value(json!({
        "apiVersion": "cognitoidp.operators.dev/v1alpha1",
        "kind": "UserPoolMfaConfig",
        "metadata": {"name": "fast", "namespace": "team", "uid": "u-1", "generation": 1, "resourceVersion": "1"},
        "spec": spec,
        "status": status,
    }))
    .unwrap()
}

/// One pass over `obj`, with enforcement off and no other resource: the requests it sent.
async fn one_pass(obj: UserPoolMfaConfig, cognito: Arc<FakeCognito>) -> (Next, Vec<Sent>) {
    let (client, sent) = mock_api_server();
    let (store, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Apply(obj.clone()));
    let claims = Arc::new(Claims::default());
    claims.applied(&obj);
    let ctx = Arc::new(Context::new(
        store,
        None,
        claims,
        client,
        cognito,
        Arc::new(Metrics::default()),
        &settings(),
    ));
    let action = reconcile(Arc::new(obj), ctx.clone()).await.unwrap();
    let next = match ctx.queue.resync_due("team", "fast") {
        Some(at) if action == Action::await_change() => {
            Next::Resync(at.saturating_duration_since(Instant::now()))
        }
        _ => Next::Requeue(action),
    };
    let sent = sent.lock().unwrap().clone();
    (next, sent)
}

/// Enforcement off, every shard, no limiter.
fn settings() -> Settings {
    Settings {
        namespace: None,
        shard: Shard::default(),
        resync: Duration::from_secs(600),
        concurrency: 4,
        instance: "fast-test".into(),
        read_rps: 0.0,
        write_rps: 0.0,
        burst: 1,
        enforce_access_policies: false,
        leadership: Leadership::unconditional(),
    }
}

/// When the resource comes back after a pass: kube's requeue (or none), or a resync in the
/// queue.
#[derive(Debug)]
enum Next {
    Requeue(Action),
    Resync(Duration),
}

fn status_patches(sent: &[Sent]) -> Vec<&Sent> {
    sent.iter()
        .filter(|s| s.method == "PATCH" && s.path.ends_with("/userpoolmfaconfigs/fast/status"))
        .collect()
}

fn events(sent: &[Sent]) -> Vec<(&str, &str)> {
    sent.iter()
        .filter(|s| s.path.contains("/events"))
        .map(|s| {
            (
                s.body["type"].as_str().unwrap_or_default(),
                s.body["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

fn ready(patch: &Sent) -> (&str, &str) {
    let ready = patch.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    (
        ready["status"].as_str().unwrap(),
        ready["reason"].as_str().unwrap(),
    )
}

const POOL: &str = "us-east-1_Fast1";

fn totp_on() -> Value {
    json!({"userPoolId": POOL, "mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}})
}

#[tokio::test]
async fn an_invalid_spec_is_one_status_patch_one_event_and_no_call() {
    let cognito = FakeCognito::with_pool(POOL, reset());
    let spec = json!({"userPoolId": "local_Abc123", "mfaConfiguration": "OFF"});
    let (_, sent) = one_pass(resource(spec, None), cognito.clone()).await;
    assert_eq!(cognito.calls(), Vec::<&str>::new(), "no Cognito call");
    let patches = status_patches(&sent);
    assert_eq!(patches.len(), 1, "{sent:#?}");
    assert_eq!(ready(patches[0]), ("False", "InvalidSpec"));
    assert_eq!(events(&sent), [("Warning", "InvalidSpec")]);
    assert_eq!(sent.len(), 2, "nothing else: {sent:#?}");
}

#[tokio::test]
async fn a_new_resource_is_one_write_one_status_patch_and_an_applied_event() {
    let cognito = FakeCognito::with_pool(POOL, reset());
    let (next, sent) = one_pass(resource(totp_on(), None), cognito.clone()).await;
    assert_eq!(
        cognito.calls(),
        ["SetUserPoolMfaConfig"],
        "no read before it"
    );
    let patches = status_patches(&sent);
    assert_eq!(patches.len(), 1, "{sent:#?}");
    assert_eq!(ready(patches[0]), ("True", "Synced"));
    assert_eq!(
        patches[0].body["status"]["liveConfiguration"]["mfaConfiguration"],
        "ON"
    );
    assert_eq!(events(&sent), [("Normal", "Applied")]);
    let Next::Resync(delay) = next else {
        panic!("no resync: {next:?}")
    };
    assert!(
        (539..=660).contains(&delay.as_secs()),
        "resynced in 10 minutes, jittered by 10%: {delay:?}"
    );
}

#[tokio::test]
async fn drift_in_observe_mode_is_reported_and_never_written() {
    let cognito = FakeCognito::with_pool(POOL, reset());
    let mut spec = totp_on();
    spec["managementPolicy"] = "Observe".into();
    let (_, sent) = one_pass(resource(spec, None), cognito.clone()).await;
    assert_eq!(
        cognito.calls(),
        ["GetUserPoolMfaConfig"],
        "read, never written"
    );
    let patches = status_patches(&sent);
    assert_eq!(patches.len(), 1, "{sent:#?}");
    assert_eq!(ready(patches[0]), ("False", "DriftDetected"));
    assert_eq!(events(&sent), [("Warning", "DriftDetected")]);
}

#[tokio::test]
async fn a_steady_state_resync_is_one_read_and_writes_nothing() {
    let cognito = FakeCognito::with_pool(POOL, reset());
    let (_, first) = one_pass(resource(totp_on(), None), cognito.clone()).await;
    let status = status_patches(&first)[0].body["status"].clone();
    // The next pass sees the status the first one wrote, and the pool as it left it.
    let (_, sent) = one_pass(resource(totp_on(), Some(status)), cognito.clone()).await;
    assert_eq!(
        cognito.calls(),
        ["SetUserPoolMfaConfig", "GetUserPoolMfaConfig"]
    );
    assert!(
        sent.is_empty(),
        "no status write, no event, no finalizer change: {sent:#?}"
    );
}

#[tokio::test]
async fn a_missing_pool_is_reported_without_a_write_being_retried_at_once() {
    let cognito = Arc::new(FakeCognito::default());
    let (next, sent) = one_pass(resource(totp_on(), None), cognito.clone()).await;
    assert_eq!(cognito.calls(), ["SetUserPoolMfaConfig"]);
    assert_eq!(
        ready(status_patches(&sent)[0]),
        ("False", "ResourceNotFound")
    );
    let Next::Requeue(action) = next else {
        panic!("a backoff, no resync: {next:?}")
    };
    assert!(
        action_delay(&action) >= Duration::from_secs(15),
        "a missing pool is retried slowly: {action:?}"
    );
}

#[tokio::test]
async fn restore_reads_before_its_first_write_and_keeps_what_it_read() {
    let before = normalise(
        serde_json::from_value(json!({"mfaConfiguration": "OPTIONAL", "softwareTokenMfaConfiguration": {"enabled": true}}))
            .unwrap(),
    );
    let cognito = FakeCognito::with_pool(POOL, before);
    let mut spec = totp_on();
    spec["deletionPolicy"] = "Restore".into();
    let mut obj = resource(spec, None);
    obj.metadata.finalizers = Some(vec![RESET_FINALIZER.into()]);
    let (_, sent) = one_pass(obj, cognito.clone()).await;
    assert_eq!(
        cognito.calls(),
        ["GetUserPoolMfaConfig", "SetUserPoolMfaConfig"]
    );
    let status = &status_patches(&sent)[0].body["status"];
    assert_eq!(
        status["originalConfiguration"]["mfaConfiguration"],
        "OPTIONAL"
    );
    assert_eq!(status["liveConfiguration"]["mfaConfiguration"], "ON");
}

#[tokio::test]
async fn deleting_a_reset_resource_turns_mfa_off_then_releases_the_finalizer() {
    let cognito = FakeCognito::with_pool(POOL, reset());
    let mut spec = totp_on();
    spec["deletionPolicy"] = "Reset".into();
    let with_finalizer = |status| {
        let mut obj = resource(spec.clone(), status);
        obj.metadata.finalizers = Some(vec![RESET_FINALIZER.into()]);
        obj
    };
    let (_, first) = one_pass(with_finalizer(None), cognito.clone()).await;
    let status = status_patches(&first)[0].body["status"].clone();
    let mut obj = with_finalizer(Some(status));
    obj.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
    let (_, sent) = one_pass(obj, cognito.clone()).await;
    assert_eq!(
        cognito.calls(),
        ["SetUserPoolMfaConfig", "SetUserPoolMfaConfig"]
    );
    assert_eq!(cognito.answer(POOL, None).unwrap(), reset(), "MFA is off");
    assert_eq!(events(&sent), [("Normal", "MfaReset")]);
    let released: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.method == "PATCH" && s.path.ends_with("/userpoolmfaconfigs/fast"))
        .collect();
    assert_eq!(released.len(), 1, "{sent:#?}");
    assert!(
        !released[0].body.to_string().contains(RESET_FINALIZER),
        "the finalizer goes: {}",
        released[0].body
    );
}

/// The requeue delay of an action (kube's `Action` shows it only through `Debug`, as a
/// `Duration` does: `593.25s`, `1.5ms`).
fn action_delay(action: &Action) -> Duration {
    let text = format!("{action:?}");
    let inner = text
        .split("requeue_after: Some(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no requeue in {text}"));
    let (number, scale) = [("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)]
        .iter()
        .find_map(|(unit, scale)| Some((inner.strip_suffix(unit)?, *scale)))
        .unwrap_or_else(|| panic!("{inner}"));
    Duration::from_secs_f64(number.parse::<f64>().unwrap() * scale)
}

#[test]
fn the_cached_copy_drops_managed_fields_and_the_last_applied_manifest_only() {
    let mut obj: UserPoolMfaConfig = serde_json::from_value(json!({
        "apiVersion": "cognitoidp.operators.dev/v1alpha1",
        "kind": "UserPoolMfaConfig",
        "metadata": {
            "name": "r", "namespace": "team",
            "annotations": {
                LAST_APPLIED: "{\"spec\":{}}",
                "reconcile.cognitoidp.operators.dev/requestedAt": "now",
            },
            "labels": {"shard": "a"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        },
        "spec": {"userPoolId": "us-east-1_a", "mfaConfiguration": "OFF"},
    }))
    .unwrap();
    let before = obj.clone();
    slim(&mut obj);
    assert!(obj.metadata.managed_fields.unwrap_or_default().is_empty());
    assert_eq!(
        obj.metadata
            .annotations
            .unwrap()
            .into_keys()
            .collect::<Vec<_>>(),
        ["reconcile.cognitoidp.operators.dev/requestedAt"]
    );
    assert_eq!(obj.metadata.labels, before.metadata.labels);
    assert_eq!(obj.spec, before.spec);
}

/// Answers a kube client's request with `body` as JSON.
fn respond(respond: tower_test::mock::SendResponse<Response<Body>>, body: &Value) {
    respond.send_response(
        Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap(),
    )
}

/// A page of a list of the resources `names` (each its own UID), with `next` to continue.
fn page(names: &[&str], next: Option<&str>) -> Value {
    let items: Vec<Value> = names
        .iter()
        .map(|name| {
            let mut item = serde_json::to_value(resource(totp_on(), None)).unwrap();
            item["metadata"]["name"] = (*name).into();
            item["metadata"]["uid"] = format!("uid-{name}").into();
            item
        })
        .collect();
    json!({
        "apiVersion": "cognitoidp.operators.dev/v1alpha1", "kind": "UserPoolMfaConfigList",
        "metadata": {"resourceVersion": "7", "continue": next},
        "items": items,
    })
}

/// The mock API server's requests, to answer one by one.
type Requests = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// The watches, with enforcement off, of a mock API server; its requests, and the passes the
/// watches send.
async fn watching() -> (Requests, Watched, mpsc::UnboundedReceiver<Trigger>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let watched = Watched::start(&client, &settings(), Arc::default(), Arc::default()).await;
    let (tx, rx) = mpsc::unbounded_channel();
    *watched.term.lock().unwrap() = Some(tx);
    (handle, watched, rx)
}

/// While a list is under way the cache holds what was there before it: a pass the list calls
/// for is sent only once the list is in, so that it runs on the listed object. The list comes
/// in two pages, and the second waits until the test has looked at what was sent meanwhile.
#[tokio::test]
async fn a_pass_a_list_calls_for_is_sent_once_the_list_is_in() {
    let (mut handle, watched, mut rx) = watching().await;

    let (first, answer) = handle.next_request().await.unwrap();
    assert!(
        first.uri().query().unwrap().contains("limit=500"),
        "{first:?}"
    );
    respond(answer, &page(&["first"], Some("more")));
    let (second, answer) = handle.next_request().await.unwrap();
    assert!(
        second.uri().query().unwrap().contains("continue=more"),
        "{second:?}"
    );
    // The first page is through the watch: its pass would be in the channel by now.
    assert!(rx.try_recv().is_err(), "a pass sent before the list is in");
    assert!(watched.store.state().is_empty());
    respond(answer, &page(&["second"], None));
    // The watch that follows is left open.
    let (watch, _open) = handle.next_request().await.unwrap();
    assert!(
        watch.uri().query().unwrap().contains("watch=true"),
        "{watch:?}"
    );

    let mut sent = Vec::new();
    for _ in 0..2 {
        let Some(Trigger::Run(r)) = rx.recv().await else {
            panic!("a pass for each listed resource")
        };
        assert!(
            watched.store.get(&r).is_some(),
            "{r} runs on the listed object"
        );
        sent.push(r.name);
    }
    sent.sort();
    assert_eq!(sent, ["first", "second"]);
}

/// A resource deleted while the watch was down has no Delete event: the relist that follows
/// tells the term it is gone, so that what is kept for it (pacing, resync share, failures,
/// clients) goes too. Here the watch is answered 410 Gone, and the list after it lacks one of
/// the three resources the first list had and has another under a new UID (deleted and
/// created again meanwhile).
#[tokio::test]
async fn a_resource_a_relist_no_longer_has_is_forgotten_as_deleted() {
    let (mut handle, _watched, mut rx) = watching().await;

    let (_, answer) = handle.next_request().await.unwrap();
    respond(answer, &page(&["kept", "gone", "renewed"], None));
    let (_, answer) = handle.next_request().await.unwrap();
    let expired = json!({"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "reason": "Expired", "code": 410, "message": "too old resource version",
    }});
    respond(answer, &expired);
    let (relist, answer) = handle.next_request().await.unwrap();
    assert!(
        !relist.uri().query().unwrap().contains("watch"),
        "{relist:?}"
    );
    let mut relisted = page(&["kept", "renewed"], None);
    relisted["items"][1]["metadata"]["uid"] = "uid-renewed-2".into();
    respond(answer, &relisted);
    let (_, _open) = handle.next_request().await.unwrap();

    let mut deleted = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while deleted.len() < 2 {
            if let Some(Trigger::Deleted(obj)) = rx.recv().await {
                deleted.push((obj.name_any(), obj.uid().unwrap_or_default()));
            }
        }
    })
    .await
    .expect("what the relist lacks is forgotten");
    deleted.sort();
    assert_eq!(
        deleted,
        [
            ("gone".to_owned(), "uid-gone".to_owned()),
            ("renewed".to_owned(), "uid-renewed".to_owned())
        ]
    );
    while let Ok(trigger) = rx.try_recv() {
        assert!(
            !matches!(trigger, Trigger::Deleted(_)),
            "only what went: {deleted:?}"
        );
    }
}
