//! Benchmark of the operator on the local environment (`tests/env/up`: a real Kubernetes API
//! server and the Cognito emulator), one command: `scripts/bench` (or `cargo bench --bench
//! operator -- [OPTIONS]`). Every figure comes from the same run; the human table goes to stdout
//! and the JSON report to `target/bench/report.json` (`--out PATH`).
//!
//! Phases, in the order they run, each with its own operator process (the release binary under
//! `cargo bench`), namespace and pre-created pools (the table groups the figures by goal instead:
//! 1 ceilings, 2 convergence, 3 call accounting, 4 latency, 5 footprint, 6 pacing):
//! - ceilings: raw SDK Set and Get throughput against the same emulator, sequential and
//!   `--ceiling-concurrency` in flight, `--ceiling-calls` calls each; and (1b) what the API
//!   server allows per resource without the operator (create, status apply, event);
//! - latency: single create -> Ready at its generation, sequential, on an idle operator;
//! - start-up: process start -> first reconcile (`cognito_mfa_reconciles_total` > 0 on
//!   `/metrics`, polled every 5 ms) with one resource present before the start;
//! - convergence: `--n` resources created at once, client-side limiter off
//!   (`COGNITO_READ_RPS=0 COGNITO_WRITE_RPS=0`), resync `--resync`; then the call accounting
//!   over two resync periods after convergence;
//! - idle: a fresh operator (resync `--idle-resync`) over the same N resources: its start-up
//!   pass, then `--idle-seconds` of idle CPU and its RSS;
//! - pacing: emulator quota Q (`--quota`), limiter Q with burst 1, `--pacing-n` resources.
//!
//! Call accounting is counted at the emulator (its per-call records, filtered to the phase's
//! pools, reset before each phase) and at the API server (MODIFIED watch events on the phase's
//! objects from a watch held during the phase).
//!
//! Gets per resource per resync are counted exactly: resource i's k-th resync Get happens at
//! r_i + d_1 + ... + d_k, where r_i is when its converging pass ended (observed as its Ready
//! status event) and every d is the resync interval R jittered by ±10%, so the k-th Get lies in
//! [r_i + 0.9kR, r_i + 1.1kR]. The window (r_i, r_i + W] with W = (1.1k + 0.9(k+1))R/2 therefore
//! holds exactly k Gets of a correct operator (k = 2: W = 2.45R, 0.25R of margin on both sides
//! for processing delays, 0.75 s at the smoke mode's R = 3 s); any extra or missing Get is the
//! operator's.
//!
//! Under `cargo test --bench operator` (no `--bench` argument from cargo) a small smoke version
//! runs instead (or with `--smoke`): it checks that every phase works and asserts the call
//! accounting exactly, but no timings; it exits non-zero when an assertion fails.

#[path = "../../tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../tests/e2e/harness.rs"]
mod harness;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use cognito_mfa_operator::api::{MfaSettings, UserPoolMfaConfig};
use cognito_mfa_operator::cognito::{Caller, Cognito};
use cognito_mfa_operator::controller::MANAGER;
use futures::{StreamExt, stream};
use harness::{Env, Operator, OperatorOptions, env, resource};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const USAGE: &str = "\
cargo bench --bench operator -- [OPTIONS]     (full benchmark; scripts/bench does this)
cargo test  --bench operator -- [OPTIONS]     (smoke version: small, asserts the call accounting)

  --n N                    resources of the convergence phase (1000; smoke 20)
  --pacing-n N             resources of the pacing phase (300; smoke 30)
  --quota Q                emulator quota and operator limiter of the pacing phase, rps (15)
  --latency-samples N      single create -> Ready samples (50; smoke 10)
  --startup-samples N      process start -> first reconcile samples (5; smoke 2)
  --idle-seconds S         idle CPU window (60; smoke 5)
  --resync D               RESYNC_INTERVAL of the convergence phase (20s; smoke 3s)
  --idle-resync D          RESYNC_INTERVAL of the idle operator (10m, the operator's default)
  --ceiling-calls N        calls per ceiling measurement (500; smoke 100)
  --ceiling-concurrency N  calls in flight for the concurrent ceiling (16)
  --create-concurrency N   resource creates in flight when applying N at once (64)
  --operator-env KEY=VALUE extra environment of every operator process (repeatable; experiments)
  --out PATH               JSON report (target/bench/report.json; smoke target/bench/smoke-report.json)
  --smoke                  run the smoke version even under cargo bench
";

/// The operators' log filter: warnings only (per-resource logs of 1000 resources would flood
/// the terminal and cost CPU), without kube's per-connection "Server cert bypassed" warning of
/// the local environment's self-signed API server.
const LOG_LEVEL: &str = "warn,kube_client::client::tls=error";

/// Resync periods counted after convergence (the window formula holds for k <= 4).
const PERIODS: u32 = 2;

// ---------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Opts {
    smoke: bool,
    n: usize,
    pacing_n: usize,
    quota: f64,
    latency_samples: usize,
    startup_samples: usize,
    idle: Duration,
    resync: Duration,
    idle_resync: Duration,
    ceiling_calls: usize,
    ceiling_concurrency: usize,
    create_concurrency: usize,
    /// Extra environment of every operator process (experiments: MALLOC_ARENA_MAX, ...).
    operator_env: Vec<(String, String)>,
    out: PathBuf,
}

