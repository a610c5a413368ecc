//! What a reconcile pass calls, and what it then writes to status and to events.
//!
//! The call pattern is the operator's performance contract: a new generation in `Manage` mode
//! is one `SetUserPoolMfaConfig` with the complete configuration and no read before it; a
//! resync is one `GetUserPoolMfaConfig`, followed by one write only when the pool drifted; and a
//! steady state writes nothing, neither to Cognito nor to the status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::access::Grant;
use super::conditions::{self, Reason};
use super::drift::{diff, normalise, reset};
use super::errors::ErrorKind;
use crate::api::{
    CallerIdentity, DeletionPolicy, ManagementPolicy, MfaSettings, OURS, UserPoolMfaConfigSpec,
    UserPoolMfaConfigStatus,
};

/// The first Cognito call of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// SetUserPoolMfaConfig with this complete configuration.
    Write(MfaSettings),
    /// GetUserPoolMfaConfig.
    Read,
    /// `deletionPolicy: Restore` before the first write: GetUserPoolMfaConfig, keeping what the
    /// pool holds to put back at deletion, then SetUserPoolMfaConfig with this configuration
    /// unless the pool holds it already.
    Adopt(MfaSettings),
}

/// Writes when the pool may not hold this generation yet; reads otherwise.
pub fn first_call(
    spec: &UserPoolMfaConfigSpec,
    status: Option<&UserPoolMfaConfigStatus>,
    generation: i64,
) -> Call {
    let desired = normalise(spec.mfa.clone());
    if spec.management_policy == ManagementPolicy::Observe {
        return Call::Read;
    }
    let adopting = spec.deletion_policy == DeletionPolicy::Restore
        && status.is_none_or(|s| s.original_configuration.is_none() && s.last_sync_time.is_none());
    if adopting {
        return Call::Adopt(desired);
    }
    let new_generation = status.and_then(|s| s.observed_generation) != Some(generation);
    let confirmed = status
        .and_then(|s| s.live_configuration.as_ref())
        .is_some_and(|live| diff(&desired, live).is_empty());
    if new_generation || !confirmed {
        Call::Write(desired)
    } else {
        Call::Read
    }
}

/// What a successful read means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRead {
    InSync,
    /// `Manage`: write the desired configuration once to correct these fields.
    Correct(Vec<&'static str>),
    /// `Observe`: report these fields as drifted.
    Drifted(Vec<&'static str>),
}

pub fn after_read(spec: &UserPoolMfaConfigSpec, live: &MfaSettings) -> AfterRead {
    let fields = diff(&spec.mfa, live);
    match (fields.is_empty(), spec.management_policy) {
        (true, _) => AfterRead::InSync,
        (false, ManagementPolicy::Manage) => AfterRead::Correct(fields),
        (false, ManagementPolicy::Observe) => AfterRead::Drifted(fields),
    }
}

/// The verdict of a pass: its reason (`Synced` when the pool matches) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub reason: Reason,
    pub message: String,
}

impl Verdict {
    pub fn synced(pool: &str, live: &MfaSettings) -> Self {
        Self {
            reason: Reason::Synced,
            message: format!("pool {pool} matches the spec ({})", summary(live)),
        }
    }

