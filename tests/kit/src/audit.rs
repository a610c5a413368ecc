//! The local API server's audit log: the requests the operator made, counted.

use std::path::Path;

use serde_json::Value;

use crate::env::{Env, env};

/// The identity the local environment gives the operator (its client certificate's CN).
pub const OPERATOR_USER: &str = "cognito-mfa-operator";

/// The user name of the chart's ServiceAccount, which `OperatorOptions::service_account` runs
/// the operator as (the audit log's `user.username`, as for any client certificate).
pub const SERVICE_ACCOUNT_USER: &str =
    "system:serviceaccount:cognito-mfa-operator:cognito-mfa-operator";

/// The operator's requests in the audit log of the environment in `dir`, each once.
fn operator_entries(dir: &Path) -> Vec<Value> {
    entries_of(dir, OPERATOR_USER)
}

/// The requests `user` authenticated as (not impersonating) in the audit log of the environment
/// in `dir`, each once (a request is logged at each stage it reaches).
fn entries_of(dir: &Path, user: &str) -> Vec<Value> {
    let log = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == user)
        .collect()
}

/// The requests of `user` in `env`'s audit log, each once: the audit events (`verb`,
/// `requestURI`, `objectRef`, `responseStatus.code`, ...).
pub fn requests_of(env: &Env, user: &str) -> Vec<Value> {
    entries_of(env.dir.as_ref().expect("a local environment"), user)
}

/// How many of the operator's requests about `resource` (a plural), of `verb` if given,
/// `env`'s local API server answered with `code`.
pub fn operator_answered(env: &Env, resource: &str, verb: Option<&str>, code: u16) -> usize {
    operator_entries(env.dir.as_ref().expect("a local environment"))
        .iter()
        .filter(|e| {
            e["objectRef"]["resource"] == resource
                && verb.is_none_or(|v| e["verb"] == v)
                && e["responseStatus"]["code"] == code
        })
        .count()
}

/// Requests the operator made to the API server about one object, from the local environment's
/// audit log: (verb, resource with its subresource) pairs, e.g. ("patch",
/// "userpoolmfaconfigs/status"), in order. Counts requests, not changes: a status apply that
/// changes nothing still shows. `None` on a cluster (no audit log).
pub fn operator_requests(namespace: &str, name: Option<&str>) -> Option<Vec<(String, String)>> {
    let dir = env().dir.as_ref()?;
    Some(
        operator_entries(dir)
            .into_iter()
            .filter(|e| {
                e["objectRef"]["namespace"] == namespace
                    && name.is_none_or(|n| e["objectRef"]["name"] == n)
            })
            .map(|e| {
                let r = &e["objectRef"];
                let resource = match r["subresource"].as_str() {
                    Some(sub) => format!("{}/{sub}", r["resource"].as_str().unwrap_or_default()),
                    None => r["resource"].as_str().unwrap_or_default().to_owned(),
                };
                (e["verb"].as_str().unwrap_or_default().to_owned(), resource)
            })
            .collect(),
    )
}

/// The operator's status writes and event writes (creates and patches) in `namespace`.
pub fn status_and_event_writes(namespace: &str, name: &str) -> Option<(usize, usize)> {
    let all = operator_requests(namespace, None)?;
    let status = operator_requests(namespace, Some(name))?
        .iter()
        .filter(|(verb, resource)| verb == "patch" && resource == "userpoolmfaconfigs/status")
        .count();
    let events = all
        .iter()
        .filter(|(verb, resource)| (verb == "create" || verb == "patch") && resource == "events")
        .count();
    Some((status, events))
}
