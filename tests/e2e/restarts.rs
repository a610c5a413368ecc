//! Restarts and outages: the operator killed in the middle of a Cognito write (whether or not the
//! write reached Cognito, a restarted operator converges with at most one more write), SIGTERM
//! during a pass, the API server unreachable for a while, the control plane restarted, and a
//! watch whose resource version has expired (410 Gone).

use std::time::Duration;

use cognito_mfa_operator::api::{MfaMode, UserPoolMfaConfig};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use test_kit::*;

#[tokio::test]
async fn sigkill_during_a_write_converges_with_at_most_one_more_write() {
    let env = env();
    // "Timeout" answers normally after the delay: the write lands although its caller is gone.
    // "ConnectionReset" drops the request after the delay: the write never lands.
    for (fault, lands) in [("Timeout", true), ("ConnectionReset", false)] {
        let ns = env.namespace("sigkill");
        let pool = env.new_pool();
        env.cognito.fault(
            &pool,
            "SetUserPoolMfaConfig",
            fault,
            json!({"delaySeconds": 1.5, "count": 1}),
        );
        let mut op = Operator::start(&ns);
        let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
        create(&api, &resource(&ns, "killed", totp_on(&pool))).await;
        wait_until(Duration::from_secs(30), "the write to be in flight", || {
            !env.cognito
                .call_records(&pool, "SetUserPoolMfaConfig")
                .is_empty()
        });
        op.signal("KILL");
        op.wait_exit(Duration::from_secs(5))
            .expect("SIGKILL ends the operator");
        tokio::time::sleep(Duration::from_secs(2)).await; // past the delay
        let mode = env.pool_mfa(&pool).mfa_configuration;
        assert_eq!(mode.as_str(), if lands { "ON" } else { "OFF" }, "{fault}");
        assert!(
            api.get("killed").await.unwrap().status.is_none(),
            "{fault}: killed before any status"
        );

        let _op = Operator::start(&ns);
        wait_reason(&api, "killed", "Synced", Duration::from_secs(30)).await;
        assert_eq!(
            env.pool_mfa(&pool).mfa_configuration.as_str(),
            "ON",
            "{fault}"
        );
        assert_eq!(
            env.calls(&pool, "SetUserPoolMfaConfig"),
            2,
            "{fault}: the interrupted write and one more"
        );
    }
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_pass_finish_then_exits_zero() {
    let env = env();
    let ns = env.namespace("sigterm-busy");
    let pool = env.new_pool();
    env.cognito.fault(
        &pool,
        "SetUserPoolMfaConfig",
        "Timeout",
        json!({"delaySeconds": 1.5, "count": 1}),
    );
    let mut op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    create(&api, &resource(&ns, "busy", totp_on(&pool))).await;
    wait_until(Duration::from_secs(30), "the write to be in flight", || {
        !env.cognito
            .call_records(&pool, "SetUserPoolMfaConfig")
            .is_empty()
    });
    op.signal("TERM");
    let status = op
        .wait_exit(Duration::from_secs(10))
        .expect("exits within the shutdown timeout");
    assert_eq!(status.code(), Some(0));
    // The pass was not cut: its answer made it into the status before the exit.
    let (ready, reason, _) = ready_at_generation(&api, "busy")
        .await
        .expect("the in-flight pass wrote its status");
    assert_eq!((ready.as_str(), reason.as_str()), ("True", "Synced"));
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 1);
}

/// The API server goes away and comes back, as in a restart: readiness drops while the watches
/// fail, and once it is back the operator lists again and catches up with what changed meanwhile
/// (a new generation, a new resource, a deleted owner whose waiting rival takes over), with one
/// write for each.
#[tokio::test]
async fn after_an_api_server_outage_a_relist_catches_up_with_one_write_per_change() {
    let env = env();
    let ns = env.namespace("outage");
    let proxy = Proxy::to_api_server(env);
    let mut o = OperatorOptions::new(&ns);
    o.extra_env = vec![("KUBECONFIG", proxy.kubeconfig.display().to_string())];
    // No resync within the test: only the relist can bring the changes in.
    o.resync = "10m";
    let op = Operator::start_with(o);
    op.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let changed = synced_totp(&api, &ns, "changed").await;
    let held = synced_totp(&api, &ns, "owner").await;
    let optional = |pool: &str| json!({"userPoolId": pool, "mfaConfiguration": "OPTIONAL", "softwareTokenMfaConfiguration": {"enabled": true}});
    create(&api, &resource(&ns, "waiting", optional(&held))).await;
    wait_reason(&api, "waiting", "Conflict", Duration::from_secs(30)).await;

    proxy.outage();
    wait_until(Duration::from_secs(30), "readiness to turn false", || {
        op.get("/readyz")
            .is_some_and(|(s, body)| s == 503 && body.contains("UserPoolMfaConfig"))
    });
    api.patch(
        "changed",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": optional(&changed)})),
    )
    .await
    .unwrap();
    let added = env.new_pool();
    create(&api, &resource(&ns, "added", totp_on(&added))).await;
    delete(&api, "owner").await; // Retain: no finalizer, gone at once
    assert!(api.get_opt("owner").await.unwrap().is_none());
    proxy.restore();

    wait_until(Duration::from_secs(60), "readiness to come back", || {
        op.get("/readyz").is_some_and(|(s, _)| s == 200)
    });
    for name in ["changed", "added", "waiting"] {
        wait_for(Duration::from_secs(30), name, async || {
            ready_at_generation(&api, name)
                .await
                .filter(|(_, reason, _)| reason == "Synced")
        })
        .await;
    }
    assert_eq!(env.pool_mfa(&changed).mfa_configuration, MfaMode::Optional);
    assert_eq!(env.pool_mfa(&held).mfa_configuration, MfaMode::Optional);
    let sets = |pool: &str| env.calls(pool, "SetUserPoolMfaConfig");
    assert_eq!(
        (sets(&changed), sets(&added), sets(&held)),
        (2, 1, 2),
        "one write per generation and per owner"
    );
    assert!(
        op.metric(
            "cognito_mfa_watch_errors_total",
            r#"resource="UserPoolMfaConfig""#
        ) >= 3.0
    );
}

