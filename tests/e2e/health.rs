//! Health under faults: the probes and metrics server (what it sends, clients that misbehave, a
//! process out of file descriptors) and what the operator reports when Kubernetes fails it (a
//! watch that keeps failing: the CRD removed, access revoked; a status that cannot be written).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use serde_json::json;

use test_kit::*;

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
    let readme = std::fs::read_to_string(test_kit::repo().join("README.md")).unwrap();
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

#[tokio::test]
async fn a_client_that_never_finishes_its_header_is_disconnected() {
    let env = env();
    let ns = env.namespace("slow-client");
    let op = Operator::start(&ns);
    op.wait_ready();
    let mut stream = TcpStream::connect(op.metrics_url.trim_start_matches("http://")).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: operator\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let started = Instant::now();
    let mut rest = vec![];
    let closed = stream.read_to_end(&mut rest);
    assert!(
        closed.is_ok() && started.elapsed() < Duration::from_secs(10),
        "still connected after {:?}: {closed:?}",
        started.elapsed()
    );
    assert_eq!(op.get("/healthz").unwrap().0, 200, "others are served");
}

/// The CPU time a process has used, in clock ticks (user and system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime, fields 14 and 15 of the whole line.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The soft limit of open files of a process.
fn open_files_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().to_owned()
}

fn set_open_files_limit(pid: u32, soft: &str) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
        .status()
        .expect("prlimit (util-linux) is installed");
    assert!(status.success());
}

#[tokio::test]
async fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    if !std::path::Path::new("/proc/self/stat").exists() {
        eprintln!("skipped: needs /proc");
        return;
    }
    let env = env();
    let ns = env.namespace("emfile");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let mut opts = OperatorOptions::new(&ns);
    opts.log_file = Some(log.clone());
    let op = Operator::start_with(opts);
    op.wait_ready();
    let pid = op.pid();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let limit = open_files_limit(pid);
    // Room for two more connections: the rest stay queued and every accept fails with EMFILE.
    set_open_files_limit(pid, &(open + 2).to_string());
    let addr = op.metrics_url.trim_start_matches("http://");
    let clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_ticks(pid) - before;
    set_open_files_limit(pid, &limit);
    drop(clients);
    assert!(
        spent < 40,
        "{spent} clock ticks of CPU in 2 s: the accept loop spins"
    );
    wait_until(Duration::from_secs(5), "/healthz to answer again", || {
        op.get("/healthz").is_some_and(|(s, _)| s == 200)
    });
    let logged = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let warnings = logged.matches("cannot accept connections").count();
    assert_eq!(warnings, 1, "one warning per burst:\n{logged}");
}

const MFA_CRD: &str = "crd/userpoolmfaconfigs.cognitoidp.operators.dev";