    pub fn failed(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    pub fn drifted(pool: &str, fields: &[&str]) -> Self {
        Self::failed(
            Reason::DriftDetected,
            format!(
                "pool {pool} differs from the spec in: {}",
                fields.join(", ")
            ),
        )
    }

    /// Names the owner only when it is in the reader's own namespace.
    pub fn conflict(pool: &str, namespace: &str, owner_namespace: &str, owner_name: &str) -> Self {
        let owner = if owner_namespace == namespace {
            format!("the older resource {owner_name} in this namespace")
        } else {
            "an older resource in another namespace".to_owned()
        };
        Self::failed(
            Reason::Conflict,
            format!("pool {pool} is already managed by {owner}"),
        )
    }
}

/// One line naming the mode and the enabled factors, e.g. `MFA ON: TOTP, email`.
pub fn summary(s: &MfaSettings) -> String {
    let s = normalise(s.clone());
    let factors: Vec<&str> = [
        (s.software_token_mfa_configuration.is_some(), "TOTP"),
        (s.sms_mfa_configuration.is_some(), "SMS"),
        (s.email_mfa_configuration.is_some(), "email"),
        (s.web_authn_configuration.is_some(), "WebAuthn settings"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if factors.is_empty() {
        format!("MFA {}", s.mfa_configuration.as_str())
    } else {
        format!(
            "MFA {}: {}",
            s.mfa_configuration.as_str(),
            factors.join(", ")
        )
    }
}

/// What a pass observed of the resource and of Cognito, for its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The configuration Cognito returned, when the pass read or wrote it.
    pub live: Option<MfaSettings>,
    /// Who called Cognito, when the pass did.
    pub identity: Option<CallerIdentity>,
    /// The resource's reconcile request annotation, if it has one.
    pub requested_at: Option<String>,
    /// What the pool held before the first write, when the pass read it for `Restore`.
    pub original: Option<MfaSettings>,
}

/// The status after a pass. What the pass observed replaces what the status recorded;
/// `lastSyncTime` moves only when a successful pass changed something, so an unchanged status
/// is written zero times.
pub fn next_status(
    prev: Option<&UserPoolMfaConfigStatus>,
    generation: i64,
    verdict: &Verdict,
    observed: Observed,
    now: &Time,
) -> UserPoolMfaConfigStatus {
    let Observed {
        live,
        identity,
        requested_at,
        original,
    } = observed;
    let prev_conditions = prev.map(|p| p.conditions.to_vec()).unwrap_or_default();
    let ours = conditions::after_pass(
        &prev_conditions,
        verdict.reason,
        &verdict.message,
        generation,
        now,
    );
    // Conditions of other writers are kept, after ours.
    let others = prev_conditions
        .into_iter()
        .filter(|c| !OURS.contains(&c.type_.as_str()));
    let conditions = ours.into_iter().chain(others).collect();
    let mut next = UserPoolMfaConfigStatus {
        observed_generation: Some(generation),
        conditions,
        live_configuration: live
            .map(normalise)
            .or_else(|| prev.and_then(|p| p.live_configuration.clone())),
        original_configuration: original
            .map(|o| Box::new(normalise(o)))
            .or_else(|| prev.and_then(|p| p.original_configuration.clone())),
        identity: identity.or_else(|| prev.and_then(|p| p.identity.clone())),
        last_sync_time: prev.and_then(|p| p.last_sync_time.clone()),
        last_handled_reconcile_at: requested_at
            .or_else(|| prev.and_then(|p| p.last_handled_reconcile_at.clone())),
    };
    if verdict.reason == Reason::Synced && prev != Some(&next) {
        next.last_sync_time = Some(now.clone());
    }
    next
}

/// What the operator applies of a status (server-side, as its own field manager): all of it but
/// other writers' conditions, which stay theirs. `next_status` keeps them in the status it
/// returns only so that it compares whole with the one read.
pub fn applied(status: &UserPoolMfaConfigStatus) -> UserPoolMfaConfigStatus {
    UserPoolMfaConfigStatus {
        conditions: status
            .conditions
            .to_vec()
            .into_iter()
            .filter(|c| OURS.contains(&c.type_.as_str()))
            .collect(),
        ..status.clone()
    }
}

/// The result of a pass: its verdict, what Cognito reported, what was written, who called, and
/// the error kind that decides the retry (when the pass failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub live: Option<MfaSettings>,
    pub wrote: Wrote,
    /// Set when the pass called Cognito.
    pub identity: Option<CallerIdentity>,
    pub failed: Option<ErrorKind>,
    /// What the pool held before the first write (`Call::Adopt`).
    pub original: Option<MfaSettings>,
}

impl Outcome {
    /// A verdict reached without calling Cognito (or without a usable answer).
    pub fn verdict(verdict: Verdict) -> Self {
        Self {
            verdict,
            live: None,
            wrote: Wrote::Nothing,
            identity: None,
            failed: None,
            original: None,
        }
    }

    pub fn synced(pool: &str, live: MfaSettings, wrote: Wrote) -> Self {
        Self {
            verdict: Verdict::synced(pool, &live),
            live: Some(live),
            wrote,
            identity: None,
            failed: None,
            original: None,
        }
    }

