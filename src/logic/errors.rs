//! Kinds of failed Cognito calls, the condition reason each one shows, and how each is retried.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::conditions::Reason;

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// What went wrong with a Cognito call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind { $($(#[$doc])* $name),* }

        impl ErrorKind {
            /// Every kind, for exhaustive tests.
            pub const ALL: &[ErrorKind] = &[$(ErrorKind::$name),*];
        }
    };
}

kinds! {
    ConcurrentModification,
    InternalError,
    InvalidParameter,
    InvalidSmsRoleAccessPolicy,
    InvalidSmsRoleTrustRelationship,
    NotAuthorized,
    ResourceNotFound,
    TooManyRequests,
    FeatureUnavailableInTier,
    /// No usable credentials: none found, expired, or a role could not be assumed.
    Credentials,
    /// Connection refused, reset, DNS, TLS.
    Network,
    /// Connect or operation timeout.
    Timeout,
    /// A service error code not documented for these operations.
    Unknown,
}

/// How a failure is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Transient: exponential backoff with jitter, capped.
    Backoff,
    /// Often transient at first (IAM propagation): backoff for a while, then slow.
    BackoffThenSlow,
    /// May be fixed outside the operator later (pool created, permission granted): slow retry.
    Slow,
    /// Cannot succeed without a spec change: re-check only at the resync interval.
    AwaitChange,
    /// A failed Kubernetes API call of a pass (a conflict, the API server restarting): a short
    /// exponential backoff of its own, since Cognito's pacing has nothing to do with it.
    Kubernetes,
}

impl ErrorKind {
    /// Classifies a service error code (the `__type` of the response).
    pub fn from_code(code: &str) -> Self {
        match code.trim_end_matches("Exception") {
            "ConcurrentModification" => Self::ConcurrentModification,
            "InternalError" => Self::InternalError,
            "InvalidParameter" => Self::InvalidParameter,
            "InvalidSmsRoleAccessPolicy" => Self::InvalidSmsRoleAccessPolicy,
            "InvalidSmsRoleTrustRelationship" => Self::InvalidSmsRoleTrustRelationship,
            "NotAuthorized" | "UnrecognizedClient" | "InvalidSignature" | "AccessDenied" => {
                Self::NotAuthorized
            }
            // Session credentials ran out: fresh ones come from the chain, no permission is missing.
            "ExpiredToken" => Self::Credentials,
            "ResourceNotFound" => Self::ResourceNotFound,
            "TooManyRequests" | "Throttling" => Self::TooManyRequests,
            "FeatureUnavailableInTier" => Self::FeatureUnavailableInTier,
            _ => Self::Unknown,
        }
    }

    pub fn reason(self) -> Reason {
        match self {
            Self::ConcurrentModification => Reason::ConcurrentModification,
            Self::InternalError => Reason::InternalError,
            Self::InvalidParameter => Reason::InvalidParameter,
            Self::InvalidSmsRoleAccessPolicy => Reason::InvalidSmsRoleAccessPolicy,
            Self::InvalidSmsRoleTrustRelationship => Reason::InvalidSmsRoleTrustRelationship,
            Self::NotAuthorized => Reason::NotAuthorized,
            Self::ResourceNotFound => Reason::ResourceNotFound,
            Self::TooManyRequests => Reason::TooManyRequests,
            Self::FeatureUnavailableInTier => Reason::FeatureUnavailableInTier,
            Self::Credentials => Reason::CredentialsUnavailable,
            Self::Network => Reason::NetworkError,
            Self::Timeout => Reason::Timeout,
            Self::Unknown => Reason::UnknownServiceError,
        }
    }

    pub fn retry(self) -> RetryPolicy {
        match self {
            Self::TooManyRequests
            | Self::InternalError
            | Self::ConcurrentModification
            | Self::Network
            | Self::Timeout
            | Self::Unknown => RetryPolicy::Backoff,
            Self::InvalidSmsRoleAccessPolicy | Self::InvalidSmsRoleTrustRelationship => {
                RetryPolicy::BackoffThenSlow
            }
            Self::NotAuthorized | Self::Credentials | Self::ResourceNotFound => RetryPolicy::Slow,
            Self::InvalidParameter | Self::FeatureUnavailableInTier => RetryPolicy::AwaitChange,
        }
    }
}

/// An IAM role ARN in an SDK error text (STS names the role it would not let be assumed).
static ROLE_ARN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"arn:[\w-]+:iam::[0-9]{12}:role/[\w+=,.@/-]+").unwrap());

/// Classifies a call the service never answered. `context` is the SDK's whole error text,
/// `role` the role the call was to be made as. Credentials are resolved before the request is
/// sent, so a text about credentials means the credential chain or STS failed, even when the
/// cause was a network outage or a timeout of STS: that is not Cognito being unreachable.
pub fn local_failure(timed_out: bool, role: Option<&str>, context: &str) -> (ErrorKind, String) {
    if context.to_ascii_lowercase().contains("credential") {
        let message = match role.or_else(|| ROLE_ARN.find(context).map(|m| m.as_str())) {
            Some(role) => format!("could not assume role {role}: {context}"),
            None => context.to_owned(),
        };
        return (ErrorKind::Credentials, message);
    }
    let kind = if timed_out {
        ErrorKind::Timeout
    } else {
        ErrorKind::Network
    };
    (kind, context.to_owned())
}

