//! The crate's error type. A failed Kubernetes call is named after the step that made it, so
//! that the metrics, the log and the retry tell the steps apart. (A failed Cognito call is no
//! error of a pass: it is an outcome, shown in the resource's status.)

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to Kubernetes: {0}")]
    Client(#[source] kube::Error),

    #[error("adding or removing the finalizer: {0}")]
    Finalizer(#[source] kube::Error),

    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),

    #[error("publishing an event: {0}")]
    Event(#[source] kube::Error),

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The `result` label of `cognito_mfa_reconciles_total` for a pass that ended with it.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Client(_) => "KubeClientError",
            Error::Finalizer(_) => "KubeFinalizerError",
            Error::Status(_) => "KubeStatusError",
            Error::Event(_) => "KubeEventError",
            Error::Io(_) => "IoError",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
