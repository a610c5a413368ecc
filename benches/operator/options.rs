//! The benchmark's command line. Its defaults depend on the mode: the smoke version (under
//! `cargo test`, which passes no `--bench`, or with `--smoke`) runs small, so every option is
//! parsed as "not given" first and resolved into [`Opts`] afterwards.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "operator",
    override_usage = "\
cargo bench --bench operator -- [OPTIONS]     (full benchmark; scripts/bench does this)
       cargo test  --bench operator -- [OPTIONS]     (smoke version: small, asserts the call accounting)",
    disable_version_flag = true,
    // as before: an option given twice takes its last value
    args_override_self = true
)]
struct Args {
    /// resources of the convergence phase (1000; smoke 20)
    #[arg(long, value_name = "N", value_parser = positive)]
    n: Option<usize>,
    /// resources of the pacing phase (300; smoke 30)
    #[arg(long, value_name = "N", value_parser = positive)]
    pacing_n: Option<usize>,
    /// emulator quota and operator limiter of the pacing phase, rps (15)
    #[arg(long, value_name = "Q", value_parser = positive_rate)]
    quota: Option<f64>,
    /// single create -> Ready samples (50; smoke 10)
    #[arg(long, value_name = "N", value_parser = positive)]
    latency_samples: Option<usize>,
    /// process start -> first reconcile samples (5; smoke 2)
    #[arg(long, value_name = "N", value_parser = positive)]
    startup_samples: Option<usize>,
    /// idle CPU window (60; smoke 5)
    #[arg(long = "idle-seconds", value_name = "S", value_parser = seconds)]
    idle: Option<Duration>,
    /// RESYNC_INTERVAL of the convergence phase (20s; smoke 3s)
    #[arg(long, value_name = "D", value_parser = positive_duration)]
    resync: Option<Duration>,
    /// RESYNC_INTERVAL of the idle operator (10m, the operator's default)
    #[arg(long, value_name = "D", value_parser = positive_duration)]
    idle_resync: Option<Duration>,
    /// calls per ceiling measurement (500; smoke 100)
    #[arg(long, value_name = "N", value_parser = positive)]
    ceiling_calls: Option<usize>,
    /// calls in flight for the concurrent ceiling (16)
    #[arg(long, value_name = "N", value_parser = positive)]
    ceiling_concurrency: Option<usize>,
    /// resource creates in flight when applying N at once (64)
    #[arg(long, value_name = "N", value_parser = positive)]
    create_concurrency: Option<usize>,
    /// resources of the saturated-resync phase (2000; smoke 40)
    #[arg(long, value_name = "N", value_parser = positive)]
    saturated_n: Option<usize>,
    /// RESYNC_INTERVAL of the saturated-resync phase (60s; smoke 3s)
    #[arg(long, value_name = "D", value_parser = positive_duration)]
    saturated_resync: Option<Duration>,
    /// COGNITO_READ_RPS of the saturated-resync phase (5; smoke 2)
    #[arg(long, value_name = "R", value_parser = positive_rate)]
    saturated_read_rps: Option<f64>,
    /// COGNITO_BURST of the saturated-resync phase (4, the operator's default)
    #[arg(long, value_name = "N", value_parser = positive_u32)]
    saturated_burst: Option<u32>,
    /// measurement window of the saturated-resync phase, seconds (120; smoke 10)
    #[arg(long, value_name = "S", value_parser = positive_seconds)]
    saturated_window: Option<Duration>,
    /// new resources created during the saturation, spread over the window (20; smoke 5)
    #[arg(long, value_name = "N", value_parser = positive)]
    saturated_new: Option<usize>,
    /// resources the busy namespace of the fairness phase creates at once (1000; smoke 50)
    #[arg(long, value_name = "N", value_parser = positive)]
    fairness_big: Option<usize>,
    /// resources the quiet namespace of the fairness phase creates meanwhile (10; smoke 5)
    #[arg(long, value_name = "N", value_parser = positive)]
    fairness_small: Option<usize>,
    /// COGNITO_WRITE_RPS of the fairness phase, shared by both namespaces (20; smoke 10)
    #[arg(long, value_name = "W", value_parser = positive_rate)]
    fairness_write_rps: Option<f64>,
    /// resources of the scale phase: convergence, footprint and idle CPU (10000; smoke 60)
    #[arg(long, value_name = "N", value_parser = positive)]
    scale_n: Option<usize>,
    /// pairs of the API server's bound and a convergence, at --n and at --scale-n, whose median
    /// ratio the convergence goal is judged on (3; smoke 2)
    #[arg(long, value_name = "N", value_parser = positive)]
    ratio_pairs: Option<usize>,
    /// phases to run, comma-separated (all); convergence and scale bring ceilings, idle brings
    /// convergence
    #[arg(long, value_name = "LIST", value_enum, value_delimiter = ',')]
    phases: Vec<Phase>,
    /// extra environment of every operator process (repeatable; experiments)
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    operator_env: Vec<(String, String)>,
    /// JSON report (target/bench/report.json; smoke target/bench/smoke-report.json)
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// run the smoke version even under cargo bench
    #[arg(long)]
    smoke: bool,
    /// Passed by `cargo bench`: the full benchmark.
    #[arg(long, hide = true)]
    bench: bool,
    #[command(flatten)]
    libtest: Libtest,
    /// cargo may pass a test-name filter: nothing to filter here
    #[arg(hide = true)]
    filters: Vec<String>,
}