fn parse_args() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--smoke");
    let mut o = Opts {
        smoke,
        n: if smoke { 20 } else { 1000 },
        pacing_n: if smoke { 30 } else { 300 },
        quota: 15.0,
        latency_samples: if smoke { 10 } else { 50 },
        startup_samples: if smoke { 2 } else { 5 },
        idle: Duration::from_secs(if smoke { 5 } else { 60 }),
        resync: Duration::from_secs(if smoke { 3 } else { 20 }),
        idle_resync: Duration::from_secs(600),
        ceiling_calls: if smoke { 100 } else { 500 },
        ceiling_concurrency: 16,
        create_concurrency: 64,
        operator_env: vec![],
        out: support::repo().join(if smoke {
            "target/bench/smoke-report.json"
        } else {
            "target/bench/report.json"
        }),
    };
    fn fail(msg: String) -> ! {
        eprintln!("bench: {msg}\n\n{USAGE}");
        std::process::exit(2)
    }
    fn num<T: std::str::FromStr>(key: &str, v: &str) -> T {
        v.parse()
            .unwrap_or_else(|_| fail(format!("{key}: not a number: {v:?}")))
    }
    fn dur(key: &str, v: &str) -> Duration {
        humantime::parse_duration(v)
            .unwrap_or_else(|e| fail(format!("{key}: not a duration ({e}): {v:?}")))
    }
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        // libtest's flags (e.g. from `scripts/test --bench operator`): accepted and ignored
        const LIBTEST_FLAGS: &[&str] = &[
            "--nocapture",
            "--no-capture",
            "--quiet",
            "-q",
            "--ignored",
            "--include-ignored",
            "--exact",
            "--show-output",
            "--no-fail-fast",
        ];
        const LIBTEST_OPTIONS: &[&str] = &[
            "--test-threads",
            "--color",
            "--format",
            "--skip",
            "--logfile",
            "-Z",
        ];
        if key == "--list" {
            // nothing to list: a benchmark without libtest's harness
            std::process::exit(0)
        }
        if LIBTEST_FLAGS.contains(&key.as_str()) {
            continue;
        }
        if LIBTEST_OPTIONS.contains(&key.as_str()) {
            if inline.is_none() {
                it.next();
            }
            continue;
        }
        let takes_value = !matches!(key.as_str(), "--bench" | "--smoke" | "--help" | "-h");
        let value = if takes_value && key.starts_with("--") {
            inline.or_else(|| it.next())
        } else {
            None
        };
        let v = || {
            value
                .clone()
                .unwrap_or_else(|| fail(format!("{key} needs a value")))
        };
        match key.as_str() {
            "--bench" | "--smoke" => {}
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0)
            }
            "--n" => o.n = num(&key, &v()),
            "--pacing-n" => o.pacing_n = num(&key, &v()),
            "--quota" => o.quota = num(&key, &v()),
            "--latency-samples" => o.latency_samples = num(&key, &v()),
            "--startup-samples" => o.startup_samples = num(&key, &v()),
            "--idle-seconds" => o.idle = Duration::from_secs_f64(num(&key, &v())),
            "--resync" => o.resync = dur(&key, &v()),
            "--idle-resync" => o.idle_resync = dur(&key, &v()),
            "--ceiling-calls" => o.ceiling_calls = num(&key, &v()),
            "--ceiling-concurrency" => o.ceiling_concurrency = num(&key, &v()),
            "--create-concurrency" => o.create_concurrency = num(&key, &v()),
            "--out" => o.out = PathBuf::from(v()),
            "--operator-env" => {
                let kv = v();
                let (k, val) = kv
                    .split_once('=')
                    .unwrap_or_else(|| fail(format!("--operator-env wants KEY=VALUE, not {kv:?}")));
                o.operator_env.push((k.to_owned(), val.to_owned()));
            }
            other if other.starts_with("--") => fail(format!("unknown option {other}")),
            // cargo may pass a test-name filter: nothing to filter here
            other => eprintln!("bench: ignoring argument {other:?}"),
        }
    }
    let positive = [
        ("--n", o.n),
        ("--pacing-n", o.pacing_n),
        ("--latency-samples", o.latency_samples),
        ("--startup-samples", o.startup_samples),
        ("--ceiling-calls", o.ceiling_calls),
        ("--ceiling-concurrency", o.ceiling_concurrency),
        ("--create-concurrency", o.create_concurrency),
    ];
    for (key, value) in positive {
        if value == 0 {
            fail(format!("{key} must be positive"));
        }
    }
    if o.quota <= 0.0 || o.resync.is_zero() || o.idle_resync.is_zero() {
        fail("--quota, --resync and --idle-resync must be positive".into());
    }
    o
}

fn humantime_ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

// ---------------------------------------------------------------------------------------------
// the report: figures beside their goals
// ---------------------------------------------------------------------------------------------

struct Row {
    section: &'static str,
    figure: String,
    value: f64,
    shown: String,
    goal: String,
    met: Option<bool>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    json: serde_json::Map<String, Value>,
    /// Smoke-mode assertions that failed.
    failures: Vec<String>,
}

impl Report {
    fn info(
        &mut self,
        section: &'static str,
        figure: impl Into<String>,
        value: f64,
        shown: String,
    ) {
        self.rows.push(Row {
            section,
            figure: figure.into(),
            value,
            shown,
            goal: String::new(),
            met: None,
        });
    }

    fn goal(
        &mut self,
        section: &'static str,
        figure: impl Into<String>,
        value: f64,
        shown: String,
        goal: impl Into<String>,
        met: bool,
    ) {
        self.rows.push(Row {
            section,
            figure: figure.into(),
            value,
            shown,
            goal: goal.into(),
            met: Some(met),
        });
    }

    /// An exact call-accounting check: a goal always, an assertion in smoke mode.
    fn exact(
        &mut self,
        smoke: bool,
        section: &'static str,
        figure: &str,
        value: f64,
        want: f64,
        detail: String,
    ) {
        let met = value == want;
        self.goal(
            section,
            figure,
            value,
            format!("{value:.3}{detail}"),
            format!("= {want}"),
            met,
        );
        if smoke && !met {
            self.failures.push(format!(
                "{figure}: measured {value}{detail}, expected exactly {want}"
            ));
        }
    }

    fn print_table(&self) {
        // phases run in another order than the sections are numbered
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.section);
        let w_fig = self
            .rows
            .iter()
            .map(|r| r.figure.len())
            .max()
            .unwrap_or(10)
            .max(6);
        let w_val = self
            .rows
            .iter()
            .map(|r| r.shown.len())
            .max()
            .unwrap_or(10)
            .max(8);
        let w_goal = self
            .rows
            .iter()
            .map(|r| r.goal.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut section = "";
        println!();
        println!(
            "{:<w_fig$}  {:>w_val$}  {:<w_goal$}  met",
            "figure", "measured", "goal"
        );
        println!("{}", "-".repeat(w_fig + w_val + w_goal + 9));
        for r in rows {
            if r.section != section {
                section = r.section;
                println!("[{section}]");
            }
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            println!(
                "{:<w_fig$}  {:>w_val$}  {:<w_goal$}  {met}",
                r.figure, r.shown, r.goal
            );
        }
        println!();
    }

    fn rows_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|r| {
                    json!({
                        "section": r.section,
                        "figure": r.figure,
                        "value": r.value,
                        "shown": r.shown,
                        "goal": if r.goal.is_empty() { Value::Null } else { r.goal.clone().into() },
                        "met": r.met,
                    })
                })
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU time and memory of processes, the machine
// ---------------------------------------------------------------------------------------------

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Fields of /proc/<pid>/stat after the command name (index 0 is field 3, `state`).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    stat_fields(pid)
        .and_then(|f| Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?))
        .map(|ticks| ticks / clock_ticks())
        .unwrap_or(f64::NAN)
}

/// A `Vm*` line of /proc/<pid>/status, in KiB.
fn vm_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// (busy, total) jiffies of all CPUs, from /proc/stat.
fn machine_jiffies() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The processes of the local environment (children of our `tests/env/up`), by role.
fn env_processes() -> Vec<(&'static str, u32)> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let me = std::process::id();
    let Some(up) = children
        .get(&me)
        .into_iter()
        .flatten()
        .copied()
        .find(|p| cmdline(*p).contains("tests/env/up"))
    else {
        return vec![];
    };
    let mut out = vec![];
    let mut todo = vec![up];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            let cmd = cmdline(c);
            let role = if cmd.contains("cognito_emulator.py") || cmd.contains("moto_server") {
                Some("emulator")
            } else if cmd.contains("apiextensions-apiserver") {
                Some("apiserver")
            } else if cmd
                .split_whitespace()
                .next()
                .is_some_and(|b| b.ends_with("/etcd"))
            {
                Some("etcd")
            } else {
                None
            };
            if let Some(role) = role {
                out.push((role, c));
            }
            todo.push(c);
        }
    }
    out
}

