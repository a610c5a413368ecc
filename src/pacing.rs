//! Client-side pacing of Cognito calls. Cognito allows about 15 requests per second per
//! category (reads, writes) per account and region, shared with every other tool; the operator
//! stays below a configured budget instead of relying on TooManyRequests and retries.
//!
//! Budgets are kept per (account, region). Namespaces share a budget fairly: each namespace has
//! a few admission slots per budget and category, and a pass that finds its namespace's slots
//! taken steps aside (it is requeued) instead of holding one of the controller's workers, so a
//! namespace with a thousand waiting resources competes with another namespace's single
//! resource as one equal claimant. Writes (new generations, deletions) have slots of their own,
//! so a backlog of routine resync reads never holds up a change.

use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cognito::{Caller, Operation};
use crate::logic::resync;
use crate::logic::validation::pool_region;

/// Longest wait for budget before a pass gives up and retries later, so that a reconcile slot
/// is never held indefinitely.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// A budget: an AWS account (or `operator`) and a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Budget {
    pub account: String,
    pub region: String,
}

impl Budget {
    /// The budget a call by `caller` to `pool` counts against.
    pub fn of(caller: &Caller, pool: &str) -> Self {
        Self {
            account: caller.account().to_owned(),
            region: pool_region(pool).unwrap_or_default().to_owned(),
        }
    }
}

/// Separate read and write budgets, each per account and region, and admission slots per
/// namespace and budget.
pub struct Pacer {
    reads: Option<DefaultKeyedRateLimiter<Budget>>,
    writes: Option<DefaultKeyedRateLimiter<Budget>>,
    /// The two rates (calls per second), `None` when unlimited.
    read_rate: Option<f64>,
    write_rate: Option<f64>,
    slots_per_namespace: usize,
    slots: Mutex<HashMap<Queue, Slots>>,
}

/// One namespace's place in one budget's queue for one category.
type Queue = (Budget, String, Operation);

/// A queue's admission slots, and the resources that stepped aside since they last got one,
/// each with its place in the line (a sequence number: the first to step aside is first).
struct Slots {
    permits: Arc<Semaphore>,
    waiting: HashMap<String, u64>,
    line: BTreeSet<u64>,
    next: u64,
}

impl Slots {
    /// About how many are ahead of `uid` in the line, which it joins at the back if it is not
    /// in it yet.
    fn place(&mut self, uid: &str) -> usize {
        let seq = *self.waiting.entry(uid.to_owned()).or_insert_with(|| {
            self.next += 1;
            self.next
        });
        self.line.insert(seq);
        let first = self.line.first().copied().unwrap_or(seq);
        (seq - first) as usize
    }

    fn leave(&mut self, uid: &str) {
        if let Some(seq) = self.waiting.remove(uid) {
            self.line.remove(&seq);
        }
    }
}

