//! Step 8/9 (table section 8): resyncs of more pools than the read budget allows.
//! `--saturated-n` resources are converged first (an operator with its limiter off, which it
//! needs for nothing else), then an operator with `RESYNC_INTERVAL=--saturated-resync`,
//! `COGNITO_READ_RPS=--saturated-read-rps` and `COGNITO_BURST=--saturated-burst` (writes at the
//! operator's default budget) starts over them: its start-up pass wants every pool read at
//! once, and every resync after it N per interval, far more than the budget. Over
//! `--saturated-window` from the process's spawn: the Gets per second at the emulator
//! (1-second buckets from the spawn), the period `cognito_mfa_resync_period_seconds` reports
//! against N / (0.9 x budget), the resources that left Ready=True (the watch sees every
//! status), the passes that stepped aside (`cognito_mfa_rate_limiter_deferrals_total`), and
//! create -> Ready of `--saturated-new` resources created one at a time, evenly over the
//! window.
//!
//! (A converging operator of its own would not saturate the window: each resource joins its
//! budget's count at its first pass, so almost every one is first due for a resync one full
//! stretched period, N / (0.9 x budget), after it became Ready: 444 s at the defaults.)

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, PostParams};

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::environment::emulator::{calls_for, create_pools, reset_calls};
use crate::environment::resources::{create_all, names, spec};
use crate::environment::{blocking, operator, unix_now};
use crate::options::Opts;
use crate::stats::Samples;
use test_kit::procfs::{CpuDelta, cpu_snapshot};
use test_kit::watch::Tracker;
use test_kit::{Env, resource};

/// The share of the read budget routine resync reads plan for (the README's 90%).
pub const ROUTINE_SHARE: f64 = 0.9;

/// Longest wait for one new resource to be Ready before it counts as not Ready.
const NEW_READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Saturated {
    pub namespace: String,
    pub resources: usize,
    pub resync: Duration,
    pub read_rps: f64,
    pub burst: u32,
    /// First create sent -> all N Ready (the first operator, limiter off).
    pub converge_seconds: f64,
    /// The window as measured: the second operator's start -> the end.
    pub window_seconds: f64,
    /// Gets of the phase's pools at the emulator in each whole second of the window.
    pub gets_per_second: Vec<usize>,
    /// Sets in the window (the new resources', one each).
    pub sets: usize,
    /// Answers other than success in the window, by error code.
    pub errors: usize,
    /// `cognito_mfa_resync_period_seconds` before the first new resource, and at the end.
    pub period_metric: f64,
    pub period_metric_end: f64,
    /// Resources that left Ready=True during the window, and their names (at most 20).
    pub left_ready: usize,
    pub left_ready_names: Vec<String>,
    /// `cognito_mfa_rate_limiter_deferrals_total` of the namespace over the window.
    pub deferrals: f64,
    /// Create -> Ready of the new resources that were Ready within 30 s, ms; and how many
    /// were not.
    pub new_ready_ms: Samples,
    pub new_created: usize,
    pub new_not_ready: usize,
    pub cpu: CpuDelta,
}

impl Saturated {
    /// The budget's limit on the Gets of one second: the rate plus the burst.
    pub fn gets_bound(&self) -> f64 {
        self.read_rps + f64::from(self.burst)
    }

    pub fn gets_max(&self) -> usize {
        self.gets_per_second.iter().copied().max().unwrap_or(0)
    }

    pub fn gets_mean(&self) -> f64 {
        self.gets_per_second.iter().sum::<usize>() as f64 / self.gets_per_second.len().max(1) as f64
    }

    /// N / (0.9 x budget), or the configured interval when that is longer.
    pub fn expected_period(&self, resources: usize) -> f64 {
        (resources as f64 / (ROUTINE_SHARE * self.read_rps)).max(self.resync.as_secs_f64())
    }
}

