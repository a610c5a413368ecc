//! The conditions: `Ready`, with its reasons, and kstatus' `Reconciling` and `Stalled`, which let
//! generic tools (Flux, kapp, Argo CD, `kubectl wait`) tell "still working" from "needs a
//! person" without knowing the reasons.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{READY, RECONCILING, STALLED};

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

impl Reason {
    /// Whether progress needs a person (kstatus `Stalled`): the spec, an access policy, IAM, the
    /// pool's feature plan or the pool itself must change first. The other failures are retried
    /// by the operator (`Reconciling`). `Observe` mode's drift stalls: the operator never
    /// writes, so only a person can bring pool and spec together.
    pub fn stalls(self) -> bool {
        match self {
            Reason::InvalidSpec
            | Reason::NotPermitted
            | Reason::BelowMfaFloor
            | Reason::PartitionMismatch
            | Reason::Conflict
            | Reason::DriftDetected
            | Reason::InvalidParameter
            | Reason::FeatureUnavailableInTier
            | Reason::NotAuthorized
            | Reason::CredentialsUnavailable
            | Reason::ResourceNotFound => true,
            Reason::Synced
            | Reason::ConcurrentModification
            | Reason::InternalError
            | Reason::InvalidSmsRoleAccessPolicy
            | Reason::InvalidSmsRoleTrustRelationship
            | Reason::TooManyRequests
            | Reason::NetworkError
            | Reason::Timeout
            | Reason::UnknownServiceError => false,
        }
    }
}

/// The conditions a pass that ended with `reason` sets: `Ready` (True only when `Synced`),
/// `Reconciling` (True while the operator retries) and `Stalled` (True when it needs a person),
/// all with the reason and message of the pass. A condition's `lastTransitionTime` moves only
/// when its status flips.
pub fn after_pass(
    prev: &[Condition],
    reason: Reason,
    message: &str,
    generation: i64,
    now: &Time,
) -> [Condition; 3] {
    let synced = reason == Reason::Synced;
    let condition = |type_: &str, on: bool| {
        let status = if on { "True" } else { "False" };
        let last_transition_time = match prev.iter().find(|c| c.type_ == type_) {
            Some(p) if p.status == status => p.last_transition_time.clone(),
            _ => now.clone(),
        };
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.as_str().into(),
            message: message.into(),
            observed_generation: Some(generation),
            last_transition_time,
        }
    };
    [
        condition(READY, synced),
        condition(RECONCILING, !synced && !reason.stalls()),
        condition(STALLED, reason.stalls()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    fn status_of<'a>(conditions: &'a [Condition], type_: &str) -> &'a str {
        &conditions.iter().find(|c| c.type_ == type_).unwrap().status
    }

    #[test]
    fn transition_time_moves_only_on_a_flip() {
        let first = after_pass(&[], Reason::TooManyRequests, "slow down", 1, &at(10));
        assert!(first.iter().all(|c| c.last_transition_time == at(10)));
        let second = after_pass(&first, Reason::InternalError, "boom", 2, &at(20));
        assert!(
            second.iter().all(|c| c.last_transition_time == at(10)),
            "same statuses, other reason: no transition"
        );
        assert!(second.iter().all(|c| c.reason == "InternalError"
            && c.message == "boom"
            && c.observed_generation == Some(2)));

        let synced = after_pass(&second, Reason::Synced, "ok", 2, &at(30));
        let time = |cs: &[Condition], t: &str| {
            cs.iter()
                .find(|c| c.type_ == t)
                .unwrap()
                .last_transition_time
                .clone()
        };
        assert_eq!(time(&synced, READY), at(30), "Ready flipped");
        assert_eq!(time(&synced, RECONCILING), at(30), "Reconciling flipped");
        assert_eq!(time(&synced, STALLED), at(10), "Stalled stayed False");
        assert_eq!(
            after_pass(&synced, Reason::Synced, "ok", 2, &at(40)),
            synced,
            "steady"
        );
    }

    #[test]
    fn kstatus_tells_working_from_needing_a_person() {
        use Reason::*;
        // (Ready, Reconciling, Stalled) for each reason, written out: a person must change the
        // spec, a policy, IAM, the pool or its plan for these to clear, the others the operator
        // retries by itself.
        const SYNCED: (&str, &str, &str) = ("True", "False", "False");
        const RETRYING: (&str, &str, &str) = ("False", "True", "False");
        const STUCK: (&str, &str, &str) = ("False", "False", "True");
        let table = [
            (Synced, SYNCED),
            (InvalidSpec, STUCK),
            (NotPermitted, STUCK),
            (BelowMfaFloor, STUCK),
            (PartitionMismatch, STUCK),
            (Conflict, STUCK),
            (DriftDetected, STUCK),
            (ConcurrentModification, RETRYING),
            (InternalError, RETRYING),
            (InvalidParameter, STUCK),
            (InvalidSmsRoleAccessPolicy, RETRYING),
            (InvalidSmsRoleTrustRelationship, RETRYING),
            (NotAuthorized, STUCK),
            (ResourceNotFound, STUCK),
            (TooManyRequests, RETRYING),
            (FeatureUnavailableInTier, STUCK),
            (CredentialsUnavailable, STUCK),
            (NetworkError, RETRYING),
            (Timeout, RETRYING),
            (UnknownServiceError, RETRYING),
        ];
        let listed: std::collections::HashSet<Reason> = table.iter().map(|(r, _)| *r).collect();
        assert_eq!(
            (listed.len(), table.len()),
            (Reason::ALL.len(), Reason::ALL.len()),
            "every reason is in the table, once"
        );
        for (reason, want) in table {
            let cs = after_pass(&[], reason, "m", 1, &at(1));
            let statuses = (
                status_of(&cs, READY),
                status_of(&cs, RECONCILING),
                status_of(&cs, STALLED),
            );
            assert_eq!(statuses, want, "{reason}");
        }
    }

    #[test]
    fn what_the_operator_retries_by_itself_never_stalls() {
        use crate::logic::errors::{ErrorKind, RetryPolicy};
        for &kind in ErrorKind::ALL {
            let quick = matches!(
                kind.retry(),
                RetryPolicy::Backoff | RetryPolicy::BackoffThenSlow
            );
            assert_eq!(kind.reason().stalls(), !quick, "{kind:?}");
        }
    }
}
