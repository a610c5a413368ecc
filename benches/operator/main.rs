//! Benchmark of the operator on the local environment (`tests/env/up`: a real Kubernetes API
//! server and the Cognito emulator), one command: `scripts/bench` (or `cargo bench --bench
//! operator -- [OPTIONS]`). Every figure comes from the same run; the human table goes to stdout
//! and the JSON report to `target/bench/report.json` (`--out PATH`).
//!
//! Phases (`phases/`), in the order they run, each with its own operator process (the release
//! binary under `cargo bench`), namespace and pre-created pools (the table groups the figures by
//! goal instead: 1 ceilings, 2 convergence, 3 call accounting, 4 latency, 5 footprint, 6 pacing,
//! 7 fairness, 8 saturated resync, 9 scale); `--phases` runs a selection (with what it builds
//! on):
//! - `sdk_ceiling`: raw SDK Set and Get throughput against the same emulator, sequential and
//!   `--ceiling-concurrency` in flight, `--ceiling-calls` calls each; `apiserver_ceiling` (1b):
//!   what the API server allows per resource without the operator (create, status apply, event);
//! - `latency`: single create -> Ready at its generation, sequential, on an idle operator;
//! - `startup`: process start -> first reconcile with one resource present before the start;
//! - `convergence`: `--n` resources created at once, client-side limiter off, resync
//!   `--resync`; then `accounting`: the calls over two resync periods after convergence;
//! - `idle`: a fresh operator (resync `--idle-resync`) over the same N resources: its start-up
//!   pass, then `--idle-seconds` of idle CPU and its RSS; after it, `--ratio-pairs` - 1 more
//!   pairs of the API server's bound and a convergence of N, since the convergence goal is
//!   judged on the median ratio of the pairs (the API server's speed varies during a run);
//! - `pacing`: emulator quota Q (`--quota`), limiter Q with burst 1, `--pacing-n` resources;
//! - `fairness`: a busy namespace creates `--fairness-big` resources, then a quiet one
//!   `--fairness-small`, under one write budget (`--fairness-write-rps`): the quiet one's
//!   create -> Ready and the busy one's backlog when it was done;
//! - `saturated`: `--saturated-n` converged resources under an operator whose read budget
//!   (`--saturated-read-rps`) is far below their resyncs (`--saturated-resync`): the Gets per
//!   second, the stretched period, resources leaving Ready and deferrals over
//!   `--saturated-window`, and create -> Ready of `--saturated-new` resources meanwhile;
//! - `scale`: convergence and idle again at `--scale-n` resources (10,000): time and rate
//!   against the API server's bound, CPU per 1,000 resources beside the convergence phase's,
//!   peak RSS, and idle CPU with them all; then its more pairs as after `idle`.
//!
//! `report.rs` turns the measurements into the table with its goals and the JSON report;
//! `environment/` drives the emulator, the operator processes and the resources; `options.rs`
//! is the command line. The environment, the watch tracker and the /proc sampler come from the
//! test kit (`tests/kit`).
//!
//! Under `cargo test --bench operator` (no `--bench` argument from cargo) a small smoke version
//! runs instead (or with `--smoke`): it checks that every phase works and asserts the call
//! accounting exactly, that the saturated read budget holds (no resource leaves Ready, no
//! second above the budget plus its burst, every new resource Ready) and that the quiet
//! namespace finishes before the busy one, but no timings; it exits non-zero when an assertion
//! fails.

mod environment;
mod options;
mod phases;
mod report;
mod stats;

use std::time::{Duration, Instant};

use options::{Opts, Phase};
use report::{Measurements, Report, Run};
use test_kit::procfs::Machine;
use test_kit::{Env, env};

/// Runs the selected phases (`--phases`, all by default) in their order; later phases build on
/// earlier figures (the ceilings) and resources (the converged ones).
async fn measure(env: &'static Env, o: &Opts) -> Measurements {
    let client = env.client().await;
    let runs = |p: Phase| o.phases.contains(&p);
    let mut m = Measurements::default();
    if runs(Phase::Ceilings) {
        m.sdk_ceiling = Some(phases::sdk_ceiling::run(env, o).await);
        // As many objects as the convergence converges, as in the scale phase: the API
        // server's cost per write changes with how much it stores.
        m.apiserver_ceiling = Some(phases::apiserver_ceiling::run(env, &client, o, o.n).await);
    }
    if runs(Phase::Latency) {
        m.latency = Some(phases::latency::run(env, &client, o).await);
    }
    if runs(Phase::Startup) {
        m.startup = Some(phases::startup::run(env, &client, o).await);
    }
    let (set_ceiling, apiserver_bound) = (
        m.sdk_ceiling
            .as_ref()
            .map_or(f64::NAN, |c| c.set_concurrent()),
        m.apiserver_ceiling.as_ref().map_or(f64::NAN, |c| c.bound()),
    );
    if runs(Phase::Convergence) {
        let (convergence, fleet, running) =
            phases::convergence::run(env, &client, o, set_ceiling, apiserver_bound).await;
        m.accounting = Some(phases::accounting::run(env, o, &convergence, &fleet, running).await);
        m.convergence = Some(convergence);
        if runs(Phase::Idle) {
            m.idle = Some(phases::idle::run(env, &client, o, &fleet).await);
        }
        let prefix = phases::convergence::NAMESPACE_PREFIX;
        m.convergence_more_pairs =
            phases::convergence::more_pairs(env, &client, o, fleet, o.resync, prefix, set_ceiling)
                .await;
    }
    if runs(Phase::Pacing) {
        m.pacing = Some(phases::pacing::run(env, &client, o).await);
    }
    if runs(Phase::Fairness) {
        m.fairness = Some(phases::fairness::run(env, &client, o).await);
    }
    if runs(Phase::Saturated) {
        m.saturated = Some(phases::saturated::run(env, &client, o).await);
    }
    if runs(Phase::Scale) {
        m.scale = Some(phases::scale::run(env, &client, o, set_ceiling).await);
    }
    m
}

fn main() {
    let o = options::parse();
    let mode = if o.smoke { "smoke" } else { "full" };
    eprintln!("bench: {mode} mode: {o:?}");
    let started_at = jiff::Timestamp::now();
    let wall = Instant::now();
    let env = env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let m = runtime.block_on(measure(env, &o));
    runtime.shutdown_timeout(Duration::from_secs(5));

    let report = Report::judge(&o, &m);
    let machine = Machine::read();
    println!(
        "cognito-mfa-operator benchmark ({mode}), {} cores, {}",
        machine.cores, machine.cpu_model
    );
    report.print_table();
    let run = Run {
        mode,
        started_at,
        wall_seconds: wall.elapsed().as_secs_f64(),
        machine: &machine,
    };
    let json = report.to_json(&run, &o, &m);
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir).expect("create the report's directory");
    }
    std::fs::write(&o.out, serde_json::to_string_pretty(&json).unwrap() + "\n")
        .expect("write the JSON report");
    println!("JSON report: {}", o.out.display());
    if !report.failures.is_empty() {
        eprintln!("bench: smoke assertions failed:");
        for f in &report.failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
}
