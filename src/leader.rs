//! Leader election on a `coordination.k8s.io` Lease, after client-go's `leaderelection`.
//!
//! A candidate takes the Lease once its record has not changed for the Lease's duration,
//! measured on the candidate's own clock from when it saw the record change (so the replicas'
//! clocks need not agree). The leader renews every retry period and stops leading as soon as it
//! has not renewed within the renew deadline: that is shorter than the duration, so a leader
//! that loses the API server has stopped before any other replica may take over, even though
//! nothing tells it that another one did. Every write to the Lease carries the resourceVersion
//! it was based on, so two candidates cannot both take it.
//!
//! [`Leadership`] is what the controller checks immediately before each Cognito write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tracing::{debug, info, warn};

/// The longest retry period, as client-go's default (with a 10 s renew deadline).
const MAX_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Whether this replica may act: always without leader election, otherwise while its current
/// term lasts.
#[derive(Clone, Debug)]
pub struct Leadership(Option<Arc<Term>>);

impl Leadership {
    /// Without leader election: the only replica always leads.
    pub fn unconditional() -> Self {
        Self(None)
    }

    /// True while the term lasts: the last successful renewal was sent less than the renew
    /// deadline ago and the Lease was not seen held by another replica. Decided from the clock at
    /// each call, not from a flag another task has to set in time.
    pub fn is_leading(&self) -> bool {
        self.0.as_ref().is_none_or(|term| term.is_leading())
    }
}

/// One term of leadership, from taking the Lease until a renewal is overdue or the Lease is
/// seen held by another replica. A term that ended never resumes: leading again is a new term.
#[derive(Debug)]
pub struct Term {
    renew_deadline: Duration,
    /// When the last successful renewal (or the acquisition) was sent.
    renewed: Mutex<Instant>,
    over: AtomicBool,
}

impl Term {
    fn new(sent: Instant, renew_deadline: Duration) -> Arc<Self> {
        Arc::new(Self {
            renew_deadline,
            renewed: Mutex::new(sent),
            over: AtomicBool::new(false),
        })
    }

    /// What the controller checks.
    pub fn leadership(self: &Arc<Self>) -> Leadership {
        Leadership(Some(self.clone()))
    }

    pub fn is_leading(&self) -> bool {
        let renewed = self.renewed.lock().expect("term lock");
        self.lasts(*renewed)
    }

    fn lasts(&self, renewed: Instant) -> bool {
        if self.over.load(Ordering::SeqCst) {
            return false;
        }
        if renewed.elapsed() < self.renew_deadline {
            return true;
        }
        self.over.store(true, Ordering::SeqCst);
        false
    }

    /// Records a renewal sent at `sent`; false when it came too late, the term being over.
    fn renewed(&self, sent: Instant) -> bool {
        let mut renewed = self.renewed.lock().expect("term lock");
        if !self.lasts(*renewed) {
            return false;
        }
        *renewed = sent.max(*renewed);
        true
    }

    /// When the term ends unless renewed before.
    fn deadline(&self) -> Instant {
        *self.renewed.lock().expect("term lock") + self.renew_deadline
    }

    pub fn end(&self) {
        self.over.store(true, Ordering::SeqCst);
    }
}

/// Lease timing: how long the Lease holds, when its holder stops leading without a renewal,
/// and how often it is renewed (or, by a standby, tried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Timing {
    /// The renew deadline defaults to 2/3 of the duration (client-go: 10 s of 15 s) and must be
    /// shorter than it; the retry period is a fifth of the deadline, at most 2 s.
    pub fn new(duration: Duration, renew_deadline: Option<Duration>) -> Result<Self, String> {
        let renew_deadline = renew_deadline.unwrap_or(duration * 2 / 3);
        if renew_deadline.is_zero() || renew_deadline >= duration {
            return Err(format!(
                "the lease renew deadline ({}) must be shorter than the lease duration ({}): \
                 a leader must stop before another replica may take over",
                humantime::format_duration(renew_deadline),
                humantime::format_duration(duration)
            ));
        }
        Ok(Self {
            duration,
            renew_deadline,
            retry_period: (renew_deadline / 5).min(MAX_RETRY_PERIOD),
        })
    }

    /// The duration written into the Lease, in whole seconds, rounded up: others wait at least
    /// as long as this replica promises.
    fn duration_seconds(&self) -> i32 {
        let secs = self.duration.as_secs() + u64::from(self.duration.subsec_nanos() > 0);
        i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
    }
}

/// Why a term ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// No successful renewal within the renew deadline.
    Overdue(Duration),
    /// The Lease names another holder.
    HeldBy(String),
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Overdue(deadline) => write!(
                f,
                "the Lease was not renewed within the renew deadline of {}",
                humantime::format_duration(*deadline)
            ),
            Self::HeldBy(holder) => write!(f, "the Lease is held by {holder}"),
        }
    }
}

/// The result of one try to take or renew the Lease.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This replica holds the Lease: the write went through.
    Leading,
    /// Another replica holds it and its record has not been stale for its duration.
    HeldBy(String),
    /// Another write came first; try again.
    Conflict,
}