// libtest's arguments (e.g. `scripts/test` passes `--test-threads 8` to every target):
// accepted and ignored, since this benchmark runs without libtest's harness. (Not a doc
// comment: clap would print it as the command's description.)
#[derive(clap::Args, Debug)]
#[allow(dead_code)] // parsed only so that they are accepted
struct Libtest {
    /// Nothing to list; exits at once.
    #[arg(long, hide = true)]
    list: bool,
    #[arg(long, hide = true)]
    nocapture: bool,
    #[arg(long, hide = true)]
    no_capture: bool,
    #[arg(short, long, hide = true)]
    quiet: bool,
    #[arg(long, hide = true)]
    ignored: bool,
    #[arg(long, hide = true)]
    include_ignored: bool,
    #[arg(long, hide = true)]
    exact: bool,
    #[arg(long, hide = true)]
    show_output: bool,
    #[arg(long, hide = true)]
    no_fail_fast: bool,
    #[arg(long, hide = true)]
    test_threads: Option<String>,
    #[arg(long, hide = true)]
    color: Option<String>,
    #[arg(long, hide = true)]
    format: Option<String>,
    #[arg(long, hide = true)]
    skip: Vec<String>,
    #[arg(long, hide = true)]
    logfile: Option<String>,
    #[arg(short = 'Z', hide = true)]
    unstable: Vec<String>,
}

/// The phases `--phases` selects, in the order they run.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    // raw SDK and API-server ceilings (1, 1b)
    Ceilings,
    // create -> Ready on an idle operator
    Latency,
    // process start -> first reconcile
    Startup,
    // cold convergence of --n, then the call accounting over two resyncs
    Convergence,
    // a fresh operator over the converged resources, idle CPU and RSS
    Idle,
    // pacing under the emulator's quota
    Pacing,
    // one busy and one quiet namespace sharing a write budget
    Fairness,
    // resyncs of more pools than the read budget allows in the interval
    Saturated,
    // convergence, footprint and idle CPU at --scale-n
    Scale,
}

impl Phase {
    /// As `--phases` takes it.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }

    /// The phases a phase builds on: convergence and scale are judged against the ceilings,
    /// idle restarts over the converged resources.
    fn needs(self) -> &'static [Phase] {
        match self {
            Phase::Convergence => &[Phase::Ceilings],
            Phase::Idle => &[Phase::Convergence, Phase::Ceilings],
            Phase::Scale => &[Phase::Ceilings],
            _ => &[],
        }
    }
}

/// The options of one run, every default resolved for its mode.
#[derive(Debug, Clone)]
pub struct Opts {
    pub smoke: bool,
    pub n: usize,
    pub pacing_n: usize,
    pub quota: f64,
    pub latency_samples: usize,
    pub startup_samples: usize,
    pub idle: Duration,
    pub resync: Duration,
    pub idle_resync: Duration,
    pub ceiling_calls: usize,
    pub ceiling_concurrency: usize,
    pub create_concurrency: usize,
    pub saturated_n: usize,
    pub saturated_resync: Duration,
    pub saturated_read_rps: f64,
    pub saturated_burst: u32,
    pub saturated_window: Duration,
    pub saturated_new: usize,
    pub fairness_big: usize,
    pub fairness_small: usize,
    pub fairness_write_rps: f64,
    pub scale_n: usize,
    pub ratio_pairs: usize,
    /// The phases to run, with the ones they build on, in order.
    pub phases: Vec<Phase>,
    /// Extra environment of every operator process (experiments: MALLOC_ARENA_MAX, ...).
    pub operator_env: Vec<(String, String)>,
    pub out: PathBuf,
}

