//! The local API server's audit log: the requests the operator made, counted.

use serde_json::Value;

use crate::env::env;

/// Requests the operator made to the API server about one object, from the local environment's
/// audit log: (verb, resource with its subresource) pairs, e.g. ("patch",
/// "userpoolmfaconfigs/status"), in order. Counts requests, not changes: a status apply that
/// changes nothing still shows. `None` on a cluster (no audit log).
pub fn operator_requests(namespace: &str, name: Option<&str>) -> Option<Vec<(String, String)>> {
    let dir = env().dir.as_ref()?;
    let log = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    Some(
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            // Each request is logged at each stage it reaches; count it once.
            .filter(|e| e["stage"] == "ResponseComplete")
            .filter(|e| {
                e["user"]["username"] == "cognito-mfa-operator"
                    && e["objectRef"]["namespace"] == namespace
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