    /// A failed call; `live` is what an earlier call of the same pass read, if any.
    pub fn failed(kind: ErrorKind, message: impl Into<String>, live: Option<MfaSettings>) -> Self {
        Self {
            verdict: Verdict::failed(kind.reason(), message),
            live,
            wrote: Wrote::Nothing,
            identity: None,
            failed: Some(kind),
            original: None,
        }
    }
}

/// An event worth publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
    pub reason: EventReason,
    pub note: String,
}

/// Every reason an event of the operator carries (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventReason {
    /// The spec was written to the pool.
    Applied,
    /// The pool had drifted and was put back.
    DriftCorrected,
    /// MFA turned OFF before deletion (`deletionPolicy: Reset`).
    MfaReset,
    /// The configuration from before the resource put back at deletion (`Restore`).
    MfaRestored,
    /// Deletion left the pool as it was; the note says why.
    ResetSkipped,
    /// The status could not be written several times in a row.
    StatusWriteFailed,
    /// The `Ready` condition changed to this reason.
    Ready(Reason),
}

impl EventReason {
    /// The reasons besides the `Ready` ones.
    pub const OWN: [EventReason; 6] = [
        EventReason::Applied,
        EventReason::DriftCorrected,
        EventReason::MfaReset,
        EventReason::MfaRestored,
        EventReason::ResetSkipped,
        EventReason::StatusWriteFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventReason::Applied => "Applied",
            EventReason::DriftCorrected => "DriftCorrected",
            EventReason::MfaReset => "MfaReset",
            EventReason::MfaRestored => "MfaRestored",
            EventReason::ResetSkipped => "ResetSkipped",
            EventReason::StatusWriteFailed => "StatusWriteFailed",
            EventReason::Ready(reason) => reason.as_str(),
        }
    }
}

/// The API server refuses an event whose note exceeds 1 KiB of UTF-8.
const NOTE_LIMIT: usize = 1024;

impl Notice {
    /// The note as it can be sent: cut at the last character boundary within the limit, since
    /// service messages (and the SDK's error texts) are not ASCII-only.
    pub fn sendable_note(&self) -> &str {
        &self.note[..self.note.floor_char_boundary(NOTE_LIMIT)]
    }
}

/// Failed status writes in a row after which the resource gets a Warning event: its `Ready`
/// condition cannot say what is wrong, since that is what does not get written.
pub const STATUS_FAILURES_WARNED: u32 = 3;

/// The Warning for the `failures`-th status write in a row that failed with `error`: once per
/// streak, so a status that stays unwritable does not produce an event per retry.
pub fn status_failure_notice(failures: u32, error: &str) -> Option<Notice> {
    (failures == STATUS_FAILURES_WARNED).then(|| Notice {
        warning: true,
        reason: EventReason::StatusWriteFailed,
        note: format!("the status could not be written {failures} times in a row: {error}"),
    })
}

/// What the pass wrote to Cognito, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrote {
    Nothing,
    Applied,
    Corrected(Vec<&'static str>),
}

/// The event for a pass: every write is announced; otherwise only a changed `Ready` condition
/// (`next`, with `reason`) is, so a repeated identical error produces no new events.
pub fn notice(
    prev: Option<&Condition>,
    next: &Condition,
    reason: Reason,
    wrote: &Wrote,
) -> Option<Notice> {
    let normal = |reason, note| {
        Some(Notice {
            warning: false,
            reason,
            note,
        })
    };
    match wrote {
        Wrote::Applied => return normal(EventReason::Applied, next.message.clone()),
        Wrote::Corrected(fields) => {
            return normal(
                EventReason::DriftCorrected,
                format!("corrected drift in: {}", fields.join(", ")),
            );
        }
        Wrote::Nothing => {}
    }
    let changed = prev.is_none_or(|p| {
        (&p.status, &p.reason, &p.message) != (&next.status, &next.reason, &next.message)
    });
    if !changed {
        return None;
    }
    Some(Notice {
        warning: next.status != "True",
        reason: EventReason::Ready(reason),
        note: next.message.clone(),
    })
}

/// What deleting a resource that holds the Reset finalizer does to its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Turn the pool's MFA OFF, then release the finalizer.
    Reset,
    /// Put this configuration (from before the resource's first write) back, then release it.
    Restore(MfaSettings),
    /// Leave the pool as it is, say why in an event, and release the finalizer.
    Skip(String),
}

