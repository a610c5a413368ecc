//! Every documented error kind shows as its own reason, is retried without a hot loop, and
//! clears by itself once the cause is gone.

use std::time::Duration;

use cognito_mfa_operator::api::{RECONCILE_REQUESTED_AT, RESET_FINALIZER, UserPoolMfaConfig};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use test_kit::*;

#[tokio::test]
async fn every_error_kind_is_its_own_reason_bounded_and_recovers() {
    let env = env();
    let ns = env.namespace("faults");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    // Every code of the shared table, and a call that never returns.
    let kinds: Vec<(String, String)> = test_kit::service_errors()
        .into_iter()
        .map(|e| (e.code, e.reason))
        .chain([("Timeout".to_owned(), "Timeout".to_owned())])
        .collect();
    let mut cases = vec![];
    for (i, (code, reason)) in kinds.iter().enumerate() {
        let pool = env.new_pool();
        env.fault(&pool, "SetUserPoolMfaConfig", code);
        let name = format!("fault-{i}");
        create(&api, &resource(&ns, &name, totp_on(&pool))).await;
        cases.push((name, pool, code.as_str(), reason.as_str()));
    }
    for (name, _, code, reason) in &cases {
        let message = wait_reason(&api, name, reason, Duration::from_secs(30)).await;
        if *code != "Timeout" {
            assert!(
                message.contains(&format!("injected {code}")),
                "{name}: the service's message is kept: {message}"
            );
        }
    }
    // A persistent fault is retried with backoff, never in a hot loop (resync is 2 s here),
    // and a repeated identical error costs no request to the API server: no status write, no
    // event (counted in the audit log, since an identical apply or a merged event would leave
    // the objects as they were).
    let requests = |cases: &[(String, String, &str, &str)]| {
        cases
            .iter()
            .map(|c| status_and_event_writes(&ns, &c.0))
            .collect::<Vec<_>>()
    };
    // Settled first: the writes of the last reasons reached (two reads a second apart agree).
    // Reading the audit log takes a while on a busy machine, so the window is timed apart.
    let mut written = requests(&cases);
    let settling = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = requests(&cases);
        if now == written {
            break;
        }
        assert!(
            settling.elapsed() < Duration::from_secs(30),
            "status or event writes go on while the errors repeat: {written:?} -> {now:?}"
        );
        written = now;
    }
    let before: Vec<u64> = cases
        .iter()
        .map(|c| env.calls(&c.1, "SetUserPoolMfaConfig"))
        .collect();
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let counts: Vec<u64> = cases
        .iter()
        .map(|c| env.calls(&c.1, "SetUserPoolMfaConfig"))
        .collect();
    // After the first retry each waits at least 1 s (the 2 s resync caps the backoff, and
    // jitter takes off at most half).
    let most = started.elapsed().as_secs() + 1;
    for ((case, before), now) in cases.iter().zip(before).zip(counts) {
        let during = now - before;
        assert!(
            during <= most,
            "{}: {during} calls in {:?}",
            case.3,
            started.elapsed()
        );
        assert!(during >= 1, "{}: retried at all", case.3);
    }
    assert_eq!(
        requests(&cases),
        written,
        "repeating an identical error writes neither status nor events"
    );
    // ...and a repeated identical error is announced once, not in an event storm.
    let events = env
        .kubectl(&["get", "events.events.k8s.io", "-n", &ns, "-o", "json"])
        .success()
        .stdout;
    let events: Value = serde_json::from_str(&events).unwrap();
    for (name, _, _, reason) in &cases {
        let warnings = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["regarding"]["name"] == name.as_str() && e["reason"] == *reason)
            .count();
        assert_eq!(warnings, 1, "{name}: {warnings} {reason} events");
    }
    for (_, pool, ..) in &cases {
        env.clear_faults(pool);
    }
    for (name, ..) in &cases {
        wait_reason(&api, name, "Synced", Duration::from_secs(30)).await;
    }
}

