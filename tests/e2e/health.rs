//! The probes and metrics server: what it sends.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;

use crate::harness::*;

/// The response head (status line and headers) and body of one GET on a connection of its own.
fn get_raw(op: &Operator, path: &str) -> (String, String) {
    let addr = op.metrics_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// The metric names in README.md's metrics table (its first column).
fn documented_metrics() -> Vec<String> {
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).unwrap();
    readme
        .lines()
        .skip_while(|l| !l.starts_with("| Metric"))
        .skip(2) // the header and its separator
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let name = l.split('|').nth(1)?.trim();
            Some(name.strip_prefix('`')?.strip_suffix('`')?.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn metrics_are_openmetrics_and_every_documented_one_is_there() {
    let documented = documented_metrics();
    assert!(
        documented.len() >= 5,
        "README.md has a metrics table: {documented:?}"
    );
    let env = env();
    let ns = env.namespace("documented");
    let op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    synced_totp(&api, &ns, "documented").await;

    let (head, body) = get_raw(&op, "/metrics");
    assert!(
        head.to_ascii_lowercase().lines().any(
            |l| l == "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"
        ),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    // A family is described by its TYPE line; a counter's samples add `_total` to its name.
    let families: BTreeSet<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    let missing: Vec<&String> = documented
        .iter()
        .filter(|m| {
            !families.contains(m.as_str())
                && !m
                    .strip_suffix("_total")
                    .is_some_and(|f| families.contains(f))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "documented but not on /metrics: {missing:?}\n{body}"
    );
}
