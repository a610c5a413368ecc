//! The crate's error type.

use crate::cognito::CallError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Cognito call failed; its kind decides the condition reason and the retry.
    #[error("Cognito call failed: {0}")]
    Cognito(#[from] CallError),

    #[error("Kubernetes: {0}")]
    Kube(#[from] kube::Error),

    #[error("leader election failed: {0}")]
    LeaderElection(#[from] kube_lease_manager::LeaseManagerError),

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
