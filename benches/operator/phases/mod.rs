//! The benchmark's phases, one module each, in the order they run. Each phase has its own
//! operator process, namespace and pre-created pools, and returns what it measured; the report
//! (`report.rs`) judges the figures against the goals.

pub mod accounting;
pub mod apiserver_ceiling;
pub mod convergence;
pub mod fairness;
pub mod idle;
pub mod latency;
pub mod pacing;
pub mod saturated;
pub mod scale;
pub mod sdk_ceiling;
pub mod startup;
