//! The local environment as the phases use it: the emulator's pools, call records and quota,
//! operator processes and the resources (the watch on them is `test_kit::watch`).

pub mod emulator;
pub mod operator;
pub mod resources;

pub use test_kit::unix_now;

/// Runs blocking harness calls (HTTP to the emulator, waits on the operator) on the runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
