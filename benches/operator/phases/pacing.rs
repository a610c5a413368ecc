//! Step 6/9 (table section 6): pacing under the emulator's quota Q (`--quota`) with the
//! operator's limiter at the same rate and burst 1, `--pacing-n` resources created at once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::Api;

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::environment::emulator::{Quota, calls_for, count, create_pools, reset_calls};
use crate::environment::operator;
use crate::environment::resources::{create_all, names};
use crate::options::Opts;
use test_kit::Env;
use test_kit::watch::Tracker;

pub struct Pacing {
    pub namespace: String,
    pub resources: usize,
    pub quota_rps: f64,
    /// First create sent -> last resource Ready.
    pub seconds: f64,
    /// The goal: 1.1 x N/Q.
    pub bound_seconds: f64,
    /// Emulator calls answered TooManyRequestsException.
    pub too_many_requests: usize,
    pub sets: usize,
    pub gets: usize,
}

pub async fn run(env: &Env, client: &Client, o: &Opts) -> Pacing {
    let q = o.quota;
    eprintln!(
        "bench: [6/9] pacing: {} resources, quota and limiter {q} rps",
        o.pacing_n
    );
    let ns = env.namespace("bench-pacing");
    let pools = create_pools(env, o.pacing_n);
    let names = names("pacing", o.pacing_n);
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let quota = Quota::set(env, q);
    let limiter = vec![
        ("COGNITO_WRITE_RPS", q.to_string()),
        ("COGNITO_READ_RPS", q.to_string()),
        ("COGNITO_BURST", "1".to_owned()),
    ];
    let op = operator::start(o, &ns, o.idle_resync, &limiter);
    let tracker = Tracker::start(api.clone()).await;
    reset_calls(env);
    let t0 = Instant::now();
    create_all(&api, &ns, &names, &pools, o.create_concurrency).await;
    let bound = 1.1 * o.pacing_n as f64 / q;
    let timeout = Duration::from_secs_f64((bound * 10.0).max(120.0));
    tracker.wait_ready(o.pacing_n, timeout, "pacing").await;
    let last_ready = tracker
        .snapshot()
        .values()
        .filter_map(|t| t.ready.map(|x| x.0))
        .max()
        .unwrap();
    let seconds = last_ready.duration_since(t0).as_secs_f64();
    drop(tracker);
    drop(op);
    let pool_set: HashSet<&str> = pools.iter().map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    drop(quota);
    Pacing {
        namespace: ns,
        resources: o.pacing_n,
        quota_rps: q,
        seconds,
        bound_seconds: bound,
        too_many_requests: calls
            .iter()
            .filter(|c| c.error.as_deref() == Some("TooManyRequestsException"))
            .count(),
        sets: count(&calls, "SetUserPoolMfaConfig"),
        gets: count(&calls, "GetUserPoolMfaConfig"),
    }
}