/// CPU seconds of the operator, the environment's processes, this process and the machine.
#[derive(Clone)]
struct CpuSnapshot {
    at: Instant,
    per: BTreeMap<String, f64>,
    machine: (f64, f64),
}

fn cpu_snapshot(operator: Option<u32>) -> CpuSnapshot {
    let mut per = BTreeMap::new();
    if let Some(pid) = operator {
        per.insert("operator".to_owned(), cpu_seconds(pid));
    }
    for (role, pid) in env_processes() {
        *per.entry(role.to_owned()).or_insert(0.0) += cpu_seconds(pid);
    }
    per.insert("bench".to_owned(), cpu_seconds(std::process::id()));
    CpuSnapshot {
        at: Instant::now(),
        per,
        machine: machine_jiffies(),
    }
}

/// CPU seconds per process between two snapshots, plus the wall time and machine utilisation.
fn cpu_delta(a: &CpuSnapshot, b: &CpuSnapshot) -> Value {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    let mut per = serde_json::Map::new();
    for (k, v) in &b.per {
        if let Some(before) = a.per.get(k) {
            let secs = v - before;
            per.insert(
                k.clone(),
                json!({"cpu_seconds": round3(secs), "cores": round3(secs / wall)}),
            );
        }
    }
    let busy = b.machine.0 - a.machine.0;
    let total = b.machine.1 - a.machine.1;
    json!({
        "wall_seconds": round3(wall),
        "processes": per,
        "machine_busy_fraction": if total > 0.0 { round3(busy / total) } else { 0.0 },
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim().to_owned())
        })
        .unwrap_or_default();
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory_mib": mem_kib / 1024,
        "kernel": kernel.trim(),
    })
}

// ---------------------------------------------------------------------------------------------
// the environment: emulator pools and call records, operators, watches
// ---------------------------------------------------------------------------------------------

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Creates `n` pools through the emulator's control API (a few threads at once).
fn create_pools(env: &Env, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n)
        .map(|_| format!("us-east-1_{}", support::random_suffix()))
        .collect();
    blocking(|| {
        std::thread::scope(|s| {
            for chunk in ids.chunks(n.div_ceil(8).max(1)) {
                s.spawn(move || {
                    for id in chunk {
                        env.create_pool(id);
                    }
                });
            }
        })
    });
    ids
}

fn reset_calls(env: &Env) {
    let (status, body) = blocking(|| env.emulator("DELETE", "/_emulator/calls", None));
    assert_eq!(status, 200, "reset the emulator's call records: {body}");
}

struct CallRecord {
    operation: String,
    pool: String,
    time: f64,
    error: Option<String>,
}

/// The emulator's call records for these pools.
fn calls_for(env: &Env, pools: &HashSet<&str>) -> Vec<CallRecord> {
    let (status, body) = blocking(|| env.emulator("GET", "/_emulator/calls", None));
    assert_eq!(status, 200, "read the emulator's call records: {body}");
    body["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let pool = c["poolId"].as_str()?;
            pools.contains(pool).then(|| CallRecord {
                operation: c["operation"].as_str().unwrap_or_default().to_owned(),
                pool: pool.to_owned(),
                time: c["time"].as_f64().unwrap_or(0.0),
                error: c["error"].as_str().map(str::to_owned),
            })
        })
        .collect()
}

fn count(calls: &[CallRecord], operation: &str) -> usize {
    calls.iter().filter(|c| c.operation == operation).count()
}

/// Sets the emulator's quota; turns it off again when dropped (also on panic).
struct Quota<'a>(&'a Env);

impl<'a> Quota<'a> {
    fn set(env: &'a Env, rps: f64) -> Self {
        let (status, body) =
            blocking(|| env.emulator("POST", "/_emulator/quota", Some(json!({"rps": rps}))));
        assert_eq!(status, 200, "set the emulator quota: {body}");
        Quota(env)
    }
}

impl Drop for Quota<'_> {
    fn drop(&mut self) {
        // Never panics (a panic while unwinding would abort before the operators are stopped).
        use std::io::{Read, Write};
        let addr = self.0.cognito.url.trim_start_matches("http://").to_owned();
        let body = r#"{"rps": 0}"#;
        let request = format!(
            "POST /_emulator/quota HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
    }
}

fn operator(
    opts: &Opts,
    namespace: &str,
    resync: Duration,
    extra: &[(&'static str, String)],
) -> Operator {
    let op = Operator::start_with(operator_options(opts, namespace, resync, extra));
    blocking(|| op.wait_ready());
    op
}

fn operator_options<'a>(
    opts: &'a Opts,
    namespace: &'a str,
    resync: Duration,
    extra: &[(&'static str, String)],
) -> OperatorOptions<'a> {
    let mut o = OperatorOptions::new(namespace);
    // OperatorOptions borrows its resync text: one leaked string per operator started
    o.resync = Box::leak(humantime_ms(resync).into_boxed_str());
    o.identity = "bench";
    o.extra_env = vec![("LOG_LEVEL", LOG_LEVEL.to_owned())];
    o.extra_env.extend(extra.iter().cloned());
    o.extra_env.extend(
        opts.operator_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone())),
    );
    o
}

/// RSS now, its peak, and the now-split into anonymous and file-backed pages (MiB).
fn rss_json(pid: u32) -> Value {
    json!({
        "VmHWM": round3(mib(vm_kib(pid, "VmHWM"))),
        "VmRSS": round3(mib(vm_kib(pid, "VmRSS"))),
        "RssAnon": round3(mib(vm_kib(pid, "RssAnon"))),
        "RssFile": round3(mib(vm_kib(pid, "RssFile"))),
    })
}

fn limiter_off() -> Vec<(&'static str, String)> {
    vec![
        ("COGNITO_READ_RPS", "0".to_owned()),
        ("COGNITO_WRITE_RPS", "0".to_owned()),
    ]
}