/// Campaigns for the Lease, keeps it, releases it.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    field_manager: String,
    timing: Timing,
    /// The record last seen and when it was first seen, on this replica's clock.
    observed: Option<(LeaseSpec, Instant)>,
}

impl Elector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: String,
        field_manager: &str,
        timing: Timing,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity,
            field_manager: field_manager.to_owned(),
            timing,
            observed: None,
        }
    }

    /// Tries until this replica holds the Lease; returns the new term.
    pub async fn acquire(&mut self) -> Arc<Term> {
        let mut failures = 0u32;
        loop {
            let sent = Instant::now();
            match tokio::time::timeout(self.timing.renew_deadline, self.try_acquire_or_renew())
                .await
            {
                Ok(Ok(Attempt::Leading)) => {
                    info!(lease = %self.name, identity = %self.identity, "took the Lease");
                    return Term::new(sent, self.timing.renew_deadline);
                }
                Ok(Ok(Attempt::HeldBy(holder))) => {
                    debug!(lease = %self.name, %holder, "the Lease is held by another replica");
                    failures = 0;
                }
                Ok(Ok(Attempt::Conflict)) => {
                    debug!(lease = %self.name, "lost a race for the Lease")
                }
                Ok(Err(e)) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(30) {
                        warn!(lease = %self.name, error = %e, failures, "could not read or take the Lease");
                    }
                }
                Err(_) => {
                    failures += 1;
                    warn!(lease = %self.name, failures, "reading or taking the Lease timed out");
                }
            }
            let jitter = 1.0 + 0.2 * rand::random::<f64>();
            tokio::time::sleep(self.timing.retry_period.mul_f64(jitter)).await;
        }
    }

    /// Renews the Lease every retry period until the term ends; returns why it ended. The term
    /// ends on time even while a renewal hangs.
    pub async fn keep(&mut self, term: &Term) -> Lost {
        let overdue = Lost::Overdue(self.timing.renew_deadline);
        let mut next = tokio::time::Instant::now() + self.timing.retry_period;
        loop {
            let deadline = tokio::time::sleep_until(term.deadline().into());
            tokio::pin!(deadline);
            tokio::select! {
                biased;
                _ = &mut deadline => break,
                _ = tokio::time::sleep_until(next) => {}
            }
            let sent = Instant::now();
            let attempt = tokio::select! {
                biased;
                _ = &mut deadline => break,
                attempt = self.try_acquire_or_renew() => attempt,
            };
            next = tokio::time::Instant::now() + self.timing.retry_period;
            match attempt {
                Ok(Attempt::Leading) if term.renewed(sent) => {
                    debug!(lease = %self.name, "renewed the Lease");
                }
                Ok(Attempt::Leading) => break,
                Ok(Attempt::HeldBy(holder)) => {
                    term.end();
                    return Lost::HeldBy(holder);
                }
                Ok(Attempt::Conflict) => debug!(lease = %self.name, "the Lease changed meanwhile"),
                Err(e) => warn!(lease = %self.name, error = %e, "could not renew the Lease"),
            }
        }
        term.end();
        overdue
    }

    /// Frees the Lease, if this replica still holds it, so a standby takes over at once.
    pub async fn release(&mut self) -> kube::Result<()> {
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let holder = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref());
        if holder != Some(self.identity.as_str()) {
            return Ok(());
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": null, "acquireTime": null, "renewTime": null, "leaseDurationSeconds": null},
        });
        self.api
            .patch(&self.name, &self.patch_params(), &Patch::Merge(&patch))
            .await?;
        info!(lease = %self.name, "released the Lease");
        Ok(())
    }

    async fn try_acquire_or_renew(&mut self) -> kube::Result<Attempt> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(record(None, &self.identity, &self.timing, now)),
            };
            let params = PostParams {
                field_manager: Some(self.field_manager.clone()),
                ..PostParams::default()
            };
            return match self.api.create(&params, &lease).await {
                Ok(created) => {
                    self.observe(created.spec.unwrap_or_default());
                    Ok(Attempt::Leading)
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.unwrap_or_default();
        let holder = spec
            .holder_identity
            .clone()
            .filter(|h| !h.is_empty() && *h != self.identity);
        let valid_for = spec
            .lease_duration_seconds
            .map_or(self.timing.duration, |s| {
                Duration::from_secs(u64::try_from(s).unwrap_or(0))
            });
        let seen = self.observe(spec.clone());
        if let Some(holder) = holder
            && seen.elapsed() < valid_for
        {
            return Ok(Attempt::HeldBy(holder));
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": record(Some(&spec), &self.identity, &self.timing, now),
        });
        match self
            .api
            .patch(&self.name, &self.patch_params(), &Patch::Merge(&patch))
            .await
        {
            Ok(renewed) => {
                self.observe(renewed.spec.unwrap_or_default());
                Ok(Attempt::Leading)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
            Err(e) => Err(e),
        }
    }

    /// Notes the record; returns when it was first seen as it is now.
    fn observe(&mut self, spec: LeaseSpec) -> Instant {
        match &self.observed {
            Some((seen, at)) if *seen == spec => *at,
            _ => {
                let at = Instant::now();
                self.observed = Some((spec, at));
                at
            }
        }
    }

    fn patch_params(&self) -> PatchParams {
        PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        }
    }
}

