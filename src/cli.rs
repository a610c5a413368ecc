//! Command line: every flag also reads an environment variable (for the Helm chart).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::leader::Timing;
use crate::logic::shard::Shard;

#[derive(Debug, Parser)]
#[command(
    name = "cognito-mfa-operator",
    version,
    about = "Keeps Amazon Cognito user pool MFA configuration equal to UserPoolMfaConfig resources"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (UserPoolMfaConfig, UserPoolAccessPolicy).
    Crd(CrdArgs),
    /// validate, diff and export (also the kubectl plugin `kubectl upmfa`).
    #[command(flatten)]
    Tool(crate::tools::ToolCommand),
}

#[derive(Debug, Clone, Args)]
pub struct CrdArgs {
    /// Write one file per CRD into this directory instead of printing them all.
    #[arg(long)]
    pub out_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    pub namespace: String,

    /// Reconcile only the resources whose labels match this selector (`shard=a`, `shard!=a`,
    /// `shard in (a,b)`), to split the work between deployments; ownership of a pool is still
    /// decided over every resource. Empty: all.
    #[arg(long, env = "SHARD_SELECTOR", default_value = "")]
    pub shard_selector: Shard,

    /// How often each pool is read back to detect drift (jittered by ±10%).
    #[arg(long, env = "RESYNC_INTERVAL", default_value = "10m", value_parser = positive_duration)]
    pub resync_interval: Duration,

    /// Resources reconciled at the same time.
    #[arg(long, env = "MAX_CONCURRENT_RECONCILES", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent_reconciles: u16,

    /// Address of the HTTP server for /healthz, /readyz and /metrics.
    #[arg(long, env = "LISTEN_ADDRESS", default_value = "0.0.0.0:8080")]
    pub listen_address: SocketAddr,

    /// Log filter: a level (info, debug, ...) or a tracing filter directive.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", value_parser = log_filter)]
    pub log_level: String,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Reconcile only while holding a Lease (needed with more than one replica).
    #[arg(long, env = "LEADER_ELECTION", action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub leader_election: bool,

    /// Name of the leader election Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "cognito-mfa-operator")]
    pub lease_name: String,

    /// Namespace of the leader election Lease (normally the operator's own).
    #[arg(long, env = "LEASE_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,

    /// How long a Lease holds without renewal; a standby replica takes over after it.
    #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = positive_duration)]
    pub lease_duration: Duration,

    /// How long the leader goes on leading without a successful renewal (default: 2/3 of the
    /// lease duration). Shorter than the lease duration, so a leader that cannot reach the API
    /// server stops before another replica may take over.
    #[arg(long, env = "LEASE_RENEW_DEADLINE", value_parser = positive_duration)]
    pub lease_renew_deadline: Option<Duration>,

    /// Identity of this replica in the Lease and in events (default: the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Timeout of one Cognito call (connecting takes at most 3 s of it).
    #[arg(long, env = "COGNITO_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub cognito_timeout: Duration,

    /// Budget of GetUserPoolMfaConfig calls per second and region (0: unlimited; otherwise at
    /// least 0.01). Cognito allows about 15 per account and region, shared with other tools.
    #[arg(long, env = "COGNITO_READ_RPS", default_value_t = 8.0, value_parser = non_negative_rate)]
    pub read_rps: f64,

    /// Budget of SetUserPoolMfaConfig calls per second and region (0: unlimited; otherwise at
    /// least 0.01).
    #[arg(long, env = "COGNITO_WRITE_RPS", default_value_t = 8.0, value_parser = non_negative_rate)]
    pub write_rps: f64,

    /// Calls that may go out at once before the per-second budgets apply.
    #[arg(long, env = "COGNITO_BURST", default_value_t = 4)]
    pub burst: u32,

    /// Act only as UserPoolAccessPolicies permit (default deny). `false` lets every resource act
    /// on any pool with the operator's own credentials: for clusters of a single team.
    #[arg(long, env = "ENFORCE_ACCESS_POLICIES", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub enforce_access_policies: bool,

