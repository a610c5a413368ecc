//! Pure decision logic: no network, no clock, no randomness of its own. Everything here is
//! tested without any server; the IO layer (`crate::controller`, `crate::cognito`) feeds it
//! observed state and carries out what it decides.
pub mod access;
pub mod conditions;
pub mod drift;
pub mod errors;
pub mod ownership;
pub mod partitions;
pub mod plan;
pub mod resync;
pub mod shard;
pub mod validation;
pub mod watch;