/// The record of `identity` holding the Lease from `now`, after `previous`: a renewal keeps the
/// acquire time and the transition count, a take-over counts one more transition.
fn record(
    previous: Option<&LeaseSpec>,
    identity: &str,
    timing: &Timing,
    now: MicroTime,
) -> LeaseSpec {
    let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
    let renewal = previous.filter(|p| p.holder_identity.as_deref() == Some(identity));
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(timing.duration_seconds()),
        acquire_time: Some(
            renewal
                .and_then(|p| p.acquire_time.clone())
                .unwrap_or_else(|| now.clone()),
        ),
        renew_time: Some(now),
        lease_transitions: Some(match (previous, renewal) {
            (None, _) | (Some(_), Some(_)) => transitions,
            (Some(_), None) => transitions.saturating_add(1),
        }),
        ..LeaseSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn timing_defaults_and_refusals() {
        assert_eq!(
            Timing::new(secs(15), None).unwrap(),
            Timing {
                duration: secs(15),
                renew_deadline: secs(10),
                retry_period: secs(2),
            },
            "client-go's defaults"
        );
        let t = Timing::new(secs(4), None).unwrap();
        assert_eq!(
            t.renew_deadline,
            Duration::from_millis(2666) + Duration::new(0, 666_666)
        );
        assert_eq!(t.retry_period, Duration::new(0, 533_333_333), "a fifth");
        // A fifth of the deadline up to 2 s: 1 s below the cap, 2 s at it, 2 s above.
        let retry = |deadline| Timing::new(secs(60), Some(deadline)).unwrap().retry_period;
        assert_eq!(retry(secs(5)), secs(1));
        assert_eq!(retry(secs(10)), secs(2));
        assert_eq!(retry(secs(30)), secs(2));
        // The deadline must be above zero and below the duration.
        assert!(Timing::new(secs(15), Some(Duration::from_millis(14_999))).is_ok());
        for refused in [secs(15), secs(20), Duration::ZERO] {
            let e = Timing::new(secs(15), Some(refused)).unwrap_err();
            assert!(
                e.contains("must be shorter than the lease duration (15s)"),
                "{e}"
            );
        }
        assert_eq!(
            Timing::new(Duration::from_millis(1500), None)
                .unwrap()
                .duration_seconds(),
            2
        );
        assert_eq!(Timing::new(secs(15), None).unwrap().duration_seconds(), 15);
    }

    #[test]
    fn a_term_ends_at_the_renew_deadline_and_never_resumes() {
        // Terms that began in the past, so that no assertion depends on how long a sleep takes
        // on a loaded machine.
        let deadline = secs(10);
        let ago = |s: u64| Instant::now() - secs(s);
        let term = Term::new(ago(9), deadline);
        let leadership = term.leadership();
        assert!(leadership.is_leading(), "1 s left");
        assert!(term.renewed(Instant::now()), "renewed in time");
        assert!(
            term.deadline() > Instant::now() + secs(9),
            "the renewal moved the deadline"
        );
        assert!(
            term.renewed(ago(5)),
            "an older renewal (answered late) does not move the deadline back"
        );
        assert!(term.deadline() > Instant::now() + secs(9));
        assert!(leadership.is_leading());

        let overdue = Term::new(ago(11), deadline);
        assert!(!overdue.leadership().is_leading(), "overdue");
        assert!(
            !overdue.renewed(Instant::now()),
            "a renewal after the deadline does not revive the term"
        );
        assert!(!overdue.leadership().is_leading());
        assert!(Leadership::unconditional().is_leading());

        let term = Term::new(Instant::now(), secs(60));
        term.end();
        assert!(!term.leadership().is_leading());
    }

    #[test]
    fn records_keep_the_acquire_time_on_renewal_and_count_take_overs() {
        let timing = Timing::new(secs(15), None).unwrap();
        let t0 = MicroTime("2026-01-01T00:00:00Z".parse().unwrap());
        let t1 = MicroTime("2026-01-01T00:00:02Z".parse().unwrap());
        let first = record(None, "a", &timing, t0.clone());
        assert_eq!(first.holder_identity.as_deref(), Some("a"));
        assert_eq!(
            (first.acquire_time.as_ref(), first.renew_time.as_ref()),
            (Some(&t0), Some(&t0))
        );
        assert_eq!(first.lease_transitions, Some(0));
        assert_eq!(first.lease_duration_seconds, Some(15));
        let renewed = record(Some(&first), "a", &timing, t1.clone());
        assert_eq!(
            (renewed.acquire_time.as_ref(), renewed.renew_time.as_ref()),
            (Some(&t0), Some(&t1))
        );
        assert_eq!(renewed.lease_transitions, Some(0));
        let taken = record(Some(&renewed), "b", &timing, t1.clone());
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.acquire_time.as_ref(), Some(&t1));
        assert_eq!(taken.lease_transitions, Some(1));
    }
}