    /// On SIGTERM, how long in-flight reconciles may take before they are cut.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

/// A duration above zero: a zero resync or timeout would turn every retry into a hot loop.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// A tracing filter whose bare words are levels: `debg` would otherwise be taken as the name of
/// a log target, and logging would silently go quiet.
fn log_filter(s: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains(['=', '['])
            && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
        {
            return Err(format!(
                "{directive:?} is not a level ({}) nor a target=level directive",
                LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not a log filter: {e}"))
}

/// Requests per second: a finite number, 0 meaning unlimited.
/// The lowest budget other than unlimited: one call every 100 s. Below it, the periods derived
/// from the rate (N / rate) outgrow what a `Duration` holds.
pub const MIN_RATE: f64 = 0.01;

fn non_negative_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r == 0.0 || (r.is_finite() && r >= MIN_RATE) => Ok(r),
        Ok(r) if r.is_finite() && r > 0.0 => Err(format!(
            "{s:?} is below the lowest rate, {MIN_RATE} requests per second (0 for unlimited)"
        )),
        _ => Err(format!(
            "{s:?} is not a rate (requests per second, 0 for unlimited)"
        )),
    }
}

impl RunArgs {
    pub fn namespace(&self) -> Option<String> {
        Some(self.namespace.clone()).filter(|n| !n.is_empty())
    }

    /// The Lease timing; an error when the renew deadline is not shorter than the duration.
    pub fn lease_timing(&self) -> Result<Timing, String> {
        Timing::new(self.lease_duration, self.lease_renew_deadline)
    }

    pub fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| format!("cognito-mfa-operator-{}", std::process::id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(flags: &[&str]) -> RunArgs {
        let args = ["x", "run"].iter().chain(flags);
        match Cli::try_parse_from(args).unwrap().command {
            Command::Run(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_flag_reaches_its_setting() {
        use clap::CommandFactory;
        // Each flag with a value other than its default.
        let samples = [
            ("namespace", "team"),
            ("shard-selector", "shard=a"),
            ("resync-interval", "30s"),
            ("max-concurrent-reconciles", "3"),
            ("listen-address", "127.0.0.1:9000"),
            ("log-level", "debug"),
            ("log-format", "json"),
            ("leader-election", "true"),
            ("lease-name", "other"),
            ("lease-namespace", "ops"),
            ("lease-duration", "30s"),
            ("lease-renew-deadline", "10s"),
            ("identity", "pod-1"),
            ("cognito-timeout", "2s"),
            ("read-rps", "2"),
            ("write-rps", "3"),
            ("burst", "9"),
            ("enforce-access-policies", "false"),
            ("shutdown-timeout", "5s"),
        ];
        let cli = Cli::command();
        let flags: std::collections::BTreeSet<&str> = cli
            .find_subcommand("run")
            .unwrap()
            .get_arguments()
            .filter_map(|a| a.get_long())
            .collect();
        let sampled = samples.iter().map(|(flag, _)| *flag).collect();
        assert_eq!(flags, sampled, "a sample for every flag of `run`");
        let defaults = format!("{:?}", run_args(&[]));
        let mut seen = std::collections::BTreeSet::new();
        for (flag, value) in samples {
            let parsed = format!("{:?}", run_args(&[&format!("--{flag}"), value]));
            assert_ne!(parsed, defaults, "--{flag} {value} changed nothing");
            assert!(seen.insert(parsed), "--{flag} sets what another flag sets");
        }
    }

    #[test]
    fn defaults_and_flags() {
        let Command::Run(a) = Cli::try_parse_from(["x", "run"]).unwrap().command else {
            panic!("run")
        };
        assert_eq!(a.resync_interval, Duration::from_secs(600));
        assert_eq!(a.namespace(), None);
        assert!(
            a.shard_selector.is_all(),
            "one deployment reconciles everything"
        );
        assert!(!a.leader_election);
        assert!(
            a.enforce_access_policies,
            "access policies are enforced by default"
        );
        let Command::Run(a) = Cli::try_parse_from([
            "x",
            "run",
            "--namespace",
            "team",
            "--resync-interval",
            "30s",
            "--leader-election",
            "--log-format",
            "json",
            "--enforce-access-policies=false",
            "--shard-selector",
            "shard!=a",
        ])
        .unwrap()
        .command
        else {
            panic!("run")
        };
        assert_eq!(
            (a.namespace().as_deref(), a.resync_interval),
            (Some("team"), Duration::from_secs(30))
        );
        assert!(a.leader_election);
        assert_eq!(a.log_format, LogFormat::Json);
        assert!(!a.enforce_access_policies);
        assert_eq!(a.shard_selector.to_string(), "shard!=a");
        let refused = Cli::try_parse_from(["x", "run", "--shard-selector", "shard in (a"])
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("invalid value 'shard in (a' for '--shard-selector")
                && refused.contains("expected ',' or ')'"),
            "{refused}"
        );
        // Each refusal for the reason the value is wrong, not another one.
        for (flag, value, why) in [
            ("max-concurrent-reconciles", "0", "0 is not in 1..=65535"),
            ("resync-interval", "soon", "expected number"),
            ("resync-interval", "0s", "must be longer than zero"),
            ("cognito-timeout", "0ms", "must be longer than zero"),
            ("read-rps", "-1", "\"-1\" is not a rate"),
            ("read-rps", "inf", "\"inf\" is not a rate"),
            (
                "read-rps",
                "1e-20",
                "\"1e-20\" is below the lowest rate, 0.01",
            ),
            (
                "write-rps",
                "0.0099",
                "\"0.0099\" is below the lowest rate, 0.01",
            ),
            ("write-rps", "NaN", "\"NaN\" is not a rate"),
            ("log-level", "debg", "\"debg\" is not a level"),
            ("log-level", "info,kube=loud", "not a log filter"),
            ("log-level", "info,[", "not a log filter"),
        ] {
            let refused = Cli::try_parse_from(["x", "run", &format!("--{flag}={value}")])
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains(&format!("invalid value '{value}' for '--{flag}"))
                    && refused.contains(why),
                "--{flag}={value}: {refused}"
            );
        }
        let Command::Run(a) = Cli::try_parse_from([
            "x",
            "run",
            "--max-concurrent-reconciles",
            "1",
            "--resync-interval",
            "1ms",
        ])
        .unwrap()
        .command
        else {
            panic!("run")
        };
        assert_eq!(
            (a.max_concurrent_reconciles, a.resync_interval),
            (1, Duration::from_millis(1)),
            "the smallest values allowed"
        );
        for good in [
            "debug",
            "WARN",
            "info,kube_client=error",
            "cognito_mfa_operator=trace",
        ] {
            assert!(
                Cli::try_parse_from(["x", "run", "--log-level", good]).is_ok(),
                "{good}"
            );
        }
        let Command::Run(a) =
            Cli::try_parse_from(["x", "run", "--read-rps", "0", "--write-rps", "2.5"])
                .unwrap()
                .command
        else {
            panic!("run")
        };
        assert_eq!((a.read_rps, a.write_rps), (0.0, 2.5));
    }

    #[test]
    fn the_renew_deadline_defaults_to_two_thirds_and_must_be_shorter_than_the_lease() {
        let timing = |args: &[&str]| {
            let Command::Run(a) = Cli::try_parse_from([&["x", "run"], args].concat())
                .unwrap()
                .command
            else {
                panic!("run")
            };
            a.lease_timing()
        };
        let t = timing(&[]).unwrap();
        assert_eq!(
            (t.duration, t.renew_deadline, t.retry_period),
            (
                Duration::from_secs(15),
                Duration::from_secs(10),
                Duration::from_secs(2)
            )
        );
        let t = timing(&["--lease-duration", "30s", "--lease-renew-deadline", "25s"]).unwrap();
        assert_eq!(t.renew_deadline, Duration::from_secs(25));
        for refused in [
            &["--lease-renew-deadline", "15s"][..],
            &["--lease-duration", "6s", "--lease-renew-deadline", "10s"],
        ] {
            let e = timing(refused).unwrap_err();
            assert!(e.contains("must be shorter than the lease duration"), "{e}");
        }
        let zero = Cli::try_parse_from(["x", "run", "--lease-renew-deadline", "0s"])
            .unwrap_err()
            .to_string();
        assert!(zero.contains("must be longer than zero"), "{zero}");
    }
}