/// The control plane restarts under a running operator (etcd keeps its data, the API server
/// starts with a new watch cache): the watches fail, are counted, and list again, the replica
/// is ready again, and a change made after the restart is one write.
#[tokio::test]
async fn after_a_control_plane_restart_the_operator_catches_up_with_one_write() {
    let Some(env) = isolated_env() else { return };
    let ns = env.namespace("restart");
    let mut o = OperatorOptions::new(&ns);
    o.resync = "10m"; // only the watch brings changes in
    let op = Operator::start_in(&env, o);
    op.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    create(&api, &resource(&ns, "kept", totp_on(&pool))).await;
    wait_reason(&api, "kept", "Synced", Duration::from_secs(30)).await;

    env.restart_control_plane();
    wait_until(Duration::from_secs(30), "readiness to come back", || {
        op.get("/readyz").is_some_and(|(s, _)| s == 200)
    });
    let errors = op.metric(
        "cognito_mfa_watch_errors_total",
        r#"resource="UserPoolMfaConfig""#,
    );
    assert!(errors >= 1.0, "the restart showed as a watch error");
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    api.patch(
        "kept",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"mfaConfiguration": "OPTIONAL"}})),
    )
    .await
    .unwrap();
    wait_for(
        Duration::from_secs(60),
        "the change after the restart",
        async || {
            ready_at_generation(&api, "kept")
                .await
                .filter(|(_, reason, _)| reason == "Synced")
        },
    )
    .await;
    assert_eq!(env.pool_mfa(&pool).mfa_configuration, MfaMode::Optional);
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        2,
        "one write per generation, none for the restart"
    );
}

/// The operator's watches of UserPoolMfaConfig objects that `env`'s API server answered 410.
fn expired_watches(env: &Env) -> usize {
    operator_answered(env, "userpoolmfaconfigs", Some("watch"), 410)
}

/// A watch whose resource version has expired (410 Gone, as after a compaction) is listed
/// again: the replica stays in charge of its resources, and a change made after the 410 is one
/// write, with no resync to bring it in.
#[tokio::test]
async fn a_watch_answered_410_gone_lists_again_and_keeps_watching() {
    // Arming a 410 for the operator's identity would hit another test's operator.
    let Some(env) = isolated_env() else { return };
    let env = &env;
    let ns = env.namespace("expired");
    let proxy = Proxy::to_api_server(env);
    let mut o = OperatorOptions::new(&ns);
    o.extra_env = vec![("KUBECONFIG", proxy.kubeconfig.display().to_string())];
    o.resync = "10m"; // only the watch brings changes in
    let op = Operator::start_in(env, o);
    op.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    create(&api, &resource(&ns, "kept", totp_on(&pool))).await;
    wait_reason(&api, "kept", "Synced", Duration::from_secs(30)).await;
    assert_eq!(expired_watches(env), 0);
    let errors = || {
        op.metric(
            "cognito_mfa_watch_errors_total",
            r#"resource="UserPoolMfaConfig""#,
        )
    };
    let errors_before = errors();

    // The open watch ends (as at its timeout); the next one, from the listed version, is 410.
    env.expire_next_watch(OPERATOR_USER, "userpoolmfaconfigs");
    proxy.outage();
    proxy.restore();
    wait_until(
        Duration::from_secs(30),
        "the operator's watch to meet the 410",
        || expired_watches(env) == 1,
    );
    wait_until(Duration::from_secs(30), "the 410 to be counted", || {
        errors() > errors_before
    });
    op.wait_ready();

    change_spec_and_wait_synced(
        &api,
        "kept",
        json!({"mfaConfiguration": "OPTIONAL", "softwareTokenMfaConfiguration": {"enabled": true}}),
    )
    .await;
    assert_eq!(env.pool_mfa(&pool).mfa_configuration, MfaMode::Optional);
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        2,
        "one write per generation"
    );
    assert_eq!(expired_watches(env), 1, "one 410, then watching again");
}
