//! The Cognito emulator (moto plus the project's extensions, `tests/support/cognito_emulator.py`)
//! as a child process, its control API, and the shared table of service error codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::repo;

/// A service error code from `src/logic/service_errors.json`, with what the operator makes of it.
pub struct ServiceError {
    pub code: String,
    /// The `ErrorKind` variant's name.
    pub kind: String,
    /// The Ready reason.
    pub reason: String,
}

/// Every row of the shared table of error codes.
pub fn service_errors() -> Vec<ServiceError> {
    let text = std::fs::read_to_string(repo().join("src/logic/service_errors.json")).unwrap();
    let table: serde_json::Value = serde_json::from_str(&text).unwrap();
    let field = |row: &serde_json::Value, key: &str| row[key].as_str().unwrap().to_owned();
    table["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| ServiceError {
            code: field(row, "code"),
            kind: field(row, "kind"),
            reason: field(row, "reason"),
        })
        .collect()
}

/// A running emulator on 127.0.0.1; stopped on drop, and by its own stdin closing if the test
/// process dies.
pub struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    api: EmulatorApi,
}

impl std::ops::Deref for Emulator {
    type Target = EmulatorApi;

    fn deref(&self) -> &EmulatorApi {
        &self.api
    }
}

/// The emulator's control API (under `/_emulator/`), wherever the emulator runs.
pub struct EmulatorApi {
    pub url: String,
}

impl Emulator {
    pub fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/cognito_emulator.py"))
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the Cognito emulator (install: pip install -r tests/support/requirements.txt)");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("emulator did not start: {line:?}"));
        Self {
            child,
            _stdin: stdin,
            api: EmulatorApi {
                url: format!("http://127.0.0.1:{port}"),
            },
        }
    }
}

impl EmulatorApi {
    /// A control API call; returns the HTTP status and the JSON body.
    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(&self.url, method, path, body)
    }

    /// Creates a pool with a random ID in `region` (Essentials plan, SES email sending).
    pub fn create_pool(&self, region: &str) -> String {
        self.create_pool_with(region, "ESSENTIALS", "DEVELOPER")
    }

    pub fn create_pool_with(&self, region: &str, tier: &str, email: &str) -> String {
        let id = format!("{region}_{}", random_suffix());
        self.create_pool_id(&id, tier, email);
        id
    }

    /// Creates a pool with a random ID in `region` of AWS account `account` (Essentials plan, SES
    /// email sending); only credentials of that account (from AssumeRole of one of its roles) see it.
    pub fn create_pool_in(&self, account: &str, region: &str) -> String {
        let id = format!("{region}_{}", random_suffix());
        let (status, body) = self.control(
            "POST",
            "/_emulator/pools",
            Some(json!({
                "id": id,
                "account": account,
                "tier": "ESSENTIALS",
                "emailSendingAccount": "DEVELOPER",
            })),
        );
        assert_eq!(status, 200, "create pool {id} in account {account}: {body}");
        id
    }

    /// Creates a pool with exactly this ID.
    pub fn create_pool_id(&self, id: &str, tier: &str, email: &str) {
        let (status, body) = self.control(
            "POST",
            "/_emulator/pools",
            Some(json!({"id": id, "tier": tier, "emailSendingAccount": email})),
        );
        assert_eq!(status, 200, "create pool {id}: {body}");
    }

    /// Creates pools with exactly these IDs in one request (Essentials plan, SES email sending),
    /// all or none.
    pub fn create_pools(&self, ids: &[String]) {
        let (status, body) = self.control(
            "POST",
            "/_emulator/pools",
            Some(json!({"ids": ids, "tier": "ESSENTIALS", "emailSendingAccount": "DEVELOPER"})),
        );
        assert_eq!(status, 200, "create {} pools: {body}", ids.len());
    }

    /// Answers matching calls for `pool` with `error` until cleared (or `count` times).
    pub fn fault(&self, pool: &str, operation: &str, error: &str, extra: Value) -> String {
        let mut spec = json!({"operation": operation, "error": error, "poolId": pool, "message": format!("injected {error}")});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        let (status, body) = self.control("POST", "/_emulator/faults", Some(spec));
        assert_eq!(status, 200, "inject fault: {body}");
        body["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body["id"].to_string())
    }

    pub fn clear_faults(&self) {
        self.control("DELETE", "/_emulator/faults", None);
    }

    /// Clears the faults injected for one pool.
    pub fn clear_pool_faults(&self, pool: &str) {
        let (_, body) = self.control("GET", "/_emulator/faults", None);
        for fault in body["faults"].as_array().into_iter().flatten() {
            if fault["poolId"] == pool {
                let id = fault["id"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| fault["id"].to_string());
                self.control("DELETE", &format!("/_emulator/faults/{id}"), None);
            }
        }
    }

    /// Calls of `operation` recorded for `pool`.
    pub fn calls(&self, pool: &str, operation: &str) -> u64 {
        let (_, body) = self.control(
            "GET",
            &format!("/_emulator/calls?poolId={pool}&operation={operation}"),
            None,
        );
        body["total"][operation].as_u64().unwrap_or(0)
    }

    /// Lets STS AssumeRole assume `arn` (with exactly `external_id`, if given; session tags allowed).
    pub fn add_role(&self, arn: &str, external_id: Option<&str>) {
        let (status, body) = self.control(
            "POST",
            "/_emulator/roles",
            Some(json!({"arn": arn, "externalId": external_id})),
        );
        assert_eq!(status, 200, "register role {arn}: {body}");
    }

    /// The call records of `operation` for `pool` (an empty `pool`: of every pool, e.g. for
    /// AssumeRole), oldest first: `accessKeyId`, `account`, `principal` (`arn`, `roleArn`,
    /// `sessionName`, `sessionTags`, `externalId`; null for static keys), `status`, `error`, ...
    pub fn call_records(&self, pool: &str, operation: &str) -> Vec<Value> {
        let (status, body) = self.control(
            "GET",
            &format!("/_emulator/calls?poolId={pool}&operation={operation}"),
            None,
        );
        assert_eq!(status, 200, "read call records: {body}");
        body["calls"].as_array().cloned().unwrap_or_default()
    }

    /// The pool's MFA configuration as the emulator holds it (not counted as a call).
    pub fn mfa(&self, pool: &str) -> Value {
        let (status, body) = self.control("GET", &format!("/_emulator/pools/{pool}/mfa"), None);
        assert_eq!(status, 200, "read pool MFA: {body}");
        body
    }

    /// Changes the pool behind the operator's back.
    pub fn put_mfa(&self, pool: &str, config: Value) {
        let (status, body) =
            self.control("PUT", &format!("/_emulator/pools/{pool}/mfa"), Some(config));
        assert_eq!(status, 200, "write pool MFA: {body}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Minimal HTTP/1.1 client for the emulator's control API (plain JSON over loopback).
pub fn http(base: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, payload) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        serde_json::from_str(payload).unwrap_or(Value::String(payload.to_owned())),
    )
}
