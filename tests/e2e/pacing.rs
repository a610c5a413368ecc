//! Client-side budgets under load: a change is served before the routine resync reads that
//! saturate the read budget, and no resource leaves Ready because of the operator's own limit.

use std::time::{Duration, Instant};

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use serde_json::{Value, json};

use test_kit::*;

#[tokio::test]
async fn a_change_is_served_before_a_saturated_resync_backlog() {
    let env = env();
    let ns = env.namespace("saturated");
    // 30 resources resynced every 2 s want 15 reads per second; the budget allows 2.
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![
        ("COGNITO_READ_RPS", "2".into()),
        ("COGNITO_BURST", "1".into()),
    ];
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    const N: usize = 30;
    let items: Vec<Value> = (0..N)
        .map(|i| {
            serde_json::to_value(resource(&ns, &format!("r{i}"), totp_on(&env.new_pool()))).unwrap()
        })
        .collect();
    env.kubectl_with_input(
        &["create", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .success();
    for i in 0..N {
        wait_reason(&api, &format!("r{i}"), "Synced", Duration::from_secs(60)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await; // the resync backlog builds up

    let started = Instant::now();
    create(&api, &resource(&ns, "change", totp_on(&env.new_pool()))).await;
    wait_reason(&api, "change", "Synced", Duration::from_secs(30)).await;
    let waited = started.elapsed();
    eprintln!(
        "a new resource was Ready {waited:?} after its creation, behind {N} saturated resyncs"
    );
    assert!(
        waited < Duration::from_secs(2),
        "the change waited {waited:?}"
    );
    for i in 0..N {
        let (ready, reason, _) = ready_at_generation(&api, &format!("r{i}")).await.unwrap();
        assert_eq!(
            (ready.as_str(), reason.as_str()),
            ("True", "Synced"),
            "r{i} left Ready"
        );
    }
}

#[tokio::test]
async fn resync_reads_beyond_the_budget_are_spread_over_a_longer_period() {
    let env = env();
    let ns = env.namespace("spread");
    // 12 resources resynced every 2 s want 6 reads per second; the budget allows 2, of which
    // routine reads plan for 90%: each pool is read every 12 / 1.8 = 6.7 s instead.
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![
        ("COGNITO_READ_RPS", "2".into()),
        ("COGNITO_BURST", "1".into()),
    ];
    opts.log_file = Some(log.clone());
    let op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    const N: usize = 12;
    let pools: Vec<String> = (0..N).map(|_| env.new_pool()).collect();
    for (i, pool) in pools.iter().enumerate() {
        create(&api, &resource(&ns, &format!("r{i}"), totp_on(pool))).await;
    }
    for i in 0..N {
        wait_reason(&api, &format!("r{i}"), "Synced", Duration::from_secs(60)).await;
    }
    let period = op.metric(
        "cognito_mfa_resync_period_seconds",
        r#"account="operator",region="us-east-1""#,
    );
    assert!((period - N as f64 / 1.8).abs() < 0.01, "period {period}");

    let reads = || -> Vec<u64> {
        pools
            .iter()
            .map(|p| env.calls(p, "GetUserPoolMfaConfig"))
            .collect()
    };
    let deferrals = || op.metric("cognito_mfa_rate_limiter_deferrals_total", "");
    let (reads_before, deferrals_before) = (reads(), deferrals());
    const WINDOW: Duration = Duration::from_secs(12);
    tokio::time::sleep(WINDOW).await;
    let read: Vec<u64> = reads()
        .iter()
        .zip(&reads_before)
        .map(|(after, before)| after - before)
        .collect();
    let deferred = deferrals() - deferrals_before;
    eprintln!("spread resync: reads per pool {read:?} and {deferred} deferrals in {WINDOW:?}");
    // Every pool is read within its period (at most 7.3 s with jitter); all together never
    // more than the budget (2 per second, plus a burst of 1).
    assert!(
        read.iter().all(|&n| n >= 1),
        "a pool was not read: {read:?}"
    );
    assert!(read.iter().sum::<u64>() <= 25, "{read:?}");
    // Reads come due at the rate the budget allows, so passes rarely step aside; due every
    // 2 s, most would (about 4 per second).
    assert!(deferred <= 6.0, "{deferred} passes deferred");
    for i in 0..N {
        let (ready, ..) = ready_at_generation(&api, &format!("r{i}")).await.unwrap();
        assert_eq!(ready, "True", "r{i} left Ready");
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        logged.contains("resync reads are spread over a longer period"),
        "the stretch is logged"
    );
}

/// A call that finds no client-side budget within 30 s gives up with TooManyRequests (so it
/// never holds a worker for longer), sends nothing, and succeeds once the budget is back.
#[tokio::test]
async fn a_call_without_budget_for_30_s_is_too_many_requests_and_recovers() {
    let env = env();
    let ns = env.namespace("nobudget");
    // One write every 40 s: the second resource's write cannot go out within 30 s.
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![
        ("COGNITO_WRITE_RPS", "0.025".into()),
        ("COGNITO_BURST", "1".into()),
    ];
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pools = [env.new_pool(), env.new_pool()];
    let started = Instant::now();
    for (i, pool) in pools.iter().enumerate() {
        create(&api, &resource(&ns, &format!("w{i}"), totp_on(pool))).await;
    }
    let sets = || -> u64 {
        pools
            .iter()
            .map(|p| env.calls(p, "SetUserPoolMfaConfig"))
            .sum()
    };
    let (waiting, message) = wait_for(Duration::from_secs(45), "a write to give up", async || {
        for i in 0..2 {
            if let Some((_, reason, message)) = ready_at_generation(&api, &format!("w{i}")).await
                && reason == "TooManyRequests"
            {
                return Some((i, message));
            }
        }
        None
    })
    .await;
    let gave_up = started.elapsed();
    assert!(
        message.contains("no budget left in the client-side rate limit within 30s"),
        "{message}"
    );
    assert!(
        gave_up >= Duration::from_secs(30),
        "gave up after {gave_up:?}"
    );
    assert_eq!(sets(), 1, "the call without budget was not sent");
    let other = 1 - waiting;
    let (_, reason, _) = ready_at_generation(&api, &format!("w{other}"))
        .await
        .unwrap();
    assert_eq!(reason, "Synced");
    wait_reason(
        &api,
        &format!("w{waiting}"),
        "Synced",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(sets(), 2);
}
