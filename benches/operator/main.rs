//! Benchmark of the operator on the local environment (`tests/env/up`: a real Kubernetes API
//! server and the Cognito emulator), one command: `scripts/bench` (or `cargo bench --bench
//! operator -- [OPTIONS]`). Every figure comes from the same run; the human table goes to stdout
//! and the JSON report to `target/bench/report.json` (`--out PATH`).
//!
//! Phases (`phases/`), in the order they run, each with its own operator process (the release
//! binary under `cargo bench`), namespace and pre-created pools (the table groups the figures by
//! goal instead: 1 ceilings, 2 convergence, 3 call accounting, 4 latency, 5 footprint, 6 pacing):
//! - `sdk_ceiling`: raw SDK Set and Get throughput against the same emulator, sequential and
//!   `--ceiling-concurrency` in flight, `--ceiling-calls` calls each; `apiserver_ceiling` (1b):
//!   what the API server allows per resource without the operator (create, status apply, event);
//! - `latency`: single create -> Ready at its generation, sequential, on an idle operator;
//! - `startup`: process start -> first reconcile with one resource present before the start;
//! - `convergence`: `--n` resources created at once, client-side limiter off, resync
//!   `--resync`; then `accounting`: the calls over two resync periods after convergence;
//! - `idle`: a fresh operator (resync `--idle-resync`) over the same N resources: its start-up
//!   pass, then `--idle-seconds` of idle CPU and its RSS;
//! - `pacing`: emulator quota Q (`--quota`), limiter Q with burst 1, `--pacing-n` resources.
//!
//! `report.rs` turns the measurements into the table with its goals and the JSON report;
//! `procfs.rs` samples CPU and memory from /proc; `environment/` drives the emulator, the
//! operator processes and a watch on the resources; `options.rs` is the command line.
//!
//! Under `cargo test --bench operator` (no `--bench` argument from cargo) a small smoke version
//! runs instead (or with `--smoke`): it checks that every phase works and asserts the call
//! accounting exactly, but no timings; it exits non-zero when an assertion fails.

#[path = "../../tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../tests/e2e/harness.rs"]
mod harness;

mod environment;
mod options;
mod phases;
mod procfs;
mod report;
mod stats;

use std::time::{Duration, Instant};

use harness::{Env, env};
use options::Opts;
use procfs::Machine;
use report::{Measurements, Report, Run};

/// Runs the phases in their order; later phases build on earlier figures (the ceilings) and
/// resources (the converged ones).
async fn measure(env: &'static Env, o: &Opts) -> Measurements {
    let client = env.client().await;
    let sdk_ceiling = phases::sdk_ceiling::run(env, o).await;
    let apiserver_ceiling = phases::apiserver_ceiling::run(env, &client, o).await;
    let latency = phases::latency::run(env, &client, o).await;
    let startup = phases::startup::run(env, &client, o).await;
    let (convergence, fleet, running) = phases::convergence::run(
        env,
        &client,
        o,
        sdk_ceiling.set_concurrent(),
        apiserver_ceiling.bound(),
    )
    .await;
    let accounting = phases::accounting::run(env, o, &convergence, &fleet, running).await;
    let idle = phases::idle::run(env, &client, o, &fleet).await;
    let pacing = phases::pacing::run(env, &client, o).await;
    Measurements {
        sdk_ceiling,
        apiserver_ceiling,
        latency,
        startup,
        convergence,
        accounting,
        idle,
        pacing,
    }
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
        eprintln!("bench: call accounting assertions failed:");
        for f in &report.failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
}