/// Decides from what holds at deletion time, not from what held when the finalizer was added:
/// the resource's current `deletionPolicy`, the access policies in force (`access`: the grant,
/// or why there is none), and whether this resource ever configured the pool.
pub fn deletion(
    spec: &UserPoolMfaConfigSpec,
    status: Option<&UserPoolMfaConfigStatus>,
    access: Result<&Grant, &str>,
    owned_elsewhere: bool,
) -> Deletion {
    let pool = &spec.user_pool_id;
    let skip = |why: String| Deletion::Skip(format!("pool {pool} left as it is: {why}"));
    if spec.deletion_policy == DeletionPolicy::Retain {
        return skip("deletionPolicy is Retain".into());
    }
    let grant = match access {
        Ok(grant) => grant,
        Err(why) => return skip(format!("this resource may not act on it ({why})")),
    };
    if owned_elsewhere {
        return skip("another resource manages it".into());
    }
    if status.and_then(|s| s.last_sync_time.as_ref()).is_none() {
        return skip("this resource never configured it".into());
    }
    let after = match spec.deletion_policy {
        DeletionPolicy::Restore => match status.and_then(|s| s.original_configuration.clone()) {
            Some(original) => Deletion::Restore(*original),
            None => {
                return skip(
                    "its configuration from before this resource was never recorded \
                         (deletionPolicy became Restore after the first write)"
                        .into(),
                );
            }
        },
        _ => Deletion::Reset,
    };
    let end_state = match &after {
        Deletion::Restore(original) => original.clone(),
        _ => reset(),
    };
    let missing = grant.floor.missing(&end_state);
    if !missing.is_empty() {
        return skip(format!(
            "its MFA floor ({}) forbids {} (missing: {})",
            grant.floor,
            match after {
                Deletion::Restore(_) => "the configuration it had before",
                _ => "turning MFA off",
            },
            missing.join(", ")
        ));
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::*;

    fn seen(live: Option<MfaSettings>) -> Observed {
        Observed {
            live,
            ..Observed::default()
        }
    }
    fn spec(yaml: &str) -> UserPoolMfaConfigSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }
    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }
    const TOTP: &str = "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}";

    fn synced_status(s: &UserPoolMfaConfigSpec, generation: i64) -> UserPoolMfaConfigStatus {
        next_status(
            None,
            generation,
            &Verdict::synced("p", &s.mfa),
            seen(Some(s.mfa.clone())),
            &at(1),
        )
    }

    #[test]
    fn new_resource_is_one_write_of_the_complete_configuration() {
        let s = spec(TOTP);
        assert_eq!(
            first_call(&s, None, 1),
            Call::Write(normalise(s.mfa.clone()))
        );
    }

    #[test]
    fn new_generation_writes_without_reading_even_if_live_matches() {
        let s = spec(TOTP);
        let st = synced_status(&s, 1);
        assert_eq!(
            first_call(&s, Some(&st), 2),
            Call::Write(normalise(s.mfa.clone()))
        );
    }

    #[test]
    fn confirmed_generation_resyncs_by_reading() {
        let s = spec(TOTP);
        let st = synced_status(&s, 3);
        assert_eq!(first_call(&s, Some(&st), 3), Call::Read);
        // Even when the last pass failed (e.g. a throttled read), a confirmed pool is read again.
        let failed = next_status(
            Some(&st),
            3,
            &Verdict::failed(Reason::TooManyRequests, "x"),
            Observed::default(),
            &at(2),
        );
        assert_eq!(first_call(&s, Some(&failed), 3), Call::Read);
    }

    #[test]
    fn unconfirmed_generation_retries_the_write() {
        let s = spec(TOTP);
        let failed = next_status(
            None,
            1,
            &Verdict::failed(Reason::InternalError, "x"),
            Observed::default(),
            &at(2),
        );
        assert!(matches!(first_call(&s, Some(&failed), 1), Call::Write(_)));
        let conflict = next_status(
            None,
            1,
            &Verdict::conflict("p", "a", "a", "b"),
            Observed::default(),
            &at(2),
        );
        assert!(matches!(first_call(&s, Some(&conflict), 1), Call::Write(_)));
    }

    #[test]
    fn observe_only_reads() {
        let s = spec(&format!("{TOTP}\nmanagementPolicy: Observe"));
        assert_eq!(first_call(&s, None, 1), Call::Read);
        assert_eq!(first_call(&s, Some(&synced_status(&s, 1)), 2), Call::Read);
    }

    #[test]
    fn read_results_by_policy() {
        let manage = spec(TOTP);
        let observe = spec(&format!("{TOTP}\nmanagementPolicy: Observe"));
        let off = spec("userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'").mfa;
        assert_eq!(after_read(&manage, &manage.mfa), AfterRead::InSync);
        assert_eq!(after_read(&observe, &manage.mfa), AfterRead::InSync);
        let fields = vec!["mfaConfiguration", "softwareTokenMfaConfiguration"];
        assert_eq!(
            after_read(&manage, &off),
            AfterRead::Correct(fields.clone())
        );
        assert_eq!(after_read(&observe, &off), AfterRead::Drifted(fields));
    }

    #[test]
    fn steady_state_status_is_unchanged() {
        let s = spec(TOTP);
        let first = synced_status(&s, 1);
        assert_eq!(first.last_sync_time, Some(at(1)));
        let again = next_status(
            Some(&first),
            1,
            &Verdict::synced("p", &s.mfa),
            seen(Some(s.mfa.clone())),
            &at(99),
        );
        assert_eq!(again, first, "no new timestamp when nothing changed");
    }

    #[test]
    fn failures_keep_live_and_sync_time_and_flip_ready() {
        let s = spec(TOTP);
        let first = synced_status(&s, 1);
        let failed = next_status(
            Some(&first),
            1,
            &Verdict::failed(Reason::NotAuthorized, "denied"),
            Observed::default(),
            &at(5),
        );
        assert_eq!(failed.live_configuration, first.live_configuration);
        assert_eq!(failed.last_sync_time, first.last_sync_time);
        let ready = failed.ready().unwrap();
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            ("False", "NotAuthorized", "denied")
        );
        assert_eq!(ready.last_transition_time, at(5));
        let recovered = next_status(
            Some(&failed),
            1,
            &Verdict::synced("p", &s.mfa),
            seen(Some(s.mfa.clone())),
            &at(7),
        );
        assert_eq!(recovered.last_sync_time, Some(at(7)));
        assert_eq!(recovered.ready().unwrap().last_transition_time, at(7));
    }

    #[test]
    fn a_handled_reconcile_request_is_echoed_and_kept() {
        let s = spec(TOTP);
        let first = synced_status(&s, 1);
        assert_eq!(first.last_handled_reconcile_at, None);
        let asked = Observed {
            requested_at: Some("2026-12-01T10:00:00Z".into()),
            ..seen(Some(s.mfa.clone()))
        };
        let handled = next_status(
            Some(&first),
            1,
            &Verdict::synced("p", &s.mfa),
            asked,
            &at(9),
        );
        assert_eq!(
            handled.last_handled_reconcile_at.as_deref(),
            Some("2026-12-01T10:00:00Z")
        );
        let later = next_status(
            Some(&handled),
            1,
            &Verdict::synced("p", &s.mfa),
            seen(Some(s.mfa.clone())),
            &at(10),
        );
        assert_eq!(
            later.last_handled_reconcile_at,
            handled.last_handled_reconcile_at
        );
    }

    #[test]
    fn live_is_recorded_normalised() {
        let mut live = spec(TOTP).mfa;
        live.web_authn_configuration = Some(WebAuthnConfig::default());
        let st = next_status(
            None,
            1,
            &Verdict::synced("p", &live),
            seen(Some(live)),
            &at(1),
        );
        assert_eq!(st.live_configuration.unwrap().web_authn_configuration, None);
    }

    #[test]
    fn events_for_writes_and_changes_only() {
        let s = spec(TOTP);
        let ok = synced_status(&s, 1);
        let ok_ready = ok.ready().unwrap();
        let n = notice(None, ok_ready, Reason::Synced, &Wrote::Applied).unwrap();
        assert_eq!(
            (n.warning, n.reason, n.note.as_str()),
            (
                false,
                EventReason::Applied,
                "pool p matches the spec (MFA ON: TOTP)"
            )
        );
        assert_eq!(
            notice(Some(ok_ready), ok_ready, Reason::Synced, &Wrote::Applied).map(|n| n.reason),
            Some(EventReason::Applied),
            "every write is announced, even when Ready stays the same"
        );
        assert_eq!(
            notice(Some(ok_ready), ok_ready, Reason::Synced, &Wrote::Nothing),
            None,
            "steady state is quiet"
        );
        let n = notice(
            Some(ok_ready),
            ok_ready,
            Reason::Synced,
            &Wrote::Corrected(vec!["mfaConfiguration"]),
        )
        .unwrap();
        assert_eq!(
            (n.warning, n.reason, n.note.as_str()),
            (
                false,
                EventReason::DriftCorrected,
                "corrected drift in: mfaConfiguration"
            )
        );

        let bad = next_status(
            Some(&ok),
            1,
            &Verdict::failed(Reason::TooManyRequests, "Rate exceeded"),
            Observed::default(),
            &at(2),
        );
        let bad_ready = bad.ready().unwrap();
        let n = notice(
            Some(ok_ready),
            bad_ready,
            Reason::TooManyRequests,
            &Wrote::Nothing,
        )
        .unwrap();
        assert_eq!(
            (n.warning, n.reason, n.note.as_str()),
            (
                true,
                EventReason::Ready(Reason::TooManyRequests),
                "Rate exceeded"
            )
        );
        assert_eq!(
            notice(
                Some(bad_ready),
                bad_ready,
                Reason::TooManyRequests,
                &Wrote::Nothing
            ),
            None,
            "a repeated error is not repeated"
        );
        let reworded = Condition {
            message: "Rate exceeded again".into(),
            ..bad_ready.clone()
        };
        assert_eq!(
            notice(
                Some(bad_ready),
                &reworded,
                Reason::TooManyRequests,
                &Wrote::Nothing
            )
            .map(|n| n.note),
            Some("Rate exceeded again".into()),
            "a new message is a change"
        );
        let n = notice(Some(bad_ready), ok_ready, Reason::Synced, &Wrote::Nothing).unwrap();
        assert_eq!(
            (n.warning, n.reason),
            (false, EventReason::Ready(Reason::Synced))
        );
    }

    #[test]
    fn outcomes_carry_the_kinds_reason_and_the_synced_summary() {
        let s = spec(TOTP);
        let failed = Outcome::failed(ErrorKind::Credentials, "expired", Some(s.mfa.clone()));
        assert_eq!(
            (failed.verdict.reason, failed.failed, &failed.wrote),
            (
                Reason::CredentialsUnavailable,
                Some(ErrorKind::Credentials),
                &Wrote::Nothing
            ),
            "the kind decides the retry, its reason the condition"
        );
        let synced = Outcome::synced("us-east-1_a", s.mfa.clone(), Wrote::Applied);
        assert_eq!(
            synced.verdict,
            Verdict {
                reason: Reason::Synced,
                message: "pool us-east-1_a matches the spec (MFA ON: TOTP)".into()
            }
        );
        assert_eq!(synced.failed, None, "a synced pass is not retried");
    }

    #[test]
    fn summary_names_mode_and_factors() {
        assert_eq!(summary(&spec(TOTP).mfa), "MFA ON: TOTP");
        assert_eq!(
            summary(&spec("userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'").mfa),
            "MFA OFF"
        );
        let all = spec(
            "userPoolId: us-east-1_a\nmfaConfiguration: OPTIONAL\nsoftwareTokenMfaConfiguration: {enabled: true}\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sns'}}\nemailMfaConfiguration: {}\nwebAuthnConfiguration: {userVerification: required}",
        );
        assert_eq!(
            summary(&all.mfa),
            "MFA OPTIONAL: TOTP, SMS, email, WebAuthn settings"
        );
        // Blocks that mean nothing (a disabled TOTP, WebAuthn at its defaults) are not named.
        let idle = spec(
            "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nsoftwareTokenMfaConfiguration: {enabled: false}\nwebAuthnConfiguration: {}",
        );
        assert_eq!(summary(&idle.mfa), "MFA OFF");
    }

    mod deletion {
        use super::*;
        use crate::logic::access::Floor;

        const RESET: &str = "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}\ndeletionPolicy: Reset";

        fn skipped_because(d: Deletion, why: &str) {
            match d {
                Deletion::Skip(note) => assert!(note.contains(why), "{note:?} says {why:?}"),
                other => panic!("expected a skip because {why}, not {other:?}"),
            }
        }

        #[test]
        fn resets_a_pool_this_resource_configured() {
            let s = spec(RESET);
            let st = synced_status(&s, 1);
            let g = Grant::unrestricted();
            assert_eq!(deletion(&s, Some(&st), Ok(&g), false), Deletion::Reset);
        }

        #[test]
        fn the_policy_in_force_at_deletion_decides() {
            let mut s = spec(RESET);
            let st = synced_status(&s, 1);
            s.deletion_policy = DeletionPolicy::Retain;
            let g = Grant::unrestricted();
            skipped_because(
                deletion(&s, Some(&st), Ok(&g), false),
                "deletionPolicy is Retain",
            );
        }

        #[test]
        fn never_configured_not_permitted_owned_elsewhere_or_floored_pools_are_left() {
            let s = spec(RESET);
            let g = Grant::unrestricted();
            skipped_because(deletion(&s, None, Ok(&g), false), "never configured");
            let never = next_status(
                None,
                1,
                &Verdict::failed(Reason::NotAuthorized, "denied"),
                Observed::default(),
                &at(1),
            );
            skipped_because(
                deletion(&s, Some(&never), Ok(&g), false),
                "never configured",
            );

            let st = synced_status(&s, 1);
            skipped_because(
                deletion(&s, Some(&st), Err("no policy lets it"), false),
                "no policy lets it",
            );
            skipped_because(deletion(&s, Some(&st), Ok(&g), true), "another resource");

            let floored = Grant {
                floor: Floor {
                    mode: MfaMode::On,
                    ..Floor::default()
                },
                ..Grant::unrestricted()
            };
            skipped_because(
                deletion(&s, Some(&st), Ok(&floored), false),
                "MFA floor (MFA ON)",
            );
        }
    }

    mod restore {
        use super::*;
        use crate::logic::access::Floor;

        const RESTORE: &str = "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}\ndeletionPolicy: Restore";
        const BEFORE: &str = "userPoolId: us-east-1_a\nmfaConfiguration: OPTIONAL\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sns'}}";

        /// The status after a first pass that read `original` and then wrote the spec.
        fn adopted(s: &UserPoolMfaConfigSpec, original: &MfaSettings) -> UserPoolMfaConfigStatus {
            next_status(
                None,
                1,
                &Verdict::synced("p", &s.mfa),
                Observed {
                    original: Some(original.clone()),
                    ..seen(Some(s.mfa.clone()))
                },
                &at(1),
            )
        }

        #[test]
        fn reads_once_before_the_first_write_and_keeps_what_it_read() {
            let s = spec(RESTORE);
            let original = spec(BEFORE).mfa;
            assert_eq!(
                first_call(&s, None, 1),
                Call::Adopt(normalise(s.mfa.clone()))
            );
            let st = adopted(&s, &original);
            assert_eq!(
                st.original_configuration,
                Some(Box::new(normalise(original.clone())))
            );
            assert_eq!(
                first_call(&s, Some(&st), 1),
                Call::Read,
                "no second adoption"
            );
            assert!(matches!(first_call(&s, Some(&st), 2), Call::Write(_)));
            // Later passes never replace it, whatever they see.
            let later = next_status(
                Some(&st),
                2,
                &Verdict::synced("p", &s.mfa),
                seen(Some(s.mfa.clone())),
                &at(2),
            );
            assert_eq!(later.original_configuration, st.original_configuration);

            // A failed read leaves nothing recorded: the next pass adopts again.
            let failed = next_status(
                None,
                1,
                &Verdict::failed(Reason::NetworkError, "down"),
                Observed::default(),
                &at(1),
            );
            assert_eq!(
                first_call(&s, Some(&failed), 1),
                Call::Adopt(normalise(s.mfa.clone()))
            );
        }

        #[test]
        fn only_restore_before_any_write_adopts() {
            let mut s = spec(RESTORE);
            s.deletion_policy = DeletionPolicy::Reset;
            assert!(matches!(first_call(&s, None, 1), Call::Write(_)));
            // Switched to Restore after its first write: what came before is unknown.
            let st = synced_status(&s, 1);
            s.deletion_policy = DeletionPolicy::Restore;
            assert!(matches!(first_call(&s, Some(&st), 2), Call::Write(_)));
            let g = Grant::unrestricted();
            match deletion(&s, Some(&st), Ok(&g), false) {
                Deletion::Skip(note) => assert!(note.contains("never recorded"), "{note}"),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn deletion_puts_back_what_was_there_unless_a_floor_forbids_it() {
            let s = spec(RESTORE);
            let original = normalise(spec(BEFORE).mfa);
            let st = adopted(&s, &original);
            let g = Grant::unrestricted();
            assert_eq!(
                deletion(&s, Some(&st), Ok(&g), false),
                Deletion::Restore(original.clone())
            );
            let floored = Grant {
                floor: Floor {
                    mode: MfaMode::On,
                    ..Floor::default()
                },
                ..Grant::unrestricted()
            };
            match deletion(&s, Some(&st), Ok(&floored), false) {
                Deletion::Skip(note) => assert!(
                    note.contains("MFA floor (MFA ON) forbids the configuration it had before"),
                    "{note}"
                ),
                other => panic!("{other:?}"),
            }
            // An original that meets the floor is put back under it.
            let on = normalise(spec(TOTP).mfa);
            assert_eq!(
                deletion(&s, Some(&adopted(&s, &on)), Ok(&floored), false),
                Deletion::Restore(on)
            );
            // The common rules hold as for Reset.
            match deletion(&s, Some(&st), Ok(&g), true) {
                Deletion::Skip(note) => assert!(note.contains("another resource"), "{note}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn other_writers_conditions_are_kept_but_never_applied() {
        let s = spec(TOTP);
        let mut prev = synced_status(&s, 1);
        let theirs = Condition {
            type_: "Audited".into(),
            ..prev.ready().unwrap().clone()
        };
        let mut list = prev.conditions.to_vec();
        list.push(theirs.clone());
        prev.conditions = list.into();
        let next = next_status(
            Some(&prev),
            2,
            &Verdict::synced("p", &s.mfa),
            seen(Some(s.mfa.clone())),
            &at(2),
        );
        assert!(
            next.conditions.to_vec().contains(&theirs),
            "kept for the comparison"
        );
        let sent = applied(&next);
        let sent_conditions = sent.conditions.to_vec();
        let types: Vec<&str> = sent_conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, OURS, "only the operator's own are applied");
        assert_eq!(sent.live_configuration, next.live_configuration);
    }

    #[test]
    fn a_status_that_cannot_be_written_is_warned_about_once_per_streak() {
        let notices: Vec<Option<Notice>> = (1..=5)
            .map(|n| status_failure_notice(n, "422 Invalid"))
            .collect();
        assert_eq!(notices.iter().flatten().count(), 1, "{notices:?}");
        let warned = notices[2].as_ref().expect("the third failure");
        assert!(warned.warning);
        assert_eq!(warned.reason, EventReason::StatusWriteFailed);
        assert_eq!(
            warned.note,
            "the status could not be written 3 times in a row: 422 Invalid"
        );
    }

    #[test]
    fn notes_are_cut_to_1_kib_at_a_character_boundary() {
        let with = |note: String| Notice {
            warning: true,
            reason: EventReason::Ready(Reason::InvalidParameter),
            note,
        };
        // 3-byte characters: 1024 is not a boundary, 1023 is.
        let long = with("€".repeat(400));
        assert_eq!(long.sendable_note().len(), 1023);
        assert_eq!(long.sendable_note(), "€".repeat(341));
        let exact = with("a".repeat(1023) + "é");
        assert_eq!(
            exact.sendable_note(),
            "a".repeat(1023),
            "é would end at byte 1025"
        );
        let short = with("pool us-east-1_a: MFA ON".into());
        assert_eq!(short.sendable_note(), short.note);
        // ASCII: 1024 bytes are sent whole, the 1025th is cut.
        assert_eq!(with("a".repeat(1024)).sendable_note(), "a".repeat(1024));
        assert_eq!(with("a".repeat(1025)).sendable_note(), "a".repeat(1024));
    }
}