/// Parses the process's arguments; exits (2) with clap's message on a bad one, and exits (0)
/// on `--help` and on libtest's `--list`.
pub fn parse() -> Opts {
    let a = Args::parse();
    if a.libtest.list {
        std::process::exit(0)
    }
    for filter in &a.filters {
        eprintln!("bench: ignoring argument {filter:?}");
    }
    let smoke = !a.bench || a.smoke;
    let pick = |full: usize, small: usize| if smoke { small } else { full };
    let secs = |full: u64, small: u64| Duration::from_secs(if smoke { small } else { full });
    Opts {
        smoke,
        n: a.n.unwrap_or(pick(1000, 20)),
        pacing_n: a.pacing_n.unwrap_or(pick(300, 30)),
        quota: a.quota.unwrap_or(15.0),
        latency_samples: a.latency_samples.unwrap_or(pick(50, 10)),
        startup_samples: a.startup_samples.unwrap_or(pick(5, 2)),
        idle: a.idle.unwrap_or(secs(60, 5)),
        resync: a.resync.unwrap_or(secs(20, 3)),
        idle_resync: a.idle_resync.unwrap_or(Duration::from_secs(600)),
        ceiling_calls: a.ceiling_calls.unwrap_or(pick(500, 100)),
        ceiling_concurrency: a.ceiling_concurrency.unwrap_or(16),
        create_concurrency: a.create_concurrency.unwrap_or(64),
        saturated_n: a.saturated_n.unwrap_or(pick(2000, 40)),
        saturated_resync: a.saturated_resync.unwrap_or(secs(60, 3)),
        saturated_read_rps: a
            .saturated_read_rps
            .unwrap_or(if smoke { 2.0 } else { 5.0 }),
        saturated_burst: a.saturated_burst.unwrap_or(4),
        saturated_window: a.saturated_window.unwrap_or(secs(120, 10)),
        saturated_new: a.saturated_new.unwrap_or(pick(20, 5)),
        fairness_big: a.fairness_big.unwrap_or(pick(1000, 50)),
        fairness_small: a.fairness_small.unwrap_or(pick(10, 5)),
        fairness_write_rps: a
            .fairness_write_rps
            .unwrap_or(if smoke { 10.0 } else { 20.0 }),
        scale_n: a.scale_n.unwrap_or(pick(10_000, 60)),
        ratio_pairs: a.ratio_pairs.unwrap_or(pick(3, 2)),
        phases: with_needs(&a.phases),
        operator_env: a.operator_env,
        out: a.out.unwrap_or_else(|| {
            test_kit::repo().join(if smoke {
                "target/bench/smoke-report.json"
            } else {
                "target/bench/report.json"
            })
        }),
    }
}

/// The selected phases (all when none) and the ones they build on, in the order they run.
fn with_needs(selected: &[Phase]) -> Vec<Phase> {
    if selected.is_empty() {
        return Phase::value_variants().to_vec();
    }
    let mut phases = selected.to_vec();
    for p in selected {
        for need in p.needs() {
            if !phases.contains(need) {
                eprintln!(
                    "bench: phase {} needs {}: running it too",
                    p.name(),
                    need.name()
                );
                phases.push(*need);
            }
        }
    }
    phases.sort();
    phases.dedup();
    phases
}

fn positive(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(0) => Err("must be positive".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("not a number: {v:?}")),
    }
}

fn positive_rate(v: &str) -> Result<f64, String> {
    let q: f64 = v.parse().map_err(|_| format!("not a number: {v:?}"))?;
    if q <= 0.0 {
        return Err("must be positive".into());
    }
    Ok(q)
}

fn seconds(v: &str) -> Result<Duration, String> {
    let s: f64 = v.parse().map_err(|_| format!("not a number: {v:?}"))?;
    Duration::try_from_secs_f64(s).map_err(|e| format!("not a number of seconds ({e}): {v:?}"))
}

fn positive_u32(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(0) => Err("must be positive".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("not a number: {v:?}")),
    }
}

fn positive_seconds(v: &str) -> Result<Duration, String> {
    let d = seconds(v)?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(v).map_err(|e| format!("not a duration ({e}): {v:?}"))?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

fn key_value(v: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .map(|(k, val)| (k.to_owned(), val.to_owned()))
        .ok_or_else(|| format!("wants KEY=VALUE, not {v:?}"))
}
