//! Commands for Git workflows, run by hand, in CI or as a pre-commit hook, also installed as the
//! kubectl plugin `kubectl upmfa`:
//!
//! - `validate PATH...`: checks manifests offline with the rules of admission and the operator.
//! - `diff PATH...`: shows, field by field, what applying them would change in the pools.
//! - `export POOL_ID...`: writes manifests that adopt pools as they are.
//!
//! Exit codes: 0 when all is well (valid, nothing would change, exported), 1 when something was
//! found (a problem, a change), 2 when the command could not do its job (unreadable input,
//! invalid YAML, a failed Cognito call, bad arguments).

pub mod diff;
pub mod export;
pub mod manifest;
pub mod validate;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cognito::CallError;
use crate::logic::errors::RetryPolicy;

/// Nothing found: valid, in sync, exported.
pub const EXIT_OK: u8 = 0;
/// Something found: a problem in a manifest, a change `diff` would make.
pub const EXIT_FOUND: u8 = 1;
/// The command could not do its job.
pub const EXIT_ERROR: u8 = 2;

/// The three commands, shared by `cognito-mfa-operator` and `kubectl-upmfa`.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Check UserPoolMfaConfig and UserPoolAccessPolicy manifests offline.
    ///
    /// The rules are those of admission (the CRD's schema: unknown fields, types, enums, required
    /// fields) and of the operator. Documents of other kinds are ignored. Exit 0: valid;
    /// 1: problems; 2: unreadable input or invalid YAML.
    Validate(ValidateArgs),
    /// Show what applying UserPoolMfaConfig manifests would change in their pools.
    ///
    /// Reads each pool with GetUserPoolMfaConfig (read-only), with your own AWS credentials (the
    /// SDK's default chain and endpoint variables; the region comes from the pool ID). Exit 0:
    /// nothing would change (Observe manifests never write); 1: something would; 2: errors.
    Diff(DiffArgs),
    /// Write UserPoolMfaConfig manifests that adopt pools as they are.
    ///
    /// Each holds the pool's current MFA configuration, normalised, with managementPolicy Manage
    /// and deletionPolicy Retain (both left out). Exit 0: exported; 1: a pool holds what
    /// validate refuses (written anyway, with a warning); 2: errors.
    Export(ExportArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// One line per finding, then a summary.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Files, directories (searched recursively for *.yaml and *.yml) or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// Files, directories (searched recursively for *.yaml and *.yml) or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,

    /// Timeout of one Cognito call.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// IDs of the pools to export, e.g. us-east-1_AbCdEf123.
    #[arg(value_name = "POOL_ID", required_unless_present = "all_in_region")]
    pub pools: Vec<String>,

    /// Also export every pool of this region (ListUserPools; repeatable).
    #[arg(long, value_name = "REGION")]
    pub all_in_region: Vec<String>,

    /// Namespace of the manifests (left out: none, so `kubectl apply` uses its current one).
    #[arg(long, value_parser = namespace_name)]
    pub namespace: Option<String>,

    /// Prefix of each manifest's name; the rest is the pool ID in lower case, `_` as `-`.
    #[arg(long, default_value = "")]
    pub name_prefix: String,

    /// Timeout of one Cognito call.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

fn namespace_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("not a namespace name: at most 63 lowercase letters, digits and '-'".into())
    }
}

/// The kubectl plugin's command line: `kubectl upmfa validate|diff|export ...`.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-upmfa",
    bin_name = "kubectl upmfa",
    version,
    about = "Validate, diff and export UserPoolMfaConfig manifests (cognito-mfa-operator)"
)]
pub struct Plugin {
    #[command(subcommand)]
    pub command: ToolCommand,
}

/// Runs one of the commands; the exit code is the command's.
pub async fn run(command: ToolCommand) -> ExitCode {
    let code = match command {
        ToolCommand::Validate(args) => validate::run(&args),
        ToolCommand::Diff(args) => diff::run(&args).await,
        ToolCommand::Export(args) => export::run(&args).await,
    };
    ExitCode::from(code)
}

/// A Cognito call, tried again (up to 4 times in all, after 0.5, 1 and 2 s) when its failure is
/// transient: throttling, a network error, a timeout. The operator paces and retries in its own
/// way; a command run by hand only needs to ride out a short burst.
async fn with_retries<T, F, Fut>(call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    retrying(Duration::from_millis(500), call).await
}

async fn retrying<T, F, Fut>(first_delay: Duration, mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut delay = first_delay;
    for _ in 0..3 {
        match call().await {
            Err(e) if e.kind.retry() == RetryPolicy::Backoff => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            done => return done,
        }
    }
    call().await
}