pub async fn run(env: &Env, client: &Client, o: &Opts) -> Saturated {
    let (n, new) = (o.saturated_n, o.saturated_new);
    let rps = o.saturated_read_rps;
    eprintln!(
        "bench: [8/9] saturated resync: {n} resources, resync {:?}, read budget {rps}/s, {:?} window, {new} new resources",
        o.saturated_resync, o.saturated_window
    );
    let ns = env.namespace("bench-saturated");
    let pools = create_pools(env, n + new);
    let (pools, new_pools) = pools.split_at(n);
    let (names, new_names) = (names("sat", n), names("sat-new", new));
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let tracker = Tracker::start(api.clone()).await;

    // Converged first, at the API server's pace.
    let converging = operator::start(o, &ns, o.idle_resync, &operator::limiter_off());
    let t0 = Instant::now();
    create_all(&api, &ns, &names, pools, o.create_concurrency).await;
    let timeout = Duration::from_secs(120).max(Duration::from_millis(200) * n as u32);
    tracker
        .wait_ready(n, timeout, "saturated: convergence")
        .await;
    let converge_seconds = t0.elapsed().as_secs_f64();
    drop(converging);
    reset_calls(env);

    let budget = vec![
        ("COGNITO_READ_RPS", rps.to_string()),
        ("COGNITO_BURST", o.saturated_burst.to_string()),
    ];
    // The window opens as the operator starts: its first reads count.
    let (start, start_unix) = (Instant::now(), unix_now());
    let op = operator::start(o, &ns, o.saturated_resync, &budget);
    let cpu0 = cpu_snapshot(Some(op.pid()));
    let deferrals = || {
        blocking(|| {
            op.metric(
                "cognito_mfa_rate_limiter_deferrals_total",
                &format!("namespace=\"{ns}\""),
            )
        })
    };
    let period = || {
        blocking(|| {
            op.metric(
                "cognito_mfa_resync_period_seconds",
                r#"account="operator",region="us-east-1""#,
            )
        })
    };
    let deferrals0 = deferrals();
    let window = o.saturated_window;
    let mut period_metric = f64::NAN;
    let mut new_ready_ms = vec![];
    let mut new_not_ready = 0;
    for (k, (name, pool)) in new_names.iter().zip(new_pools).enumerate() {
        let at = window.mul_f64((k as f64 + 0.5) / new as f64);
        tokio::time::sleep(at.saturating_sub(start.elapsed())).await;
        if k == 0 {
            period_metric = period();
        }
        let created = Instant::now();
        api.create(&PostParams::default(), &resource(&ns, name, spec(pool)))
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        loop {
            if let Some((ready, _)) = tracker.track(name).and_then(|t| t.ready) {
                new_ready_ms.push(ready.duration_since(created).as_secs_f64() * 1000.0);
                break;
            }
            if created.elapsed() > NEW_READY_TIMEOUT {
                eprintln!("bench: saturated: {name} not Ready after {NEW_READY_TIMEOUT:?}");
                new_not_ready += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    tokio::time::sleep(window.saturating_sub(start.elapsed())).await;
    let (window_seconds, end_unix) = (start.elapsed().as_secs_f64(), unix_now());
    let cpu1 = cpu_snapshot(Some(op.pid()));
    let deferrals = deferrals() - deferrals0;
    let period_metric_end = period();
    let tracks = tracker.snapshot();
    drop(tracker);
    drop(op);

    let in_window = |t: f64| t >= start_unix && t <= end_unix;
    let mut left: Vec<String> = tracks
        .iter()
        .filter(|(_, t)| t.left_ready.iter().any(|&at| in_window(at)))
        .map(|(name, _)| name.clone())
        .collect();
    left.sort();
    let pool_set: HashSet<&str> = pools.iter().chain(new_pools).map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    let mut gets_per_second = vec![0; window_seconds.floor() as usize];
    for c in &calls {
        if c.operation == "GetUserPoolMfaConfig"
            && c.time >= start_unix
            && let Some(bucket) = gets_per_second.get_mut((c.time - start_unix) as usize)
        {
            *bucket += 1;
        }
    }
    Saturated {
        namespace: ns,
        resources: n,
        resync: o.saturated_resync,
        read_rps: rps,
        burst: o.saturated_burst,
        converge_seconds,
        window_seconds,
        gets_per_second,
        sets: calls
            .iter()
            .filter(|c| c.operation == "SetUserPoolMfaConfig" && in_window(c.time))
            .count(),
        errors: calls
            .iter()
            .filter(|c| c.error.is_some() && in_window(c.time))
            .count(),
        period_metric,
        period_metric_end,
        left_ready: left.len(),
        left_ready_names: left.into_iter().take(20).collect(),
        deferrals,
        new_ready_ms: Samples::new(new_ready_ms),
        new_created: new,
        new_not_ready,
        cpu: CpuDelta::between(&cpu0, &cpu1),
    }
}
