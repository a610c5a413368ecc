//! Operator processes as the phases start them: the harness's operator (the release binary
//! under `cargo bench`) watching one namespace, with the bench's log filter and extra
//! environment.

use std::time::Duration;

use super::blocking;
use crate::options::Opts;
use test_kit::{Operator, OperatorOptions};

/// The operators' log filter: warnings only (per-resource logs of 1000 resources would flood
/// the terminal and cost CPU), without kube's per-connection "Server cert bypassed" warning of
/// the local environment's self-signed API server.
pub const LOG_LEVEL: &str = "warn,kube_client::client::tls=error";

/// Starts an operator and waits until it is ready.
pub fn start(
    opts: &Opts,
    namespace: &str,
    resync: Duration,
    extra: &[(&'static str, String)],
) -> Operator {
    let op = Operator::start_with(options(opts, namespace, resync, extra));
    blocking(|| op.wait_ready());
    op
}

pub fn options<'a>(
    opts: &'a Opts,
    namespace: &'a str,
    resync: Duration,
    extra: &[(&'static str, String)],
) -> OperatorOptions<'a> {
    let mut o = OperatorOptions::new(namespace);
    // OperatorOptions borrows its resync text: one leaked string per operator started
    o.resync = Box::leak(format!("{}ms", resync.as_millis()).into_boxed_str());
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

/// The operator's client-side Cognito limiter off.
pub fn limiter_off() -> Vec<(&'static str, String)> {
    vec![
        ("COGNITO_READ_RPS", "0".to_owned()),
        ("COGNITO_WRITE_RPS", "0".to_owned()),
    ]
}