/// A failed call explained for a person at a terminal.
pub fn explain(e: &CallError) -> String {
    use crate::logic::errors::ErrorKind as K;
    let reason = e.kind.reason().as_str();
    let hint = match e.kind {
        K::ResourceNotFound => {
            "no such pool in its region for these credentials' account (check the pool ID and the AWS account)"
        }
        K::Credentials => {
            "no usable AWS credentials: set them up for the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, SSO, container or instance credentials)"
        }
        K::NotAuthorized => "these credentials may not make this call (IAM permissions)",
        K::TooManyRequests => "throttled by Cognito, still after retrying",
        K::Network => "Cognito could not be reached",
        K::Timeout => "the call timed out (see --timeout)",
        _ => "",
    };
    let detail = match &e.code {
        Some(code) => format!("{code}: {}", e.message),
        None => without_debug(&e.message).to_owned(),
    };
    if hint.is_empty() {
        format!("{reason}: {detail}")
    } else {
        format!("{reason}: {hint}: {detail}")
    }
}

/// The SDK's text of a local failure ends with the error's `Debug` form, in parentheses: for a
/// person, the readable part before it is enough.
fn without_debug(message: &str) -> &str {
    [
        " (DispatchFailure(",
        " (TimeoutError(",
        " (ResponseError(",
        " (ConstructionFailure(",
    ]
    .iter()
    .filter_map(|m| message.find(m))
    .min()
    .map_or(message, |i| &message[..i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::errors::ErrorKind;

    #[test]
    fn the_plugin_parses_the_three_commands() {
        let p = Plugin::try_parse_from(["kubectl-upmfa", "validate", "a.yaml", "-", "-o", "json"])
            .unwrap();
        let ToolCommand::Validate(v) = p.command else {
            panic!("validate")
        };
        assert_eq!(v.paths, [PathBuf::from("a.yaml"), PathBuf::from("-")]);
        assert_eq!(v.output, OutputFormat::Json);
        assert!(Plugin::try_parse_from(["kubectl-upmfa", "validate"]).is_err());
        let p = Plugin::try_parse_from(["k", "diff", "d/", "--timeout", "3s"]).unwrap();
        let ToolCommand::Diff(d) = p.command else {
            panic!("diff")
        };
        assert_eq!(d.timeout, Duration::from_secs(3));
        assert!(
            Plugin::try_parse_from(["k", "export"]).is_err(),
            "a pool or a region"
        );
        let p = Plugin::try_parse_from([
            "k",
            "export",
            "--all-in-region",
            "eu-west-1",
            "--namespace",
            "team-a",
            "--name-prefix",
            "pool-",
        ])
        .unwrap();
        let ToolCommand::Export(e) = p.command else {
            panic!("export")
        };
        assert_eq!(
            (e.all_in_region, e.namespace, e.name_prefix),
            (
                vec!["eu-west-1".into()],
                Some("team-a".into()),
                "pool-".into()
            )
        );
        for bad in ["Team", "-team", "team-", "a_b", ""] {
            let e = Plugin::try_parse_from(["k", "export", "x_y", &format!("--namespace={bad}")])
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a namespace name"), "{bad:?}: {e}");
        }
        assert_eq!(namespace_name(&"a".repeat(63)), Ok("a".repeat(63)));
        assert!(namespace_name(&"a".repeat(64)).is_err(), "at most 63");
        assert_eq!(namespace_name("team-1"), Ok("team-1".into()));
    }

    #[test]
    fn errors_are_explained() {
        let e = CallError {
            kind: ErrorKind::ResourceNotFound,
            code: Some("ResourceNotFoundException".into()),
            message: "User pool us-east-1_x does not exist.".into(),
        };
        assert_eq!(
            explain(&e),
            "ResourceNotFound: no such pool in its region for these credentials' account (check the pool ID and the AWS account): ResourceNotFoundException: User pool us-east-1_x does not exist."
        );
        let e = CallError {
            kind: ErrorKind::Credentials,
            code: None,
            message: "failed to load credentials".into(),
        };
        assert!(
            explain(&e).starts_with("CredentialsUnavailable: no usable AWS credentials")
                && explain(&e).ends_with("instance credentials): failed to load credentials"),
            "{}",
            explain(&e)
        );
        let e = CallError {
            kind: ErrorKind::Network,
            code: None,
            message: "dispatch failure: io error: Connection refused (os error 111) (DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io } }))".into(),
        };
        assert_eq!(
            explain(&e),
            "NetworkError: Cognito could not be reached: dispatch failure: io error: Connection refused (os error 111)"
        );
        let e = CallError {
            kind: ErrorKind::Unknown,
            code: Some("Weird".into()),
            message: "m".into(),
        };
        assert_eq!(explain(&e), "UnknownServiceError: Weird: m");
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_others_are_not() {
        let calls = std::cell::Cell::new(0);
        let fail = |kind| CallError {
            kind,
            code: None,
            message: String::new(),
        };
        let r: Result<(), _> = retrying(Duration::from_millis(1), || {
            calls.set(calls.get() + 1);
            async { Err(fail(ErrorKind::TooManyRequests)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 4);
        calls.set(0);
        let r: Result<(), _> = retrying(Duration::from_millis(1), || {
            calls.set(calls.get() + 1);
            async { Err(fail(ErrorKind::ResourceNotFound)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
        calls.set(0);
        let r = retrying(Duration::from_millis(1), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(fail(ErrorKind::Network))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
    }
}
