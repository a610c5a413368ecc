//! The operator killed in the middle of a Cognito write: whether or not the write reached
//! Cognito, a restarted operator converges with at most one more write.

use std::time::Duration;

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use serde_json::json;

use crate::harness::*;

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