#[tokio::test]
async fn a_pool_that_appears_later_converges() {
    let env = env();
    let ns = env.namespace("later");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = format!("us-east-1_{}", test_kit::random_suffix());
    create(&api, &resource(&ns, "later", totp_on(&pool))).await;
    let message = wait_reason(&api, "later", "ResourceNotFound", Duration::from_secs(30)).await;
    assert!(message.contains(&pool), "{message}");
    env.create_pool(&pool);
    wait_reason(&api, "later", "Synced", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_spec_the_operator_rejects_makes_no_call() {
    let env = env();
    let ns = env.namespace("invalid");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    // Passes the CRD's documented pattern, but names no region to call.
    let pool = "local_Abc123";
    create(&api, &resource(&ns, "no-region", totp_on(pool))).await;
    let message = wait_reason(&api, "no-region", "InvalidSpec", Duration::from_secs(30)).await;
    assert!(message.contains("spec.userPoolId"), "{message}");
    let (_, calls) = env.emulator("GET", &format!("/_emulator/calls?poolId={pool}"), None);
    assert_eq!(calls["calls"].as_array().map(Vec::len), Some(0), "{calls}");
}

#[tokio::test]
async fn missing_credentials_and_an_unreachable_endpoint_have_their_reasons() {
    let env = env();
    let api_client = env.client().await;

    let ns = env.namespace("nocreds");
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![
        ("AWS_ACCESS_KEY_ID", String::new()),
        ("AWS_SECRET_ACCESS_KEY", String::new()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
    ];
    let _no_creds = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = Api::namespaced(api_client.clone(), &ns);
    let pool = env.new_pool();
    create(&api, &resource(&ns, "nocreds", totp_on(&pool))).await;
    wait_reason(
        &api,
        "nocreds",
        "CredentialsUnavailable",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 0);

    let ns = env.namespace("unreachable");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![(
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
        format!("http://127.0.0.1:{port}"),
    )];
    let _unreachable = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = Api::namespaced(api_client, &ns);
    create(&api, &resource(&ns, "unreachable", totp_on(&pool))).await;
    wait_reason(&api, "unreachable", "NetworkError", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn an_sts_outage_is_credentials_unavailable_naming_the_role() {
    let env = env();
    let ns = env.bare_namespace("sts-down");
    // STS accepts connections and never answers, as when its packets are dropped.
    let sts = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sts_url = format!("http://{}", sts.local_addr().unwrap());
    std::thread::spawn(move || sts.incoming().for_each(std::mem::forget));
    let role = format!("arn:aws:iam::333333333333:role/mfa-{ns}");
    let pool = env.new_pool();
    env.put_policy(
        &ns,
        json!({"namespaces": {"names": [ns]}, "userPools": [pool], "identity": {"roleArn": role}}),
    );
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![("AWS_ENDPOINT_URL_STS", sts_url)];
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    create(&api, &resource(&ns, "sts-down", totp_on(&pool))).await;
    let (reason, message) = wait_for(Duration::from_secs(30), "a failed pass", async || {
        ready_at_generation(&api, "sts-down")
            .await
            .filter(|r| r.0 == "False")
            .map(|r| (r.1, r.2))
    })
    .await;
    assert_eq!(reason, "CredentialsUnavailable", "{message}");
    assert!(
        message.starts_with(&format!("could not assume role {role}: ")),
        "{message}"
    );
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 0);
    env.delete_policy(&ns);
}

#[tokio::test]
async fn a_finalizer_someone_removes_or_adds_is_put_right() {
    let env = env();
    let ns = env.namespace("finalizer");
    let mut opts = OperatorOptions::new(&ns);
    opts.resync = "10m"; // nothing but the change itself triggers a pass
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let finalizers = async |name: &str, value: Value| {
        let patch = json!({"metadata": {"finalizers": value}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    };
    let has_finalizer = async |name: &str| {
        api.get(name)
            .await
            .unwrap()
            .finalizers()
            .iter()
            .any(|f| f == RESET_FINALIZER)
    };

    let pool = env.new_pool();
    let mut spec = totp_on(&pool);
    spec["deletionPolicy"] = "Reset".into();
    create(&api, &resource(&ns, "reset", spec)).await;
    wait_reason(&api, "reset", "Synced", Duration::from_secs(30)).await;
    finalizers("reset", Value::Null).await;
    wait_for(
        Duration::from_secs(10),
        "the finalizer to be back",
        async || has_finalizer("reset").await.then_some(()),
    )
    .await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        1,
        "one Set for the resource, none for its finalizer"
    );

    synced_totp(&api, &ns, "retain").await;
    finalizers("retain", json!([RESET_FINALIZER])).await;
    wait_for(Duration::from_secs(10), "the finalizer to go", async || {
        (!has_finalizer("retain").await).then_some(())
    })
    .await;
}

/// With a resync far away, the retry classes differ as documented: transient errors back off
/// from about a second, IAM-propagation errors too at first, missing permissions and pools wait
/// about half a minute or more, and a spec Cognito refused waits for a change, which a new
/// generation (or an on-demand request) brings at once.
#[tokio::test]
async fn retry_classes_differ_when_the_resync_is_far_away() {
    let env = env();
    let ns = env.namespace("classes");
    let mut opts = OperatorOptions::new(&ns);
    opts.resync = "1h";
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let classes = [
        ("InternalErrorException", "InternalError", "backoff"),
        (
            "InvalidSmsRoleAccessPolicyException",
            "InvalidSmsRoleAccessPolicy",
            "propagation",
        ),
        ("NotAuthorizedException", "NotAuthorized", "slow"),
        ("InvalidParameterException", "InvalidParameter", "await"),
    ];
    let mut pools = vec![];
    for (code, _, name) in classes {
        let pool = env.new_pool();
        env.fault(&pool, "SetUserPoolMfaConfig", code);
        create(&api, &resource(&ns, name, totp_on(&pool))).await;
        pools.push(pool);
    }
    for (_, reason, name) in classes {
        wait_reason(&api, name, reason, Duration::from_secs(30)).await;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let sets: Vec<u64> = pools
        .iter()
        .map(|p| env.calls(p, "SetUserPoolMfaConfig"))
        .collect();
    eprintln!("writes in about 8 s by class: {sets:?}");
    // Backoff from 1 s doubling, each delay jittered down to half: at least 3 attempts in 8 s.
    assert!(sets[0] >= 3 && sets[1] >= 3, "{sets:?}");
    // The slow class waits at least 15 s, and a refused spec waits for the resync (1 h).
    assert_eq!((sets[2], sets[3]), (1, 1), "{sets:?}");

    // A new generation of the refused spec is tried at once; so is a requested pass.
    api.patch(
        "await",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"mfaConfiguration": "OPTIONAL"}})),
    )
    .await
    .unwrap();
    api.patch(
        "slow",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: "now"}}})),
    )
    .await
    .unwrap();
    wait_until(Duration::from_secs(5), "both to be tried again", || {
        env.calls(&pools[3], "SetUserPoolMfaConfig") == 2
            && env.calls(&pools[2], "SetUserPoolMfaConfig") == 2
    });
}
