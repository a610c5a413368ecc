//! The `Ready` condition: its reasons and how it changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Every reason the `Ready` condition can carry (documented in the README).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason { $($(#[$doc])* $name),* }

        impl Reason {
            /// All reasons, for documentation checks and metrics.
            pub const ALL: &[Reason] = &[$(Reason::$name),*];

            /// The CamelCase name written to the condition.
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$name => stringify!($name)),* }
            }
        }
    };
}

reasons! {
    /// The pool's MFA configuration matches the spec.
    Synced,
    /// The spec breaks a rule of the service; nothing was sent to Cognito.
    InvalidSpec,
    /// No UserPoolAccessPolicy lets this namespace use this pool, or one forbids the spec's
    /// management or deletion policy; nothing was sent to Cognito.
    NotPermitted,
    /// The spec is below the MFA floor a UserPoolAccessPolicy sets for the pool; nothing was sent.
    BelowMfaFloor,
    /// The pool's AWS partition (aws-cn, aws-us-gov, ...) is not the partition of the credentials
    /// the operator would call it with; nothing was sent.
    PartitionMismatch,
    /// An older resource manages the same pool; this one makes no call.
    Conflict,
    /// `Observe` mode: the pool differs from the spec.
    DriftDetected,
    ConcurrentModification,
    InternalError,
    InvalidParameter,
    InvalidSmsRoleAccessPolicy,
    InvalidSmsRoleTrustRelationship,
    NotAuthorized,
    ResourceNotFound,
    TooManyRequests,
    FeatureUnavailableInTier,
    /// No AWS credentials could be loaded.
    CredentialsUnavailable,
    /// Cognito could not be reached.
    NetworkError,
    /// Cognito did not answer in time.
    Timeout,
    /// Cognito answered with an error code this operator does not know.
    UnknownServiceError,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const READY: &str = "Ready";

/// The new `Ready` condition. `lastTransitionTime` moves only when the status flips.
pub fn ready(
    prev: Option<&Condition>,
    ok: bool,
    reason: Reason,
    message: String,
    generation: i64,
    now: &Time,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let last_transition_time = match prev {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: READY.into(),
        status: status.into(),
        reason: reason.as_str().into(),
        message,
        observed_generation: Some(generation),
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_on_a_flip() {
        let first = ready(
            None,
            false,
            Reason::TooManyRequests,
            "slow down".into(),
            1,
            &at(10),
        );
        assert_eq!(first.last_transition_time, at(10));
        assert_eq!(first.status, "False");

        let same_status_other_reason = ready(
            Some(&first),
            false,
            Reason::InternalError,
            "boom".into(),
            2,
            &at(20),
        );
        assert_eq!(same_status_other_reason.last_transition_time, at(10));
        assert_eq!(same_status_other_reason.reason, "InternalError");
        assert_eq!(same_status_other_reason.observed_generation, Some(2));

        let flipped = ready(
            Some(&same_status_other_reason),
            true,
            Reason::Synced,
            "ok".into(),
            2,
            &at(30),
        );
        assert_eq!(flipped.last_transition_time, at(30));
        assert_eq!(flipped.status, "True");

        let steady = ready(
            Some(&flipped),
            true,
            Reason::Synced,
            "ok".into(),
            2,
            &at(40),
        );
        assert_eq!(steady, flipped);
    }

    #[test]
    fn reason_names_are_unique_camel_case() {
        let mut names: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().next().unwrap().is_ascii_uppercase()
                    && n.chars().all(|c| c.is_ascii_alphanumeric()))
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
    }
}
