//! The benchmark's command line. Its defaults depend on the mode: the smoke version (under
//! `cargo test`, which passes no `--bench`, or with `--smoke`) runs small.

use std::path::PathBuf;
use std::time::Duration;

use crate::support;

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
    /// Extra environment of every operator process (experiments: MALLOC_ARENA_MAX, ...).
    pub operator_env: Vec<(String, String)>,
    pub out: PathBuf,
}

/// Parses the process's arguments; exits (2) with the usage on a bad one, and exits (0) on
/// `--help` and on libtest's `--list`.
pub fn parse() -> Opts {
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
