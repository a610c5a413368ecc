//! Step 4/9, continued (table section 3): the call accounting of the convergence phase. Cognito
//! calls are counted at the emulator (its per-call records, filtered to the phase's pools, reset
//! before the phase), status writes at the API server (MODIFIED watch events of the phase's
//! objects), at convergence and over `PERIODS` resync periods after it.
//!
//! Gets per resource per resync are counted exactly: resource i's k-th resync Get happens at
//! r_i + d_1 + ... + d_k, where r_i is when its converging pass ended (observed as its Ready
//! status event) and every d is the resync interval R jittered by ±10%, so the k-th Get lies in
//! [r_i + 0.9kR, r_i + 1.1kR]. The window (r_i, r_i + W] with W = (1.1k + 0.9(k+1))R/2 therefore
//! holds exactly k Gets of a correct operator (k = 2: W = 2.45R, 0.25R of margin on both sides
//! for processing delays, 0.75 s at the smoke mode's R = 3 s); any extra or missing Get is the
//! operator's.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::convergence::{Convergence, Fleet, Running};
use crate::environment::emulator::{CallRecord, calls_for, count};
use crate::environment::{blocking, unix_now};
use crate::options::Opts;
use test_kit::Env;
use test_kit::procfs::{CpuDelta, cpu_snapshot, vm_kib};

/// Resync periods counted after convergence (the window formula holds for k <= 4).
pub const PERIODS: u32 = 2;

/// A resource whose window held other than `PERIODS` Gets.
pub struct OffGets {
    pub name: String,
    pub pool: String,
    pub gets: usize,
}

pub struct Accounting {
    pub resources: usize,
    pub resync: Duration,
    /// W: the window after each resource's Ready that holds exactly `PERIODS` resync Gets.
    pub window_seconds: f64,
    /// The emulator's records of the phase's pools, convergence and steady state.
    pub emulator_sets: usize,
    pub emulator_gets: usize,
    /// The operator's own `cognito_mfa_cognito_calls_total`, for comparison.
    pub operator_metric_sets: f64,
    pub operator_metric_gets: f64,
    /// Sets up to each resource's Ready, summed.
    pub sets_convergence: usize,
    /// Resources with other than one Set up to their Ready.
    pub resources_not_one_set: usize,
    pub gets_before_first_set: usize,
    pub status_writes_convergence: u64,
    /// Sets after each resource's Ready, summed.
    pub sets_steady: usize,
    /// Gets in each resource's window, summed.
    pub gets_in_windows: usize,
    pub resources_off_gets: Vec<OffGets>,
    pub status_writes_steady: u64,
    /// From just after convergence to 1 s after the last resource's window ended.
    pub steady_cpu: CpuDelta,
    /// The operator's VmHWM at the end, KiB.
    pub peak_rss_kib_end: u64,
}

impl Accounting {
    pub fn sets_per_resource(&self) -> f64 {
        self.sets_convergence as f64 / self.resources as f64
    }

    pub fn gets_per_resource_per_resync(&self) -> f64 {
        self.gets_in_windows as f64 / (self.resources as f64 * f64::from(PERIODS))
    }
}

pub async fn run(
    env: &Env,
    o: &Opts,
    convergence: &Convergence,
    fleet: &Fleet,
    running: Running,
) -> Accounting {
    let Running {
        op,
        tracker,
        tracks,
    } = running;
    let pid = op.pid();
    // per resource, the window (ready, ready + W] holds exactly PERIODS resync Gets
    let k = f64::from(PERIODS);
    let w = o.resync.as_secs_f64() * (1.1 * k + 0.9 * (k + 1.0)) / 2.0;
    let last_ready_unix = tracks
        .values()
        .filter_map(|t| t.ready.map(|x| x.1))
        .fold(f64::MIN, f64::max);
    let end_unix = last_ready_unix + w + 1.0;
    eprintln!(
        "bench: converged in {:.2} s; counting calls over {PERIODS} resync periods ({:.0} s)",
        convergence.seconds,
        end_unix - unix_now()
    );
    let steady_cpu0 = cpu_snapshot(Some(pid));
    let wait = (end_unix - unix_now()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    let steady_cpu1 = cpu_snapshot(Some(pid));
    let tracks = tracker.snapshot();
    drop(tracker);
    let pool_set: HashSet<&str> = fleet.pools.iter().map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    let (operator_metric_sets, operator_metric_gets) = blocking(|| {
        (
            op.metric(
                "cognito_mfa_cognito_calls_total",
                "operation=\"SetUserPoolMfaConfig\"",
            ),
            op.metric(
                "cognito_mfa_cognito_calls_total",
                "operation=\"GetUserPoolMfaConfig\"",
            ),
        )
    });
    let peak_rss_kib_end = vm_kib(pid, "VmHWM");
    drop(op);

    let pool_of: HashMap<&str, &str> = fleet
        .names
        .iter()
        .map(String::as_str)
        .zip(fleet.pools.iter().map(String::as_str))
        .collect();
    let mut by_pool: HashMap<&str, Vec<&CallRecord>> = HashMap::new();
    for c in &calls {
        by_pool.entry(c.pool.as_str()).or_default().push(c);
    }
    let (mut sets_convergence, mut gets_before_first_set, mut sets_steady, mut gets_in_windows) =
        (0, 0, 0, 0);
    let (mut status_writes_convergence, mut status_writes_steady) = (0u64, 0u64);
    let mut resources_off_gets = vec![];
    let mut resources_not_one_set = 0usize;
    for name in &fleet.names {
        let pool = pool_of[name.as_str()];
        let track = &tracks[name];
        let ready = track.ready.expect("converged").1;
        let mine = by_pool.get(pool).cloned().unwrap_or_default();
        let first_set = mine
            .iter()
            .filter(|c| c.operation == "SetUserPoolMfaConfig")
            .map(|c| c.time)
            .fold(f64::INFINITY, f64::min);
        let is = |c: &&&CallRecord, op: &str| c.operation == op;
        gets_before_first_set += mine
            .iter()
            .filter(|c| is(c, "GetUserPoolMfaConfig") && c.time < first_set)
            .count();
        let sets = mine
            .iter()
            .filter(|c| is(c, "SetUserPoolMfaConfig") && c.time <= ready)
            .count();
        sets_convergence += sets;
        resources_not_one_set += usize::from(sets != 1);
        sets_steady += mine
            .iter()
            .filter(|c| is(c, "SetUserPoolMfaConfig") && c.time > ready)
            .count();
        let gets = mine
            .iter()
            .filter(|c| is(c, "GetUserPoolMfaConfig") && c.time > ready && c.time <= ready + w)
            .count();
        gets_in_windows += gets;
        if gets != PERIODS as usize {
            resources_off_gets.push(OffGets {
                name: name.clone(),
                pool: pool.to_owned(),
                gets,
            });
        }
        status_writes_convergence += u64::from(track.modified_before_ready);
        status_writes_steady += u64::from(track.modified_after_ready);
    }
    Accounting {
        resources: o.n,
        resync: o.resync,
        window_seconds: w,
        emulator_sets: count(&calls, "SetUserPoolMfaConfig"),
        emulator_gets: count(&calls, "GetUserPoolMfaConfig"),
        operator_metric_sets,
        operator_metric_gets,
        sets_convergence,
        resources_not_one_set,
        gets_before_first_set,
        status_writes_convergence,
        sets_steady,
        gets_in_windows,
        resources_off_gets,
        status_writes_steady,
        steady_cpu: CpuDelta::between(&steady_cpu0, &steady_cpu1),
        peak_rss_kib_end,
    }
}
