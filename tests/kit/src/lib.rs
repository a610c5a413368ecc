//! The test kit: what the end-to-end suite (`tests/e2e`), the Cognito client tests
//! (`tests/cognito.rs`, `tests/cli.rs`) and the benchmark (`benches/operator`) share.
//!
//! - [`env`]: the local environment from `tests/env/up` (a real API server and the Cognito
//!   emulator) or any cluster, with kubectl and the kube client;
//! - [`emulator`]: the emulator as a child process, its control API, the error-code table;
//! - [`operator`]: the operator binary as a child process and its HTTP server;
//! - [`resources`], [`wait`]: resources as tests write them, and waits on their status;
//! - [`proxy`]: a TCP proxy to the API server that a test can cut;
//! - [`audit`]: the operator's (or any user's) requests, from the API server's audit log;
//! - [`watch`]: a watch tracking when each resource became Ready;
//! - [`procfs`]: CPU and memory of processes from /proc.

pub mod audit;
pub mod emulator;
pub mod env;
pub mod operator;
pub mod procfs;
pub mod proxy;
pub mod resources;
pub mod wait;
pub mod watch;

pub use audit::{
    OPERATOR_USER, SERVICE_ACCOUNT_USER, operator_answered, operator_requests, requests_of,
    status_and_event_writes,
};
pub use emulator::{Emulator, EmulatorApi, random_suffix, service_errors};
pub use env::{Env, LoadedRbac, Output, env, isolated_env};
pub use operator::{Operator, OperatorOptions, http_get};
pub use proxy::Proxy;
pub use resources::{create, delete, resource, totp_on};
pub use wait::{
    change_spec_and_wait_synced, ready_at_generation, synced_totp, wait_for, wait_reason,
    wait_until,
};

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .unwrap()
}

/// Now in unix seconds, the emulator's clock for its call records.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