fn spec(pool: &str) -> Value {
    json!({"userPoolId": pool, "mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}})
}

fn desired() -> MfaSettings {
    serde_json::from_value(
        json!({"mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}}),
    )
    .unwrap()
}

/// What a watch saw of one object.
#[derive(Default, Clone, Debug)]
struct Track {
    /// First time it was seen Ready=True at its generation: (instant, unix seconds).
    ready: Option<(Instant, f64)>,
    /// MODIFIED events up to and including the one that made it Ready.
    modified_before_ready: u32,
    /// MODIFIED events after it was Ready.
    modified_after_ready: u32,
}

#[derive(Default)]
struct WatchState {
    tracks: HashMap<String, Track>,
    error: Option<String>,
}

/// A watch on the UserPoolMfaConfig objects of one namespace, held for a phase.
struct Tracker {
    state: Arc<Mutex<WatchState>>,
    task: tokio::task::JoinHandle<()>,
}

fn is_ready(o: &UserPoolMfaConfig) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.observed_generation == o.metadata.generation
            && s.ready().is_some_and(|c| c.status == "True")
    })
}

impl Tracker {
    /// Starts watching from now: objects already present are seen only when they change.
    async fn start(api: Api<UserPoolMfaConfig>) -> Self {
        let list = api
            .list_metadata(&ListParams::default())
            .await
            .expect("list UserPoolMfaConfig");
        let mut rv = list.metadata.resource_version.unwrap_or_else(|| "0".into());
        let state = Arc::new(Mutex::new(WatchState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let wp = WatchParams::default().timeout(290);
                let events = match api.watch(&wp, &rv).await {
                    Ok(events) => events,
                    Err(e) => {
                        eprintln!("bench: watch failed, retrying: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    let (now, unix) = (Instant::now(), unix_now());
                    let (obj, modified) = match event {
                        Ok(WatchEvent::Added(o)) => (o, false),
                        Ok(WatchEvent::Modified(o)) => (o, true),
                        Ok(WatchEvent::Deleted(o)) => {
                            rv = o.resource_version().unwrap_or(rv);
                            continue;
                        }
                        Ok(WatchEvent::Bookmark(b)) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        Ok(WatchEvent::Error(status)) => {
                            // 410 Gone: events were lost, the counts would be wrong.
                            shared.lock().unwrap().error =
                                Some(format!("watch error {}: {}", status.code, status.message));
                            return;
                        }
                        Err(e) => {
                            eprintln!("bench: watch stream ended with an error, resuming: {e}");
                            break;
                        }
                    };
                    rv = obj.resource_version().unwrap_or(rv);
                    let mut state = shared.lock().unwrap();
                    let track = state.tracks.entry(obj.name_any()).or_default();
                    match (track.ready.is_some(), modified) {
                        (true, true) => track.modified_after_ready += 1,
                        (true, false) => {}
                        (false, _) => {
                            track.modified_before_ready += u32::from(modified);
                            if is_ready(&obj) {
                                track.ready = Some((now, unix));
                            }
                        }
                    }
                }
            }
        });
        Self { state, task }
    }

    fn check(&self) {
        if let Some(e) = &self.state.lock().unwrap().error {
            panic!("the bench's watch failed: {e}");
        }
    }

    fn ready_count(&self) -> usize {
        self.check();
        let state = self.state.lock().unwrap();
        state.tracks.values().filter(|t| t.ready.is_some()).count()
    }

    fn track(&self, name: &str) -> Option<Track> {
        self.check();
        self.state.lock().unwrap().tracks.get(name).cloned()
    }

    fn snapshot(&self) -> HashMap<String, Track> {
        self.check();
        self.state.lock().unwrap().tracks.clone()
    }

    /// Waits until `n` objects are Ready; reports progress every 5 s.
    async fn wait_ready(&self, n: usize, timeout: Duration, what: &str) {
        let start = Instant::now();
        let mut last_note = Instant::now();
        loop {
            let ready = self.ready_count();
            if ready >= n {
                return;
            }
            if start.elapsed() > timeout {
                panic!("{what}: only {ready}/{n} resources Ready after {timeout:?}");
            }
            if last_note.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "bench: {what}: {ready}/{n} Ready after {:.0?}",
                    start.elapsed()
                );
                last_note = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Creates `names[i]` for `pools[i]`, `concurrency` at a time.
async fn create_all(
    api: &Api<UserPoolMfaConfig>,
    ns: &str,
    names: &[String],
    pools: &[String],
    concurrency: usize,
) {
    let objs: Vec<UserPoolMfaConfig> = names
        .iter()
        .zip(pools)
        .map(|(name, pool)| resource(ns, name, spec(pool)))
        .collect();
    stream::iter(objs)
        .map(|obj| async move {
            api.create(&PostParams::default(), &obj)
                .await
                .unwrap_or_else(|e| panic!("create {}: {e}", obj.name_any()))
        })
        .buffer_unordered(concurrency)
        .for_each(|_| async {})
        .await;
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:05}")).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // nearest rank
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// phases
// ---------------------------------------------------------------------------------------------

/// 1. Raw SDK throughput against the emulator; returns the concurrent Set rate.
async fn ceiling(env: &Env, o: &Opts, r: &mut Report) -> f64 {
    eprintln!("bench: [1/6] ceiling: raw SDK calls against the emulator");
    let pools = Arc::new(create_pools(env, 64));
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&env.cognito.url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"));
    let cognito = Arc::new(Cognito::from_loader(loader, Duration::from_secs(10)).await);
    // warm-up: connections, credentials, the emulator's first-call paths
    for pool in pools.iter().take(16) {
        cognito
            .set(pool, &Caller::Operator, &desired())
            .await
            .expect("warm-up Set");
        cognito
            .get(pool, &Caller::Operator)
            .await
            .expect("warm-up Get");
    }
    let mut out = serde_json::Map::new();
    let mut set_concurrent = 0.0;
    for op in ["Set", "Get"] {
        for concurrency in [1, o.ceiling_concurrency] {
            let before = cpu_snapshot(None);
            let start = Instant::now();
            let mut latencies: Vec<f64> = stream::iter(0..o.ceiling_calls)
                .map(|i| {
                    let (cognito, pools) = (cognito.clone(), pools.clone());
                    async move {
                        let pool = &pools[i % pools.len()];
                        let t = Instant::now();
                        match op {
                            "Set" => cognito
                                .set(pool, &Caller::Operator, &desired())
                                .await
                                .map(drop),
                            _ => cognito.get(pool, &Caller::Operator).await.map(drop),
                        }
                        .unwrap_or_else(|e| panic!("ceiling {op} on {pool}: {e}"));
                        t.elapsed().as_secs_f64() * 1000.0
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let elapsed = start.elapsed().as_secs_f64();
            let cpu = cpu_delta(&before, &cpu_snapshot(None));
            latencies.sort_by(f64::total_cmp);
            let rps = o.ceiling_calls as f64 / elapsed;
            let mode = if concurrency == 1 {
                "sequential".to_owned()
            } else {
                format!("{concurrency} in flight")
            };
            r.info(
                "1. ceilings (raw SDK -> emulator; API server alone)",
                format!("{op} {mode}"),
                rps,
                format!(
                    "{rps:.0} calls/s (p50 {:.1} ms)",
                    percentile(&latencies, 50.0)
                ),
            );
            if op == "Set" && concurrency > 1 {
                set_concurrent = rps;
            }
            out.insert(
                format!(
                    "{}_{}",
                    op.to_lowercase(),
                    if concurrency == 1 {
                        "sequential"
                    } else {
                        "concurrent"
                    }
                ),
                json!({
                    "calls": o.ceiling_calls,
                    "concurrency": concurrency,
                    "seconds": round3(elapsed),
                    "calls_per_second": round3(rps),
                    "latency_ms_p50": round3(percentile(&latencies, 50.0)),
                    "latency_ms_p95": round3(percentile(&latencies, 95.0)),
                    "cpu": cpu,
                }),
            );
        }
    }
    r.json.insert("ceiling".into(), Value::Object(out));
    set_concurrent
}

/// Times `ops` futures run `concurrency` at a time; returns (per second, CPU figures).
async fn timed<F: std::future::Future<Output = ()>>(
    ops: impl Iterator<Item = F>,
    concurrency: usize,
) -> (f64, Value) {
    let before = cpu_snapshot(None);
    let start = Instant::now();
    let mut n = 0usize;
    stream::iter(ops)
        .buffer_unordered(concurrency)
        .for_each(|_| {
            n += 1;
            async {}
        })
        .await;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    (rate, cpu_delta(&before, &cpu_snapshot(None)))
}

/// 1b. What the API server of this environment allows per resource, without the operator:
/// the user's create, then the operator's share (one server-side-apply status write and one
/// event, the writes of a converging pass), each measured alone at full concurrency. Returns
/// the bound 1 / (1/create + 1/status + 1/event) in resources per second.
async fn apiserver_ceiling(env: &Env, client: &Client, o: &Opts, r: &mut Report) -> f64 {
    let k = o.n.min(500);
    eprintln!("bench: [1b/6] API server ceiling: {k} creates, status writes, events");
    let ns = env.namespace("bench-apiserver");
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let names = names("api", k);
    // no operator runs here: the pools need not exist
    let pools: Vec<String> = (0..k)
        .map(|_| format!("us-east-1_{}", support::random_suffix()))
        .collect();
    let status = |pool: &str, note: &str| {
        let now = jiff::Timestamp::now().to_string();
        json!({
            "observedGeneration": 1,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "Synced", "observedGeneration": 1,
                "message": format!("pool {pool} matches the spec (MFA ON: TOTP){note}"),
                "lastTransitionTime": now,
            }],
            "liveConfiguration": {"mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}},
            "lastSyncTime": now,
        })
    };
    let mut rows = serde_json::Map::new();
    let mut rates = vec![];
    let section = "1. ceilings (raw SDK -> emulator; API server alone)";
    let before = cpu_snapshot(None);
    let start = Instant::now();
    create_all(&api, &ns, &names, &pools, o.create_concurrency).await;
    let create = (
        k as f64 / start.elapsed().as_secs_f64(),
        cpu_delta(&before, &cpu_snapshot(None)),
    );
    let ssa = timed(
        names.iter().zip(&pools).map(|(name, pool)| {
            let (api, patch) = (
                api.clone(),
                json!({
                    "apiVersion": "cognitoidp.operators.dev/v1alpha1",
                    "kind": "UserPoolMfaConfig",
                    "status": status(pool, ""),
                }),
            );
            async move {
                api.patch_status(
                    name,
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(&patch),
                )
                .await
                .unwrap_or_else(|e| panic!("status apply {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    let merge = timed(
        names.iter().zip(&pools).map(|(name, pool)| {
            let (api, patch) = (api.clone(), json!({"status": status(pool, " (merge)")}));
            async move {
                api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap_or_else(|e| panic!("status merge patch {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    let event = timed(
        names.iter().map(|name| {
            let event: Event = serde_json::from_value(json!({
                "metadata": {"name": format!("{name}.bench")},
                "eventTime": jiff::Timestamp::now().to_string(),
                "reportingController": MANAGER, "reportingInstance": "bench",
                "action": "Reconcile", "reason": "Synced", "type": "Normal",
                "note": format!("pool of {name} matches the spec (MFA ON: TOTP)"),
                "regarding": {"apiVersion": "cognitoidp.operators.dev/v1alpha1",
                              "kind": "UserPoolMfaConfig", "name": name, "namespace": ns},
            }))
            .unwrap();
            let events = events.clone();
            async move {
                events
                    .create(&PostParams::default(), &event)
                    .await
                    .unwrap_or_else(|e| panic!("event for {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    for (label, key, (rate, cpu), concurrency) in [
        (
            "API server: create (the user's)",
            "create",
            create,
            o.create_concurrency,
        ),
        (
            "API server: status apply (SSA)",
            "status_apply",
            ssa,
            o.ceiling_concurrency,
        ),
        (
            "API server: status merge patch",
            "status_merge_patch",
            merge,
            o.ceiling_concurrency,
        ),
        (
            "API server: event create",
            "event_create",
            event,
            o.ceiling_concurrency,
        ),
    ] {
        let api_ms = cpu["processes"]["apiserver"]["cpu_seconds"]
            .as_f64()
            .unwrap_or(0.0)
            * 1000.0
            / k as f64;
        r.info(
            section,
            format!("{label}, {concurrency} in flight"),
            rate,
            format!("{rate:.0} /s ({api_ms:.2} ms API-server CPU each)"),
        );
        rates.push(rate);
        rows.insert(
            key.into(),
            json!({"objects": k, "concurrency": concurrency, "per_second": round3(rate),
                   "apiserver_cpu_ms_each": round3(api_ms), "cpu": cpu}),
        );
    }
    let bound = 1.0 / (1.0 / rates[0] + 1.0 / rates[1] + 1.0 / rates[3]);
    r.info(
        section,
        "API-server bound: create + status apply + event",
        bound,
        format!("{bound:.0} resources/s"),
    );
    rows.insert("bound_resources_per_second".into(), round3(bound).into());
    r.json
        .insert("apiserver_ceiling".into(), Value::Object(rows));
    bound
}

/// 2. Single create -> Ready on an idle operator.
async fn latency(env: &Env, client: &Client, o: &Opts, r: &mut Report) {
    eprintln!(
        "bench: [2/6] latency: {} sequential creates -> Ready",
        o.latency_samples
    );
    let ns = env.namespace("bench-latency");
    let pools = create_pools(env, o.latency_samples);
    let names = names("latency", o.latency_samples);
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let _op = operator(o, &ns, o.idle_resync, &[]);
    let tracker = Tracker::start(api.clone()).await;
    let mut samples = vec![];
    for (name, pool) in names.iter().zip(&pools) {
        // let the previous pass (its status write and event) finish: an idle operator
        tokio::time::sleep(Duration::from_millis(100)).await;
        let start = Instant::now();
        api.create(&PostParams::default(), &resource(&ns, name, spec(pool)))
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        let ready = loop {
            if let Some((at, _)) = tracker.track(name).and_then(|t| t.ready) {
                break at;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("latency: {name} not Ready after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        samples.push(ready.duration_since(start).as_secs_f64() * 1000.0);
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&sorted, 50.0), percentile(&sorted, 95.0));
    let section = "4. latency (create -> Ready, idle operator)";
    r.goal(
        section,
        format!("p50 over {} samples", samples.len()),
        p50,
        format!("{p50:.1} ms"),
        "<= 250 ms",
        p50 <= 250.0,
    );
    r.info(section, "p95", p95, format!("{p95:.1} ms"));
    r.info(
        section,
        "min / max",
        sorted[0],
        format!("{:.1} / {:.1} ms", sorted[0], sorted[sorted.len() - 1]),
    );
    r.json.insert(
        "latency".into(),
        json!({
            "namespace": ns,
            "samples_ms": samples.iter().map(|x| round3(*x)).collect::<Vec<_>>(),
            "p50_ms": round3(p50),
            "p95_ms": round3(p95),
        }),
    );
}

/// 3. Process start -> first reconcile, one resource present before the start.
async fn startup(env: &Env, client: &Client, o: &Opts, r: &mut Report) {
    eprintln!(
        "bench: [3/6] start-up: {} operator starts -> first reconcile",
        o.startup_samples
    );
    let mut samples = vec![];
    let mut baseline_rss = Value::Null;
    for _ in 0..o.startup_samples {
        let ns = env.namespace("bench-startup");
        let pool = create_pools(env, 1).remove(0);
        let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
        api.create(
            &PostParams::default(),
            &resource(&ns, "startup", spec(&pool)),
        )
        .await
        .expect("create the start-up resource");
        let opts = operator_options(o, &ns, o.idle_resync, &[]);
        let (took, rss) = blocking(|| {
            let start = Instant::now();
            let op = Operator::start_with(opts);
            let took = loop {
                if op.metric("cognito_mfa_reconciles_total", "") > 0.0 {
                    break start.elapsed();
                }
                if start.elapsed() > Duration::from_secs(60) {
                    panic!("start-up: no reconcile within 60 s");
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            // the footprint with one resource, once its pass (status write, event) is done
            std::thread::sleep(Duration::from_millis(500));
            (took, rss_json(op.pid()))
        });
        samples.push(took.as_secs_f64() * 1000.0);
        baseline_rss = rss;
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let p50 = percentile(&sorted, 50.0);
    let max = sorted[sorted.len() - 1];
    let section = "5. footprint";
    r.goal(
        section,
        format!("start -> first reconcile, median of {}", samples.len()),
        p50,
        format!("{p50:.0} ms (max {max:.0} ms)"),
        "<= 1 s",
        p50 <= 1000.0,
    );
    r.info(
        section,
        "operator RSS with 1 resource (after start-up)",
        baseline_rss["VmHWM"].as_f64().unwrap_or(0.0),
        format!(
            "{:.1} MiB (anon {:.1}, file {:.1})",
            baseline_rss["VmHWM"].as_f64().unwrap_or(0.0),
            baseline_rss["RssAnon"].as_f64().unwrap_or(0.0),
            baseline_rss["RssFile"].as_f64().unwrap_or(0.0)
        ),
    );
    r.json.insert(
        "startup".into(),
        json!({
            "operator_rss_mib_one_resource": baseline_rss,
            "samples_ms": samples.iter().map(|x| round3(*x)).collect::<Vec<_>>(),
            "median_ms": round3(p50),
            "max_ms": round3(max),
            "poll_interval_ms": 5,
        }),
    );
}

/// Figures the idle phase needs from the convergence phase.
struct Converged {
    ns: String,
    pools: Vec<String>,
    rss_peak_kib: u64,
}

/// 4. Cold convergence of N resources, then the call accounting over two resync periods.
async fn convergence(
    env: &Env,
    client: &Client,
    o: &Opts,
    set_ceiling: f64,
    apiserver_bound: f64,
    r: &mut Report,
) -> Converged {
    eprintln!(
        "bench: [4/6] convergence: {} resources at once, limiter off, resync {:?}",
        o.n, o.resync
    );
    let ns = env.namespace("bench-converge");
    let pools = create_pools(env, o.n);
    let names = names("conv", o.n);
    let pool_of: HashMap<&str, &str> = names
        .iter()
        .map(String::as_str)
        .zip(pools.iter().map(String::as_str))
        .collect();
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let op = operator(o, &ns, o.resync, &limiter_off());
    let pid = op.pid();
    let tracker = Tracker::start(api.clone()).await;
    reset_calls(env);

    let cpu0 = cpu_snapshot(Some(pid));
    let t0 = Instant::now();
    create_all(&api, &ns, &names, &pools, o.create_concurrency).await;
    let created = t0.elapsed();
    let timeout = Duration::from_secs(120).max(Duration::from_millis(200) * o.n as u32);
    tracker.wait_ready(o.n, timeout, "convergence").await;
    let cpu1 = cpu_snapshot(Some(pid));
    let rss_converged = vm_kib(pid, "VmHWM");
    let rss_converged_json = rss_json(pid);
    let tracks = tracker.snapshot();
    let last_ready = tracks
        .values()
        .filter_map(|t| t.ready.map(|x| x.0))
        .max()
        .unwrap();
    let seconds = last_ready.duration_since(t0).as_secs_f64();
    let rate = o.n as f64 / seconds;
    let ratio = rate / set_ceiling;
    let op_cpu_converge = cpu1.per["operator"] - cpu0.per["operator"];
    let conv_reconciles = blocking(|| op.metric("cognito_mfa_reconciles_total", ""));
    let duration_sum = blocking(|| op.metric("cognito_mfa_reconcile_duration_seconds_sum", ""));

    // steady state: per resource, the window (ready, ready + W] holds exactly PERIODS resync Gets
    let k = f64::from(PERIODS);
    let w = o.resync.as_secs_f64() * (1.1 * k + 0.9 * (k + 1.0)) / 2.0;
    let last_ready_unix = tracks
        .values()
        .filter_map(|t| t.ready.map(|x| x.1))
        .fold(f64::MIN, f64::max);
    let end_unix = last_ready_unix + w + 1.0;
    eprintln!(
        "bench: converged in {seconds:.2} s; counting calls over {PERIODS} resync periods ({:.0} s)",
        end_unix - unix_now()
    );
    let steady_cpu0 = cpu_snapshot(Some(pid));
    let wait = (end_unix - unix_now()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    let steady_cpu1 = cpu_snapshot(Some(pid));
    let tracks = tracker.snapshot();
    drop(tracker);
    let pool_set: HashSet<&str> = pools.iter().map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    let op_calls = blocking(|| {
        json!({
            "SetUserPoolMfaConfig": op.metric("cognito_mfa_cognito_calls_total", "operation=\"SetUserPoolMfaConfig\""),
            "GetUserPoolMfaConfig": op.metric("cognito_mfa_cognito_calls_total", "operation=\"GetUserPoolMfaConfig\""),
        })
    });
    let rss_steady = vm_kib(pid, "VmHWM");
    drop(op);

    let mut by_pool: HashMap<&str, Vec<&CallRecord>> = HashMap::new();
    for c in &calls {
        by_pool.entry(c.pool.as_str()).or_default().push(c);
    }
    let (mut sets_converge, mut gets_before_set, mut sets_steady, mut gets_window) = (0, 0, 0, 0);
    let (mut status_converge, mut status_steady) = (0u64, 0u64);
    let mut off_pools = vec![];
    let mut not_one_set = 0usize;
    for name in &names {
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
        gets_before_set += mine
            .iter()
            .filter(|c| is(c, "GetUserPoolMfaConfig") && c.time < first_set)
            .count();
        let sets = mine
            .iter()
            .filter(|c| is(c, "SetUserPoolMfaConfig") && c.time <= ready)
            .count();
        sets_converge += sets;
        not_one_set += usize::from(sets != 1);
        sets_steady += mine
            .iter()
            .filter(|c| is(c, "SetUserPoolMfaConfig") && c.time > ready)
            .count();
        let gets = mine
            .iter()
            .filter(|c| is(c, "GetUserPoolMfaConfig") && c.time > ready && c.time <= ready + w)
            .count();
        gets_window += gets;
        if gets != PERIODS as usize {
            off_pools.push(json!({"name": name, "pool": pool, "gets": gets}));
        }
        status_converge += u64::from(track.modified_before_ready);
        status_steady += u64::from(track.modified_after_ready);
    }
    let n = o.n as f64;
    let sets_per_resource = sets_converge as f64 / n;
    let gets_per_resync = gets_window as f64 / (n * k);

    let section = "2. cold convergence (limiter off)";
    r.info(
        section,
        format!("{} resources -> all Ready", o.n),
        seconds,
        format!(
            "{seconds:.2} s (creates sent in {:.2} s)",
            created.as_secs_f64()
        ),
    );
    r.info(
        section,
        "resources per second",
        rate,
        format!("{rate:.0} /s"),
    );
    r.goal(
        section,
        "ratio to the concurrent Set ceiling",
        ratio,
        format!("{ratio:.2} ({rate:.0} / {set_ceiling:.0})"),
        ">= 0.8",
        ratio >= 0.8,
    );
    let api_ratio = rate / apiserver_bound;
    r.info(
        section,
        "ratio to the API-server bound (1b)",
        api_ratio,
        format!("{api_ratio:.2} ({rate:.0} / {apiserver_bound:.0})"),
    );
    let section = "3. call accounting";
    r.exact(
        o.smoke,
        section,
        "Sets per resource (convergence)",
        sets_per_resource,
        1.0,
        String::new(),
    );
    // Per resource too: an average of 1 could hide one resource written twice and one never.
    r.exact(
        o.smoke,
        section,
        "resources with other than one Set (convergence)",
        not_one_set as f64,
        0.0,
        String::new(),
    );
    r.exact(
        o.smoke,
        section,
        "resources with other than one Get per resync",
        off_pools.len() as f64,
        0.0,
        String::new(),
    );
    r.exact(
        o.smoke,
        section,
        "Gets before the first Set",
        gets_before_set as f64,
        0.0,
        String::new(),
    );
    r.info(
        section,
        "status writes per resource (convergence)",
        status_converge as f64 / n,
        format!("{:.3}", status_converge as f64 / n),
    );
    let steady = format!(" ({PERIODS} x resync {:?})", o.resync);
    r.exact(
        o.smoke,
        section,
        "Cognito writes at steady state",
        sets_steady as f64,
        0.0,
        steady.clone(),
    );
    r.exact(
        o.smoke,
        section,
        "Gets per resource per resync",
        gets_per_resync,
        1.0,
        if off_pools.is_empty() {
            String::new()
        } else {
            format!(" ({} resources off)", off_pools.len())
        },
    );
    r.exact(
        o.smoke,
        section,
        "status writes at steady state",
        status_steady as f64,
        0.0,
        steady,
    );

    let section = "5. footprint";
    r.goal(
        section,
        format!("operator peak RSS, convergence of {}", o.n),
        mib(rss_converged),
        format!("{:.1} MiB", mib(rss_converged)),
        "<= 30 MiB at N = 1000",
        mib(rss_converged) <= 30.0,
    );
    r.info(
        section,
        "operator CPU, convergence",
        op_cpu_converge,
        format!(
            "{op_cpu_converge:.2} s ({:.2} ms per resource)",
            op_cpu_converge * 1000.0 / n
        ),
    );
    let steady_delta = cpu_delta(&steady_cpu0, &steady_cpu1);
    let steady_cores = steady_delta["processes"]["operator"]["cores"]
        .as_f64()
        .unwrap_or(f64::NAN);
    r.info(
        section,
        format!("operator CPU at steady state, resync {:?}", o.resync),
        steady_cores,
        format!("{:.2} % of a core", steady_cores * 100.0),
    );

    r.json.insert(
        "convergence".into(),
        json!({
            "namespace": ns,
            "resources": o.n,
            "create_concurrency": o.create_concurrency,
            "creates_sent_seconds": round3(created.as_secs_f64()),
            "seconds": round3(seconds),
            "resources_per_second": round3(rate),
            "set_ceiling_concurrent_per_second": round3(set_ceiling),
            "ratio_to_set_ceiling": round3(ratio),
            "apiserver_bound_per_second": round3(apiserver_bound),
            "ratio_to_apiserver_bound": round3(api_ratio),
            "reconciles": conv_reconciles,
            "mean_reconcile_ms": if conv_reconciles > 0.0 { round3(duration_sum * 1000.0 / conv_reconciles) } else { 0.0 },
            "cpu": cpu_delta(&cpu0, &cpu1),
            "operator_peak_rss_mib": round3(mib(rss_converged)),
            "operator_rss_mib_at_convergence": rss_converged_json,
        }),
    );
    r.json.insert(
        "accounting".into(),
        json!({
            "resync_seconds": o.resync.as_secs_f64(),
            "resync_periods": PERIODS,
            "get_window_seconds_after_ready": round3(w),
            "emulator_calls_total": {
                "SetUserPoolMfaConfig": count(&calls, "SetUserPoolMfaConfig"),
                "GetUserPoolMfaConfig": count(&calls, "GetUserPoolMfaConfig"),
            },
            "operator_metric_calls_total": op_calls,
            "sets_per_resource": sets_per_resource,
            "gets_before_first_set": gets_before_set,
            "status_writes_convergence": status_converge,
            "status_writes_per_resource_convergence": round3(status_converge as f64 / n),
            "cognito_writes_steady_state": sets_steady,
            "gets_in_windows": gets_window,
            "gets_per_resource_per_resync": gets_per_resync,
            "resources_with_other_than_k_gets": off_pools,
            "status_writes_steady_state": status_steady,
            "steady_state_cpu": steady_delta,
            "operator_peak_rss_mib_end": round3(mib(rss_steady)),
        }),
    );
    Converged {
        ns,
        pools,
        rss_peak_kib: rss_converged,
    }
}

/// 5. A fresh operator over the N converged resources: start-up pass, then idle.
async fn idle(env: &Env, client: &Client, o: &Opts, c: &Converged, r: &mut Report) {
    eprintln!(
        "bench: [5/6] idle: restart over {} resources, then {:?} idle",
        c.pools.len(),
        o.idle
    );
    let n = c.pools.len();
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &c.ns);
    let tracker = Tracker::start(api).await;
    reset_calls(env);
    let start = Instant::now();
    let op = operator(o, &c.ns, o.idle_resync, &limiter_off());
    let pid = op.pid();
    blocking(|| {
        harness::wait_until(
            Duration::from_secs(120).max(Duration::from_millis(200) * n as u32),
            "the restarted operator's first pass over every resource",
            || op.metric("cognito_mfa_reconciles_total", "") >= n as f64,
        )
    });
    let pass = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu0 = cpu_snapshot(Some(pid));
    tokio::time::sleep(o.idle).await;
    let cpu1 = cpu_snapshot(Some(pid));
    let rss_peak = vm_kib(pid, "VmHWM");
    let rss_now = vm_kib(pid, "VmRSS");
    let rss_idle_json = rss_json(pid);
    let tracks = tracker.snapshot();
    drop(tracker);
    drop(op);
    let pool_set: HashSet<&str> = c.pools.iter().map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    let status_writes: u64 = tracks
        .values()
        .map(|t| u64::from(t.modified_before_ready + t.modified_after_ready))
        .sum();
    let delta = cpu_delta(&cpu0, &cpu1);
    let cores = delta["processes"]["operator"]["cores"]
        .as_f64()
        .unwrap_or(f64::NAN);

    let section = "5. footprint";
    r.goal(
        section,
        format!("operator idle CPU, {n} resources, {:?}", o.idle),
        cores,
        format!("{:.3} % of a core", cores * 100.0),
        "<= 1 % of a core",
        cores <= 0.01,
    );
    r.goal(
        section,
        format!("operator peak RSS, restart + idle with {n}"),
        mib(rss_peak),
        format!("{:.1} MiB (now {:.1})", mib(rss_peak), mib(rss_now)),
        "<= 30 MiB at N = 1000",
        mib(rss_peak) <= 30.0,
    );
    let gets = count(&calls, "GetUserPoolMfaConfig");
    let sets = count(&calls, "SetUserPoolMfaConfig");
    r.info(
        section,
        "restart pass: time / Gets, Sets, status writes",
        pass,
        format!(
            "{pass:.2} s / {:.2}, {sets}, {status_writes} per {n}",
            gets as f64 / n as f64
        ),
    );
    r.json.insert(
        "idle".into(),
        json!({
            "namespace": c.ns,
            "resources": n,
            "resync_seconds": o.idle_resync.as_secs_f64(),
            "restart_pass_seconds": round3(pass),
            "restart_gets": gets,
            "restart_sets": sets,
            "restart_and_idle_status_writes": status_writes,
            "idle_seconds": o.idle.as_secs_f64(),
            "idle_cpu": delta,
            "operator_idle_cpu_fraction_of_core": cores,
            "operator_peak_rss_mib": round3(mib(rss_peak)),
            "operator_rss_mib_end": round3(mib(rss_now)),
            "operator_rss_mib_idle_end": rss_idle_json,
            "convergence_operator_peak_rss_mib": round3(mib(c.rss_peak_kib)),
        }),
    );
}

/// 6. Pacing under the emulator's quota with the operator's limiter at the same rate.
async fn pacing(env: &Env, client: &Client, o: &Opts, r: &mut Report) {
    let q = o.quota;
    eprintln!(
        "bench: [6/6] pacing: {} resources, quota and limiter {q} rps",
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
    let op = operator(o, &ns, o.idle_resync, &limiter);
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
    let throttled = calls
        .iter()
        .filter(|c| c.error.as_deref() == Some("TooManyRequestsException"))
        .count();
    let sets = count(&calls, "SetUserPoolMfaConfig");
    let section = "6. pacing (quota = limiter = Q)";
    r.goal(
        section,
        format!("{} resources at Q = {q} -> all Ready", o.pacing_n),
        seconds,
        format!("{seconds:.2} s"),
        format!("<= {bound:.1} s (1.1 x N/Q)"),
        seconds <= bound,
    );
    r.goal(
        section,
        "TooManyRequests answered",
        throttled as f64,
        format!("{throttled} (of {sets} Sets)"),
        "= 0",
        throttled == 0,
    );
    r.json.insert(
        "pacing".into(),
        json!({
            "namespace": ns,
            "resources": o.pacing_n,
            "quota_rps": q,
            "limiter": {"COGNITO_WRITE_RPS": q, "COGNITO_READ_RPS": q, "COGNITO_BURST": 1},
            "seconds": round3(seconds),
            "bound_seconds": round3(bound),
            "too_many_requests": throttled,
            "sets": sets,
            "gets": count(&calls, "GetUserPoolMfaConfig"),
        }),
    );
}

// ---------------------------------------------------------------------------------------------

async fn run(env: &'static Env, o: &Opts) -> Report {
    let mut r = Report::default();
    let client = env.client().await;
    let set_ceiling = ceiling(env, o, &mut r).await;
    let apiserver_bound = apiserver_ceiling(env, &client, o, &mut r).await;
    latency(env, &client, o, &mut r).await;
    startup(env, &client, o, &mut r).await;
    let converged = convergence(env, &client, o, set_ceiling, apiserver_bound, &mut r).await;
    idle(env, &client, o, &converged, &mut r).await;
    pacing(env, &client, o, &mut r).await;
    r
}

fn main() {
    let o = parse_args();
    let mode = if o.smoke { "smoke" } else { "full" };
    eprintln!("bench: {mode} mode: {o:?}");
    let started = jiff::Timestamp::now();
    let wall = Instant::now();
    let env = env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut r = runtime.block_on(run(env, &o));
    runtime.shutdown_timeout(Duration::from_secs(5));

    println!(
        "cognito-mfa-operator benchmark ({mode}), {} cores, {}",
        machine()["cores"],
        machine()["cpu_model"].as_str().unwrap_or_default()
    );
    r.print_table();
    let mut report = serde_json::Map::new();
    report.insert("mode".into(), mode.into());
    report.insert("started_at".into(), started.to_string().into());
    report.insert(
        "wall_seconds".into(),
        round3(wall.elapsed().as_secs_f64()).into(),
    );
    report.insert("machine".into(), machine());
    report.insert(
        "options".into(),
        json!({
            "n": o.n, "pacing_n": o.pacing_n, "quota_rps": o.quota,
            "latency_samples": o.latency_samples, "startup_samples": o.startup_samples,
            "idle_seconds": o.idle.as_secs_f64(), "resync_seconds": o.resync.as_secs_f64(),
            "idle_resync_seconds": o.idle_resync.as_secs_f64(), "ceiling_calls": o.ceiling_calls,
            "ceiling_concurrency": o.ceiling_concurrency, "create_concurrency": o.create_concurrency,
            "operator_binary": env!("CARGO_BIN_EXE_cognito-mfa-operator"),
            "operator_log_level": LOG_LEVEL,
        }),
    );
    report.insert("goals".into(), r.rows_json());
    report.append(&mut r.json);
    report.insert("smoke_assertion_failures".into(), json!(r.failures));
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir).expect("create the report's directory");
    }
    std::fs::write(
        &o.out,
        serde_json::to_string_pretty(&Value::Object(report)).unwrap() + "\n",
    )
    .expect("write the JSON report");
    println!("JSON report: {}", o.out.display());
    if !r.failures.is_empty() {
        eprintln!("bench: call accounting assertions failed:");
        for f in &r.failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
}