/// A pass's place in its namespace's share of a budget; released when dropped.
#[derive(Debug)]
pub struct Admission(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Pacer {
    /// Rates in requests per second; 0 means unlimited. `slots_per_namespace` passes of one
    /// namespace may wait for one budget at a time.
    pub fn new(
        reads_per_second: f64,
        writes_per_second: f64,
        burst: u32,
        slots_per_namespace: usize,
    ) -> Self {
        let limiter = |rate: f64| {
            let period = Duration::try_from_secs_f64(1.0 / rate).ok()?;
            let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst.max(1))?);
            Some(RateLimiter::keyed(quota))
        };
        let limited = |rate: f64| (rate > 0.0).then_some(rate);
        Self {
            reads: limited(reads_per_second).and_then(limiter),
            writes: limited(writes_per_second).and_then(limiter),
            read_rate: limited(reads_per_second),
            write_rate: limited(writes_per_second),
            slots_per_namespace: slots_per_namespace.max(1),
            slots: Mutex::default(),
        }
    }

    /// A place for resource `uid`'s pass of `namespace` whose first call is `op` in `budget`'s
    /// queue, or `Err(after)`: all the namespace's places are taken; try again after about
    /// that long. The passes that step aside form a line, and each one's wait is its place in
    /// it at the rate of `op`'s category: however long the backlog, the retries come about as
    /// fast as the budget serves them, neither in a storm of deferrals nor leaving it idle, and
    /// a pass that finds the places taken again keeps its place instead of going to the back.
    pub fn admit(
        &self,
        budget: &Budget,
        namespace: &str,
        op: Operation,
        uid: &str,
    ) -> Result<Admission, Duration> {
        // A category without a limit takes its places at the other's rate: the pass's later
        // calls may be of the other category.
        let (own, other) = match op {
            Operation::GetUserPoolMfaConfig => (self.read_rate, self.write_rate),
            Operation::SetUserPoolMfaConfig => (self.write_rate, self.read_rate),
        };
        let Some(rate) = own.or(other) else {
            return Ok(Admission(None));
        };
        let mut queues = self.slots.lock().expect("slots lock");
        let queue = queues
            .entry((budget.clone(), namespace.to_owned(), op))
            .or_insert_with(|| Slots {
                permits: Arc::new(Semaphore::new(self.slots_per_namespace)),
                waiting: HashMap::new(),
                line: BTreeSet::new(),
                next: 0,
            });
        match queue.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                queue.leave(uid);
                Ok(Admission(Some(permit)))
            }
            Err(_) => {
                let ahead = (queue.place(uid) + 1).max(self.slots_per_namespace);
                Err(Duration::from_secs_f64(ahead as f64 / rate))
            }
        }
    }

    /// Forgets a deleted resource's place in the backlogs.
    pub fn forget(&self, uid: &str) {
        for queue in self.slots.lock().expect("slots lock").values_mut() {
            queue.leave(uid);
        }
    }

    /// Waits for budget for one call; returns how long it waited, or `None` when no budget came
    /// within `MAX_WAIT`.
    pub async fn acquire(&self, op: Operation, budget: &Budget) -> Option<Duration> {
        let limiter = match op {
            Operation::GetUserPoolMfaConfig => &self.reads,
            Operation::SetUserPoolMfaConfig => &self.writes,
        };
        let Some(limiter) = limiter else {
            return Some(Duration::ZERO);
        };
        let started = Instant::now();
        tokio::time::timeout(MAX_WAIT, limiter.until_key_ready(budget))
            .await
            .ok()
            .map(|_| started.elapsed())
    }
}

/// Which read budget each resource's resync reads come from, so that they are spread over the
/// period the budget allows (`crate::logic::resync`) rather than all due at the configured one.
pub struct Resyncs {
    configured: Duration,
    reads_per_second: f64,
    members: Mutex<Members>,
}

/// Each resource's budget (one shared copy per budget: there is an entry per resource), and
/// how many resources each budget has.
#[derive(Default)]
struct Members {
    of: HashMap<String, Arc<Budget>>,
    count: HashMap<Arc<Budget>, usize>,
}

/// A budget's resync period after a change of its resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub budget: Budget,
    pub resources: usize,
    pub period: Duration,
    /// Longer than the configured interval.
    pub stretched: bool,
}

impl Resyncs {
    pub fn new(configured: Duration, reads_per_second: f64) -> Self {
        Self {
            configured,
            reads_per_second,
            members: Mutex::default(),
        }
    }

    fn period(&self, budget: &Budget, resources: usize) -> Period {
        let period = resync::period(self.configured, resources, self.reads_per_second);
        Period {
            budget: budget.clone(),
            resources,
            period,
            stretched: period > self.configured,
        }
    }

    /// Records that resource `uid` reads from `budget`; returns the periods this changed.
    pub fn joined(&self, uid: &str, budget: &Budget) -> Vec<Period> {
        let mut m = self.members.lock().expect("resyncs lock");
        if m.of.get(uid).is_some_and(|b| **b == *budget) {
            return vec![];
        }
        let shared = match m.count.get_key_value(budget) {
            Some((b, _)) => b.clone(),
            None => Arc::new(budget.clone()),
        };
        let before = m.of.insert(uid.to_owned(), shared.clone());
        let mut changed = vec![];
        if let Some(old) = before {
            changed.push(Self::count(&mut m, &old, false));
        }
        changed.push(Self::count(&mut m, &shared, true));
        changed
            .into_iter()
            .map(|(b, n)| self.period(&b, n))
            .collect()
    }

