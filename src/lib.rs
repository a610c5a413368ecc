//! Kubernetes operator that keeps Amazon Cognito user pool MFA configuration equal to a
//! declared `UserPoolMfaConfig`.
//!
//! `logic` holds the pure decisions; `cognito`, `controller`, `http` and `operator` do the IO.
pub mod api;
pub mod claims;
pub mod cli;
pub mod cognito;
pub mod controller;
pub mod error;
pub mod events;
pub mod http;
pub mod leader;
pub mod logic;
pub mod metrics;
pub mod operator;
pub mod pacing;
pub mod queue;
pub mod tools;