const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(300);
const SLOW_BASE: Duration = Duration::from_secs(30);
const KUBERNETES_BASE: Duration = Duration::from_millis(200);
const KUBERNETES_CAP: Duration = Duration::from_secs(30);
/// Backoff attempts (about a minute in all) before IAM role errors are retried slowly.
const PROPAGATION_ATTEMPTS: u32 = 6;

/// Delay before the next attempt. `attempt` counts consecutive failures from 0; `jitter` is a
/// random number in [0, 1) that spreads retries over the upper half of the interval. No delay
/// exceeds the resync interval, so a short resync (tests) shortens every retry too.
pub fn retry_delay(policy: RetryPolicy, attempt: u32, resync: Duration, jitter: f64) -> Duration {
    let exp = |base: Duration, cap: Duration| base.saturating_mul(1u32 << attempt.min(20)).min(cap);
    let cap = BACKOFF_CAP.min(resync);
    let delay = match policy {
        RetryPolicy::Backoff => exp(BACKOFF_BASE, cap),
        RetryPolicy::BackoffThenSlow if attempt < PROPAGATION_ATTEMPTS => exp(BACKOFF_BASE, cap),
        RetryPolicy::BackoffThenSlow | RetryPolicy::AwaitChange => resync,
        RetryPolicy::Slow => exp(SLOW_BASE, resync),
        RetryPolicy::Kubernetes => exp(KUBERNETES_BASE, KUBERNETES_CAP.min(resync)),
    };
    delay.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MIN: Duration = Duration::from_secs(600);

    #[test]
    fn local_failures_have_their_reasons() {
        assert_eq!(ErrorKind::Network.reason(), Reason::NetworkError);
        assert_eq!(ErrorKind::Timeout.reason(), Reason::Timeout);
    }

    #[test]
    fn an_expired_token_is_a_credentials_problem_retried_slowly() {
        for code in ["ExpiredToken", "ExpiredTokenException"] {
            let kind = ErrorKind::from_code(code);
            assert_eq!(kind, ErrorKind::Credentials, "{code}");
            assert_eq!(kind.reason(), Reason::CredentialsUnavailable);
            assert_eq!(kind.retry(), RetryPolicy::Slow);
        }
    }

    #[test]
    fn failures_before_an_answer_are_credentials_timeouts_or_network() {
        const ROLE: &str = "arn:aws:iam::222222222222:role/mfa-b";
        // The SDK's texts when STS refuses AssumeRole, cannot be reached, or hangs.
        let refused = "dispatch failure: other: an error occurred while loading credentials: service error: unhandled error (AccessDenied): Error { code: \"AccessDenied\", message: \"User: arn:aws:sts::123456789012:user/op is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/mfa-b\" }";
        let unreachable = "dispatch failure: other: an error occurred while loading credentials: dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)";
        let hung = "dispatch failure: other: an error occurred while loading credentials: request has timed out: operation timeout (all attempts including retries) occurred after 1.5s";
        let (kind, message) = local_failure(false, None, refused);
        assert_eq!(kind, ErrorKind::Credentials);
        assert!(
            message.starts_with(&format!("could not assume role {ROLE}: ")),
            "{message}"
        );
        for (timed_out, text) in [(false, unreachable), (true, hung)] {
            let (kind, message) = local_failure(timed_out, Some(ROLE), text);
            assert_eq!(kind, ErrorKind::Credentials, "{text}");
            assert_eq!(message, format!("could not assume role {ROLE}: {text}"));
        }
        let missing = "dispatch failure: other: the credential provider was not enabled";
        assert_eq!(
            local_failure(false, None, missing),
            (ErrorKind::Credentials, missing.to_owned())
        );
        let cognito_down = "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            local_failure(false, Some(ROLE), cognito_down).0,
            ErrorKind::Network
        );
        assert_eq!(
            local_failure(true, Some(ROLE), "request has timed out").0,
            ErrorKind::Timeout
        );
    }

    #[test]
    fn retry_policy_per_kind() {
        use ErrorKind::*;
        let classes = [
            (
                RetryPolicy::Backoff,
                &[
                    TooManyRequests,
                    InternalError,
                    ConcurrentModification,
                    Network,
                    Timeout,
                    Unknown,
                ][..],
            ),
            (
                RetryPolicy::BackoffThenSlow,
                &[InvalidSmsRoleAccessPolicy, InvalidSmsRoleTrustRelationship],
            ),
            (
                RetryPolicy::Slow,
                &[NotAuthorized, Credentials, ResourceNotFound],
            ),
            (
                RetryPolicy::AwaitChange,
                &[InvalidParameter, FeatureUnavailableInTier],
            ),
        ];
        let mut listed = vec![];
        for (policy, kinds) in classes {
            for &k in kinds {
                assert_eq!(k.retry(), policy, "{k:?}");
                listed.push(k);
            }
        }
        let mut all = ErrorKind::ALL.to_vec();
        all.sort_by_key(|k| format!("{k:?}"));
        listed.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(listed, all, "each kind is in one class above");
    }

    /// `service_errors.json`: the table of error codes the tests and the emulator share.
    #[test]
    fn the_shared_table_of_error_codes_is_what_the_classifier_does() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("service_errors.json")).unwrap();
        let rows = table["errors"].as_array().unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        for row in rows {
            let code = row["code"].as_str().unwrap();
            let kind = ErrorKind::from_code(code);
            assert_eq!(format!("{kind:?}"), row["kind"].as_str().unwrap(), "{code}");
            assert_eq!(
                kind.reason().as_str(),
                row["reason"].as_str().unwrap(),
                "{code}"
            );
            // Some SDKs and services leave the suffix off.
            assert_eq!(
                ErrorKind::from_code(code.trim_end_matches("Exception")),
                kind,
                "{code}"
            );
            kinds.insert(format!("{kind:?}"));
        }
        // Every kind a service answer can give is in the table; the rest are local failures.
        let local = ["Network", "Timeout"];
        let expected: std::collections::BTreeSet<String> = ErrorKind::ALL
            .iter()
            .map(|k| format!("{k:?}"))
            .filter(|k| !local.contains(&k.as_str()))
            .collect();
        assert_eq!(kinds, expected);
    }

    #[test]
    fn each_kind_has_its_own_reason() {
        let reasons: std::collections::BTreeSet<_> =
            ErrorKind::ALL.iter().map(|k| k.reason().as_str()).collect();
        assert_eq!(reasons.len(), ErrorKind::ALL.len(), "{reasons:?}");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let d = |a, j| retry_delay(RetryPolicy::Backoff, a, TEN_MIN, j);
        assert_eq!(d(0, 1.0), Duration::from_secs(1));
        assert_eq!(d(0, 0.0), Duration::from_millis(500), "never a hot loop");
        assert_eq!(d(3, 1.0), Duration::from_secs(8));
        assert_eq!(d(3, 0.5), Duration::from_secs(6));
        assert_eq!(d(3, 0.0), Duration::from_secs(4));
        // Jitter outside [0, 1] is clamped.
        assert_eq!(d(3, 7.0), Duration::from_secs(8));
        assert_eq!(d(3, -1.0), Duration::from_secs(4));
        // 256 s is below the 5-minute cap, 512 s above it.
        assert_eq!(d(8, 1.0), Duration::from_secs(256));
        assert_eq!(d(9, 1.0), Duration::from_secs(300));
        assert_eq!(d(30, 1.0), Duration::from_secs(300));
        assert_eq!(d(u32::MAX, 1.0), Duration::from_secs(300));
        assert_eq!(
            retry_delay(RetryPolicy::Backoff, 30, Duration::from_secs(5), 1.0),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn kubernetes_errors_back_off_briefly() {
        let d = |a| retry_delay(RetryPolicy::Kubernetes, a, TEN_MIN, 1.0);
        assert_eq!(d(0), Duration::from_millis(200));
        assert_eq!(d(3), Duration::from_millis(1600));
        assert_eq!(d(7), Duration::from_millis(25_600), "below the 30 s cap");
        assert_eq!(d(8), Duration::from_secs(30), "51.2 s, capped");
        assert_eq!(d(20), Duration::from_secs(30));
        assert_eq!(
            retry_delay(RetryPolicy::Kubernetes, 20, Duration::from_secs(5), 1.0),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn slow_and_terminal_kinds_wait_long() {
        assert_eq!(
            retry_delay(RetryPolicy::Slow, 0, TEN_MIN, 1.0),
            Duration::from_secs(30)
        );
        assert_eq!(
            retry_delay(RetryPolicy::Slow, 4, TEN_MIN, 1.0),
            Duration::from_secs(480)
        );
        assert_eq!(
            retry_delay(RetryPolicy::Slow, 5, TEN_MIN, 1.0),
            TEN_MIN,
            "960 s, capped at the resync interval"
        );
        assert_eq!(retry_delay(RetryPolicy::Slow, 10, TEN_MIN, 1.0), TEN_MIN);
        assert_eq!(
            retry_delay(RetryPolicy::AwaitChange, 0, TEN_MIN, 1.0),
            TEN_MIN
        );
        assert_eq!(
            retry_delay(RetryPolicy::BackoffThenSlow, 0, TEN_MIN, 1.0),
            Duration::from_secs(1)
        );
        assert_eq!(
            retry_delay(RetryPolicy::BackoffThenSlow, 5, TEN_MIN, 1.0),
            Duration::from_secs(32)
        );
        assert_eq!(
            retry_delay(RetryPolicy::BackoffThenSlow, 6, TEN_MIN, 1.0),
            TEN_MIN
        );
    }
}