    /// Forgets a deleted resource; returns its budget's new period.
    pub fn left(&self, uid: &str) -> Option<Period> {
        let mut m = self.members.lock().expect("resyncs lock");
        let budget = m.of.remove(uid)?;
        let (b, n) = Self::count(&mut m, &budget, false);
        Some(self.period(&b, n))
    }

    fn count(m: &mut Members, budget: &Arc<Budget>, up: bool) -> (Budget, usize) {
        let n = m.count.entry(budget.clone()).or_default();
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
        let n = *n;
        if n == 0 {
            m.count.remove(budget);
        }
        ((**budget).clone(), n)
    }

    /// The resync period of resource `uid`: its budget's, or the configured one before its
    /// first call.
    pub fn period_of(&self, uid: &str) -> Duration {
        let m = self.members.lock().expect("resyncs lock");
        m.of.get(uid).map_or(self.configured, |b| {
            resync::period(self.configured, m.count[b], self.reads_per_second)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(account: &str, region: &str) -> Budget {
        Budget {
            account: account.into(),
            region: region.into(),
        }
    }

    #[tokio::test]
    async fn budgets_are_per_category_account_and_region() {
        let pacer = Pacer::new(2.0, 0.0, 1, 1);
        let set = Operation::SetUserPoolMfaConfig;
        let get = Operation::GetUserPoolMfaConfig;
        let a = budget("111111111111", "us-east-1");
        for _ in 0..20 {
            assert_eq!(
                pacer.acquire(set, &a).await,
                Some(Duration::ZERO),
                "writes unlimited"
            );
        }
        assert!(pacer.acquire(get, &a).await.unwrap() < Duration::from_millis(50));
        for other in [
            budget("111111111111", "eu-west-1"),
            budget("222222222222", "us-east-1"),
        ] {
            assert!(
                pacer.acquire(get, &other).await.unwrap() < Duration::from_millis(50),
                "own budget for {other:?}"
            );
        }
        let waited = pacer.acquire(get, &a).await.unwrap();
        assert!(
            waited >= Duration::from_millis(400),
            "second read in the account and region waits ~0.5 s, waited {waited:?}"
        );
    }

    #[test]
    fn each_namespace_has_its_own_slots_per_budget_and_category() {
        let pacer = Pacer::new(4.0, 8.0, 1, 2);
        let a = budget("operator", "us-east-1");
        let (get, set) = (
            Operation::GetUserPoolMfaConfig,
            Operation::SetUserPoolMfaConfig,
        );
        let first = pacer.admit(&a, "team-a", get, "r1").unwrap();
        let _second = pacer.admit(&a, "team-a", get, "r2").unwrap();
        let after = pacer
            .admit(&a, "team-a", get, "r3")
            .expect_err("team-a's slots are taken");
        assert_eq!(
            after,
            Duration::from_millis(500),
            "2 slots at the read rate of 4/s"
        );
        let writes = [
            pacer.admit(&a, "team-a", set, "w1").unwrap(),
            pacer.admit(&a, "team-a", set, "w2").unwrap(),
        ];
        assert_eq!(
            pacer.admit(&a, "team-a", set, "w3").unwrap_err(),
            Duration::from_millis(250),
            "2 slots at the write rate of 8/s"
        );
        drop(writes);
        assert!(
            pacer.admit(&a, "team-a", set, "r3").is_ok(),
            "a change is not held up by reads"
        );
        assert!(
            pacer.admit(&a, "team-b", get, "r4").is_ok(),
            "another namespace is not held up"
        );
        let elsewhere = budget("operator", "eu-west-1");
        assert!(
            pacer.admit(&elsewhere, "team-a", get, "r3").is_ok(),
            "another budget is not held up"
        );
        drop(first);
        assert!(
            pacer.admit(&a, "team-a", get, "r3").is_ok(),
            "a released slot is free again"
        );
    }

    #[test]
    fn the_wait_of_a_deferred_pass_grows_with_its_namespaces_backlog() {
        let pacer = Pacer::new(4.0, 8.0, 1, 2);
        let a = budget("operator", "us-east-1");
        let get = Operation::GetUserPoolMfaConfig;
        let held = [
            pacer.admit(&a, "busy", get, "h1").unwrap(),
            pacer.admit(&a, "busy", get, "h2").unwrap(),
        ];
        let waits: Vec<Duration> = (0..8)
            .map(|i| pacer.admit(&a, "busy", get, &format!("w{i}")).unwrap_err())
            .collect();
        // At least the slots' worth (2 at 4/s); then one more quarter second per resource waiting.
        assert_eq!(waits[0], Duration::from_millis(500));
        assert_eq!(waits[7], Duration::from_secs(2), "8 waiting at 4/s");
        assert_eq!(
            pacer.admit(&a, "busy", get, "w3").unwrap_err(),
            Duration::from_secs(1),
            "a retry keeps its place: 3 ahead of it"
        );
        pacer.forget("w0");
        assert_eq!(
            pacer.admit(&a, "busy", get, "w3").unwrap_err(),
            Duration::from_millis(750),
            "a deleted resource no longer counts"
        );
        drop(held);
        // w1 and w2 take the freed slots and leave the line.
        let _admitted = [
            pacer.admit(&a, "busy", get, "w1").unwrap(),
            pacer.admit(&a, "busy", get, "w2").unwrap(),
        ];
        assert_eq!(
            pacer.admit(&a, "busy", get, "w3").unwrap_err(),
            Duration::from_millis(500),
            "admitted passes leave the line: w3 is first, and waits the slots' worth"
        );
        assert_eq!(
            pacer.admit(&a, "busy", get, "new").unwrap_err(),
            Duration::from_millis(1500),
            "a newcomer joins at the back: w3 to w7 ahead of it"
        );
        assert_eq!(
            pacer.admit(&a, "quiet", get, "q").map(|_| ()),
            Ok(()),
            "another namespace's backlog is its own"
        );
    }

    #[test]
    fn unlimited_budgets_admit_everything() {
        let a = budget("operator", "us-east-1");
        let get = Operation::GetUserPoolMfaConfig;
        let unlimited = Pacer::new(0.0, 0.0, 1, 1);
        let held: Vec<_> = (0..100)
            .map(|i| unlimited.admit(&a, "team-a", get, &format!("r{i}")))
            .collect();
        assert!(held.iter().all(Result::is_ok), "{held:?}");
        // The same slots with one budget limited: the second pass steps aside.
        let limited = Pacer::new(0.0, 4.0, 1, 1);
        let _first = limited.admit(&a, "team-a", get, "r0").unwrap();
        assert_eq!(
            limited.admit(&a, "team-a", get, "r1").map(|_| ()),
            Err(Duration::from_millis(250))
        );
    }

    #[test]
    fn resync_periods_follow_each_budgets_resources() {
        let two_s = Duration::from_secs(2);
        let resyncs = Resyncs::new(two_s, 2.0);
        let (a, b) = (
            budget("operator", "us-east-1"),
            budget("operator", "eu-west-1"),
        );
        assert_eq!(resyncs.period_of("unknown"), two_s);
        for i in 0..3 {
            let changed = resyncs.joined(&format!("r{i}"), &a);
            assert_eq!(changed.len(), 1);
            assert!(!changed[0].stretched, "3 reads in 2 s fit 2/s");
        }
        assert!(
            resyncs.joined("r0", &a).is_empty(),
            "a known member changes nothing"
        );
        let changed = resyncs.joined("r3", &a);
        assert_eq!((changed[0].resources, changed[0].stretched), (4, true));
        assert_eq!(resyncs.period_of("r0"), Duration::from_secs_f64(4.0 / 1.8));
        // Moving to another budget counts there, and no longer here.
        let moved = resyncs.joined("r3", &b);
        assert_eq!(
            moved
                .iter()
                .map(|p| (p.budget.clone(), p.resources))
                .collect::<Vec<_>>(),
            [(a.clone(), 3), (b.clone(), 1)]
        );
        assert_eq!(resyncs.period_of("r0"), two_s);
        assert_eq!(resyncs.left("r3").map(|p| p.resources), Some(0));
        assert_eq!(resyncs.left("r3"), None);
        assert_eq!(resyncs.period_of("r3"), two_s);
    }
}
