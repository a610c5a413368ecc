//! The emulator: pools, its per-call records (the call accounting) and its quota.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use super::blocking;
use test_kit::Env;

/// Creates `n` pools through the emulator's control API, up to 10,000 a request.
pub fn create_pools(env: &Env, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n)
        .map(|_| format!("us-east-1_{}", test_kit::random_suffix()))
        .collect();
    blocking(|| {
        for chunk in ids.chunks(10_000) {
            env.cognito.create_pools(chunk);
        }
    });
    ids
}

pub fn reset_calls(env: &Env) {
    let (status, body) = blocking(|| env.emulator("DELETE", "/_emulator/calls", None));
    assert_eq!(status, 200, "reset the emulator's call records: {body}");
}

pub struct CallRecord {
    pub operation: String,
    pub pool: String,
    /// Unix seconds.
    pub time: f64,
    pub error: Option<String>,
}

/// The emulator's call records for these pools.
pub fn calls_for(env: &Env, pools: &HashSet<&str>) -> Vec<CallRecord> {
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

pub fn count(calls: &[CallRecord], operation: &str) -> usize {
    calls.iter().filter(|c| c.operation == operation).count()
}

/// Sets the emulator's quota; turns it off again when dropped (also on panic).
pub struct Quota<'a>(&'a Env);

impl<'a> Quota<'a> {
    pub fn set(env: &'a Env, rps: f64) -> Self {
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
