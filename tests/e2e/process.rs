//! The operator as a process: probes and metrics, leader election, kills and signals.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cognito_mfa_operator::api::{MfaMode, UserPoolMfaConfig};
use kube::Api;
use serde_json::json;

use test_kit::*;

#[tokio::test]
async fn probes_and_metrics_report_what_happened() {
    let env = env();
    let ns = env.namespace("metrics");
    let op = Operator::start(&ns);
    op.wait_ready();
    assert_eq!(op.get("/healthz").unwrap().0, 200);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool_id = synced_totp(&api, &ns, "metrics").await;
    // The write is counted before the status that the test has seen; the pass once it returns
    // and the gauges from the operator's own cache, both a moment after.
    let region = pool_id.split('_').next().unwrap();
    assert_eq!(
        op.metric(
            "cognito_mfa_cognito_calls_total",
            &format!(r#"operation="SetUserPoolMfaConfig",outcome="success",region="{region}""#)
        ),
        1.0,
        "one write, labelled with the pool's region"
    );
    wait_until(
        Duration::from_secs(5),
        "the Synced pass to be counted",
        || op.metric("cognito_mfa_reconciles_total", r#"result="Synced""#) >= 1.0,
    );
    wait_until(
        Duration::from_secs(5),
        "one Synced resource in the gauge",
        || op.metric("cognito_mfa_resources", r#"reason="Synced""#) == 1.0,
    );
    let series =
        format!(r#"namespace="{ns}",name="metrics",user_pool_id="{pool_id}",reason="Synced""#);
    wait_until(
        Duration::from_secs(5),
        "the resource's own series at 1",
        || op.metric("cognito_mfa_resource_ready", &series) == 1.0,
    );
    api.delete("metrics", &Default::default()).await.unwrap();
    wait_until(
        Duration::from_secs(10),
        "the series to go with the resource",
        || {
            op.get("/metrics")
                .is_some_and(|(_, body)| !body.contains(r#"name="metrics""#))
        },
    );
}

#[tokio::test]
async fn the_generic_endpoint_variable_works_and_logs_hold_no_credentials() {
    let env = env();
    let ns = env.namespace("endpoint");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let secret = format!("SecretKey{}", test_kit::random_suffix());
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![
        ("AWS_ENDPOINT_URL", env.cognito.url.clone()),
        ("AWS_SECRET_ACCESS_KEY", secret.clone()),
        ("AWS_SESSION_TOKEN", format!("Token{secret}")),
        ("LOG_LEVEL", "trace".into()),
    ];
    opts.log_file = Some(log.clone());
    let mut op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "endpoint").await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        1,
        "reached the emulator through AWS_ENDPOINT_URL"
    );
    op.kill();
    let logged = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        logged.contains("SetUserPoolMfaConfig"),
        "trace logging was on"
    );
    assert!(
        !logged.contains(&secret),
        "the secret access key appears in the log"
    );
}

#[tokio::test]
async fn sigterm_exits_zero_promptly() {
    let env = env();
    let ns = env.namespace("sigterm");
    let mut op = Operator::start(&ns);
    op.wait_ready();
    op.signal("TERM");
    let status = op
        .wait_exit(Duration::from_secs(5))
        .expect("exited within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over() {
    let env = env();
    let ns = env.namespace("leader");
    let start = |identity| replica(&ns, identity);
    let mut a = start("replica-a");
    wait_until(Duration::from_secs(20), "replica-a to lead", || {
        lease_holder(env, &ns).as_deref() == Some("replica-a")
    });
    let b = start("replica-b");
    b.wait_ready(); // a standby is ready: it can take over at any time
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    synced_totp(&api, &ns, "first").await;
    let calls = |op: &Operator| op.metric("cognito_mfa_cognito_calls_total", "");
    assert_eq!(
        (
            a.metric("cognito_mfa_leader", ""),
            b.metric("cognito_mfa_leader", "")
        ),
        (1.0, 0.0)
    );
    assert!(calls(&a) >= 1.0);
    assert_eq!(calls(&b), 0.0, "the standby made no call");

    a.kill(); // SIGKILL: no lease release, the standby waits for expiry (4 s)
    let killed = std::time::Instant::now();
    let second = env.new_pool();
    create(&api, &resource(&ns, "second", totp_on(&second))).await;
    wait_reason(&api, "second", "Synced", Duration::from_secs(20)).await;
    assert!(
        killed.elapsed() < Duration::from_secs(12),
        "took over in {:?}",
        killed.elapsed()
    );
    assert_eq!(lease_holder(env, &ns).as_deref(), Some("replica-b"));
    assert!(calls(&b) >= 1.0);

    // Losing the lease stops reconciling: another holder takes it for an hour. (Taken once more
    // after the replica noticed, because its last renewal raced with the first take-over.)
    let steal = || {
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let lease = json!({"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 3600, "renewTime": now, "acquireTime": now}});
        env.kubectl(&[
            "patch",
            "leases.coordination.k8s.io",
            "-n",
            &ns,
            "cognito-mfa-operator",
            "--type",
            "merge",
            "-p",
            &lease.to_string(),
        ])
        .success();
    };
    // Read from a live replica only: `metric` reads 0 from one that does not answer.
    let standing_by = |op: &Operator| {
        op.get("/metrics")
            .is_some_and(|(s, body)| s == 200 && body.contains("\ncognito_mfa_leader 0\n"))
    };
    steal();
    wait_until(Duration::from_secs(15), "replica-b to stand by", || {
        standing_by(&b)
    });
    steal();
    let third = env.new_pool();
    create(&api, &resource(&ns, "third", totp_on(&third))).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(standing_by(&b), "replica-b is alive and still standing by");
    assert_eq!(
        b.get("/readyz").map(|(s, _)| s),
        Some(200),
        "a standby is ready"
    );
    assert_eq!(
        env.calls(&third, "SetUserPoolMfaConfig"),
        0,
        "a replica without the lease made a call"
    );
    assert!(
        api.get("third").await.unwrap().status.is_none(),
        "a replica without the lease wrote status"
    );
}

/// Fencing: a leader cut off from the API server that still reaches Cognito stops writing once
/// its renew deadline has passed, before the other replica may take over; the new leader applies
/// the newer spec, and nothing from the old leader's stale cache flips the pool back.
#[tokio::test]
async fn a_leader_cut_off_from_the_api_server_stops_writing_before_a_standby_takes_over() {
    const RENEW_DEADLINE: Duration = Duration::from_secs(2); // of a 4 s lease (the harness's)
    let env = env();
    let ns = env.namespace("fencing");
    let mut proxy = Proxy::to_api_server(env);
    // Static keys of their own tell the replicas' calls apart at the emulator.
    let (key_a, key_b) = ("AKIDFENCEDREPLICAA", "AKIDFENCEDREPLICAB");
    let start = |identity: &'static str, key: &str, kubeconfig: Option<&std::path::Path>| {
        let mut o = OperatorOptions::new(&ns);
        o.leader_election = true;
        o.identity = identity;
        o.extra_env = vec![
            ("AWS_ACCESS_KEY_ID", key.to_owned()),
            ("LEASE_RENEW_DEADLINE", "2s".to_owned()),
        ];
        if let Some(kubeconfig) = kubeconfig {
            o.extra_env
                .push(("KUBECONFIG", kubeconfig.display().to_string()));
        }
        Operator::start_with(o)
    };
    let a = start("replica-a", key_a, Some(&proxy.kubeconfig));
    wait_until(Duration::from_secs(20), "replica-a to lead", || {
        lease_holder(env, &ns).as_deref() == Some("replica-a")
    });
    let b = start("replica-b", key_b, None);
    b.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "fenced").await;
    let sets_by = |key: &str| -> Vec<f64> {
        env.cognito
            .call_records(&pool, "SetUserPoolMfaConfig")
            .iter()
            .filter(|r| r["accessKeyId"] == key)
            .map(|r| r["time"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(
        sets_by(key_a).len(),
        1,
        "replica-a, through the proxy, applied the spec"
    );
    assert!(sets_by(key_b).is_empty(), "the standby made no write");

    proxy.sever();
    let severed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // A new spec only replica-b can see, and drift that replica-a's stale cache would "correct"
    // back to TOTP ON.
    let newer = json!({"userPoolId": pool, "mfaConfiguration": "OPTIONAL", "softwareTokenMfaConfiguration": {"enabled": true}});
    api.patch(
        "fenced",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({"spec": newer})),
    )
    .await
    .unwrap();
    env.put_pool_mfa(&pool, json!({"MfaConfiguration": "OFF"}));

    wait_until(Duration::from_secs(20), "replica-b to take over", || {
        lease_holder(env, &ns).as_deref() == Some("replica-b")
    });
    wait_reason(&api, "fenced", "Synced", Duration::from_secs(20)).await;
    let wanted = env.pool_mfa(&pool);
    assert_eq!(wanted.mfa_configuration, MfaMode::Optional, "{wanted:?}");
    // Seconds after the cut of replica-a's writes once its renew deadline had passed (with half
    // a second for a request checked just in time to arrive on a busy machine; replica-b cannot
    // lead before 3.6 s).
    let late_writes = || -> Vec<f64> {
        sets_by(key_a)
            .into_iter()
            .map(|t| t - severed)
            .filter(|after| *after > RENEW_DEADLINE.as_secs_f64() + 0.5)
            .collect()
    };
    // Several resyncs (2 s) of both replicas: replica-a's stale cache still wants TOTP ON.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let late = late_writes();
        assert!(
            late.is_empty(),
            "replica-a wrote to Cognito {late:?} s after it was cut off, past its renew \
             deadline of {RENEW_DEADLINE:?}"
        );
        assert_eq!(
            env.pool_mfa(&pool),
            wanted,
            "the pool was changed after the take-over"
        );
    }
    let first_of_b = sets_by(key_b)
        .first()
        .map(|t| t - severed)
        .expect("replica-b applied the newer spec");
    assert!(
        first_of_b > RENEW_DEADLINE.as_secs_f64(),
        "replica-b wrote {first_of_b:.2} s after the cut, before replica-a's renew deadline"
    );
    eprintln!("replica-b took over and wrote {first_of_b:.2} s after replica-a was cut off");
    // `None` from a replica that does not answer: a crashed replica-a must not pass.
    let leads = |op: &Operator| {
        op.get("/metrics")
            .map(|(_, body)| body.contains("\ncognito_mfa_leader 1\n"))
    };
    assert_eq!(
        (leads(&a), leads(&b)),
        (Some(false), Some(true)),
        "replica-a, alive, stepped down without the API server telling it"
    );
}

/// A standby keeps its watch: taking over, it lists nothing again, and it is ready throughout.
#[tokio::test]
async fn a_standby_takes_over_with_a_warm_cache_and_stays_ready() {
    let env = env();
    let ns = env.namespace("warm");
    let start = |identity| replica(&ns, identity);
    let mut a = start("replica-a");
    wait_until(Duration::from_secs(20), "replica-a to lead", || {
        lease_holder(env, &ns).as_deref() == Some("replica-a")
    });
    let b = start("replica-b");
    b.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    synced_totp(&api, &ns, "before").await;
    // Lists of the resources by either replica (they share one identity), from the audit log.
    let lists = || {
        operator_requests(&ns, None).map(|requests| {
            requests
                .iter()
                .filter(|(verb, resource)| verb == "list" && resource == "userpoolmfaconfigs")
                .count()
        })
    };
    let listed = lists();
    assert!(
        listed.is_none_or(|n| n == 2),
        "each replica listed once: {listed:?}"
    );

    let (stop, not_ready) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let probe = {
        let (stop, not_ready, url) = (stop.clone(), not_ready.clone(), b.metrics_url.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let status = http_get(&url, "/readyz").map(|(s, _)| s);
                if status != Some(200) {
                    not_ready.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    a.kill();
    let after = env.new_pool();
    create(&api, &resource(&ns, "after", totp_on(&after))).await;
    wait_reason(&api, "after", "Synced", Duration::from_secs(20)).await;
    stop.store(true, Ordering::SeqCst);
    probe.join().unwrap();
    assert_eq!(lease_holder(env, &ns).as_deref(), Some("replica-b"));
    assert_eq!(
        lists(),
        listed,
        "the new leader reconciled from the cache it kept"
    );
    assert_eq!(
        not_ready.load(Ordering::SeqCst),
        0,
        "replica-b turned unready while taking over"
    );
}

/// An operator with leader election, as one replica of several.
fn replica(namespace: &str, identity: &'static str) -> Operator {
    let mut o = OperatorOptions::new(namespace);
    o.leader_election = true;
    o.identity = identity;
    Operator::start_with(o)
}

fn lease_holder(env: &Env, ns: &str) -> Option<String> {
    let out = env.kubectl(&[
        "get",
        "leases.coordination.k8s.io",
        "-n",
        ns,
        "cognito-mfa-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    out.status
        .success()
        .then(|| out.stdout.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[tokio::test]
async fn a_killed_operator_restarts_and_converges_without_rewriting() {
    let env = env();
    let ns = env.namespace("restart");
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pools: Vec<String> = (0..20).map(|_| env.new_pool()).collect();
    let mut op = Operator::start(&ns);
    for (i, pool) in pools.iter().enumerate() {
        create(&api, &resource(&ns, &format!("r{i}"), totp_on(pool))).await;
    }
    wait_for(Duration::from_secs(30), "a few to converge", async || {
        let mut ready = 0;
        for i in 0..pools.len() {
            ready += usize::from(
                ready_at_generation(&api, &format!("r{i}"))
                    .await
                    .is_some_and(|r| r.1 == "Synced"),
            );
        }
        (ready >= 3).then_some(())
    })
    .await;
    op.kill();
    let mut synced_at_kill = vec![];
    for i in 0..pools.len() {
        synced_at_kill.push(
            ready_at_generation(&api, &format!("r{i}"))
                .await
                .is_some_and(|r| r.1 == "Synced"),
        );
    }
    let sets_at_kill: Vec<u64> = pools
        .iter()
        .map(|p| env.calls(p, "SetUserPoolMfaConfig"))
        .collect();

    let _restarted = Operator::start(&ns);
    for i in 0..pools.len() {
        wait_reason(&api, &format!("r{i}"), "Synced", Duration::from_secs(30)).await;
    }
    for (i, pool) in pools.iter().enumerate() {
        let writes = env.calls(pool, "SetUserPoolMfaConfig") - sets_at_kill[i];
        if synced_at_kill[i] {
            assert_eq!(
                writes, 0,
                "r{i} was synced before the kill and is not written again"
            );
        } else {
            assert!(
                writes <= 1,
                "r{i}: {writes} writes for one pending generation"
            );
        }
    }
}
