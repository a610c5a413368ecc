//! The local environment as the phases use it: the emulator's pools, call records and quota,
//! operator processes, the resources and a watch on them.

pub mod emulator;
pub mod operator;
pub mod resources;
pub mod watch;

use std::time::{SystemTime, UNIX_EPOCH};

/// Now in unix seconds, the emulator's clock for its call records.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs blocking harness calls (HTTP to the emulator, waits on the operator) on the runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