/// Creates a TOTP resource for a new pool of `env` and waits until it is synced.
async fn synced_in(env: &Env, api: &Api<UserPoolMfaConfig>, ns: &str, name: &str) {
    let pool = env.new_pool();
    create(api, &resource(ns, name, totp_on(&pool))).await;
    wait_reason(api, name, "Synced", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn readiness_follows_the_watch_when_the_crd_goes_and_comes_back() {
    // Deleting the CRD would take every other test's resources with it.
    let Some(env) = isolated_env() else { return };
    let env = &env;
    let ns = env.namespace("crd-gone");
    let op = Operator::start_in(env, OperatorOptions::new(&ns));
    op.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    synced_in(env, &api, &ns, "before").await;

    env.kubectl(&["delete", MFA_CRD]).success();
    wait_until(Duration::from_secs(30), "readiness to turn false", || {
        op.get("/readyz")
            .is_some_and(|(s, body)| s == 503 && body.contains("UserPoolMfaConfig"))
    });
    let errors = op.metric(
        "cognito_mfa_watch_errors_total",
        r#"resource="UserPoolMfaConfig""#,
    );
    assert!(errors >= 3.0, "{errors} watch errors counted");
    assert_eq!(op.get("/healthz").unwrap().0, 200, "alive all the same");

    env.install_crds();
    wait_until(Duration::from_secs(60), "readiness to come back", || {
        op.get("/readyz").is_some_and(|(s, _)| s == 200)
    });
    synced_in(env, &api, &ns, "after").await;
}

/// The operator's requests about UserPoolMfaConfig objects that `env`'s API server refused.
fn refused_requests(env: &Env) -> usize {
    operator_answered(env, "userpoolmfaconfigs", None, 403)
}

#[tokio::test]
async fn readiness_follows_the_watch_when_access_is_revoked_and_given_back() {
    // Revoking the operator's identity would stop every other test's operator.
    let Some(env) = isolated_env() else { return };
    let env = &env;
    let ns = env.namespace("revoked");
    // Through a proxy, whose outage ends the open watches as their timeout would on a cluster:
    // a revocation only refuses new requests.
    let proxy = Proxy::to_api_server(env);
    let mut o = OperatorOptions::new(&ns);
    o.extra_env = vec![("KUBECONFIG", proxy.kubeconfig.display().to_string())];
    let op = Operator::start_in(env, o);
    op.wait_ready();
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    synced_in(env, &api, &ns, "before").await;
    assert_eq!(refused_requests(env), 0);

    env.revoke(OPERATOR_USER);
    proxy.outage();
    proxy.restore();
    wait_until(Duration::from_secs(30), "readiness to turn false", || {
        op.get("/readyz")
            .is_some_and(|(s, body)| s == 503 && body.contains("UserPoolMfaConfig"))
    });
    assert!(
        refused_requests(env) >= 1,
        "the API server refused the operator's list or watch"
    );
    let errors = op.metric(
        "cognito_mfa_watch_errors_total",
        r#"resource="UserPoolMfaConfig""#,
    );
    assert!(errors >= 1.0, "{errors} watch errors counted");
    assert_eq!(op.get("/healthz").unwrap().0, 200, "alive all the same");
    // Still refused a few seconds on: not ready the whole time.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(op.get("/readyz").unwrap().0, 503, "not ready while refused");

    env.grant(OPERATOR_USER);
    wait_until(Duration::from_secs(60), "readiness to come back", || {
        op.get("/readyz").is_some_and(|(s, _)| s == 200)
    });
    synced_in(env, &api, &ns, "after").await;
}

#[tokio::test]
async fn a_status_that_cannot_be_written_is_reported_by_one_warning() {
    // Changing the CRD's schema would fail every other test's status writes.
    let Some(env) = isolated_env() else { return };
    let env = &env;
    let ns = env.namespace("no-status");
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    create(&api, &resource(&ns, "unwritable", totp_on(&pool))).await;
    // Every status the operator writes has a Ready condition; this schema allows none.
    let limit = |op: &str| {
        let mut patch = json!({"op": op, "path": "/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/conditions/maxItems"});
        if op == "add" {
            patch["value"] = 0.into();
        }
        env.kubectl(&[
            "patch",
            MFA_CRD,
            "--type=json",
            "-p",
            &json!([patch]).to_string(),
        ])
        .success();
    };
    limit("add");
    let condition = json!({"status": {"conditions": [{"type": "Probe", "status": "True", "reason": "Probe", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    wait_until(Duration::from_secs(10), "the schema to be in force", || {
        !env.kubectl(&[
            "patch",
            "upmfa",
            "unwritable",
            "-n",
            &ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            &condition.to_string(),
        ])
        .status
        .success()
    });

    let op = Operator::start_in(env, OperatorOptions::new(&ns));
    wait_until(Duration::from_secs(20), "the warning", || {
        op.metric("cognito_mfa_status_write_warnings_total", "") == 1.0
    });
    let warnings = || {
        let events = env
            .kubectl(&["get", "events.events.k8s.io", "-n", &ns, "-o", "json"])
            .success()
            .stdout;
        let events: serde_json::Value = serde_json::from_str(&events).unwrap();
        events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["reason"] == "StatusWriteFailed" && e["type"] == "Warning")
            .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(10), "the Warning event", || {
        !warnings().is_empty()
    });
    tokio::time::sleep(Duration::from_secs(3)).await; // more failed writes, no more warnings
    let notes = warnings();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("the status could not be written 3 times in a row: "),
        "{}",
        notes[0]
    );
    assert_eq!(
        op.metric("cognito_mfa_status_write_warnings_total", ""),
        1.0
    );
    assert!(
        op.metric(
            "cognito_mfa_reconciles_total",
            r#"result="KubeStatusError""#
        ) >= 4.0
    );

    limit("remove");
    wait_reason(&api, "unwritable", "Synced", Duration::from_secs(30)).await;
}
