//! The passes waiting for kube's scheduler: changes (watch events, claims, policy and namespace
//! changes) before routine passes (each resource's resync, a term's first pass over every
//! resource).
//!
//! kube's scheduler holds two copies of every request plus a timer entry, about 500 bytes per
//! resource; with a requeue per resource for its resync, it would hold all of them all the time,
//! and after a restart over 10,000 resources all 10,000 first passes besides. Here each resource
//! is one shared `namespace/name` string with its next resync, and the scheduler is handed at
//! most `window` passes that have not started yet, so it holds only those and the backoffs.
//! As in the scheduler, a resource asked for again while it waits, or before its pass starts,
//! is still one pass; one asked for while its pass runs gets another.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;
use tokio::time::Sleep;

use crate::api::UserPoolMfaConfig;

/// A resource handed to the scheduler counts against the window for this long at most. The
/// scheduler takes the requests due in no particular order, so under a backlog one can wait a
/// while; and one it never ran would otherwise narrow the window for good.
const LOST_AFTER: Duration = Duration::from_secs(60);

/// Which line a pass waits in; changes go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    Change = 0,
    Routine = 1,
}

/// The queue's state; pure, with the clock passed in.
#[derive(Debug)]
struct Line {
    window: usize,
    /// Waiting, by lane in the order asked for. A resource moved to the change lane keeps a
    /// stale place in the routine one, skipped when reached: `members` says where it waits.
    waiting: [VecDeque<Arc<str>>; 2],
    members: HashMap<Arc<str>, Lane>,
    /// Handed to the scheduler, not started yet, and when (at most `window`). A map, since
    /// every push and start looks a key up in it, and the window is 64 times the concurrency.
    released: HashMap<Arc<str>, Instant>,
    /// The same in the order handed over, for `LOST_AFTER`; an entry whose key has started
    /// since (or was handed over again) is stale, dropped when it comes first.
    release_order: VecDeque<(Instant, Arc<str>)>,
    /// Each resource's next resync; the heap may also hold times replaced since.
    due: HashMap<Arc<str>, Instant>,
    timers: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
}

impl Line {
    fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            waiting: Default::default(),
            members: HashMap::new(),
            released: HashMap::new(),
            release_order: VecDeque::new(),
            due: HashMap::new(),
            timers: BinaryHeap::new(),
        }
    }

    /// Adds `key` unless it waits in this lane or before it, or is released already; true
    /// when added.
    fn push(&mut self, key: &str, lane: Lane) -> bool {
        let key: Arc<str> = match self.members.get_key_value(key) {
            Some((_, at)) if *at <= lane => return false,
            Some((k, _)) => k.clone(),
            None if self.released.contains_key(key) => return false,
            None => self
                .due
                .get_key_value(key)
                .map_or_else(|| key.into(), |(k, _)| k.clone()),
        };
        self.members.insert(key.clone(), lane);
        self.waiting[lane as usize].push_back(key);
        true
    }

    /// The next key to hand to the scheduler, if the window has room; resyncs due by `now`
    /// join the routine lane first.
    fn pop(&mut self, now: Instant) -> Option<Arc<str>> {
        while self
            .timers
            .peek()
            .is_some_and(|Reverse((at, _))| *at <= now)
        {
            let Reverse((at, key)) = self.timers.pop().expect("peeked");
            if self.due.get(&key) == Some(&at) {
                self.due.remove(&key);
                self.push(&key, Lane::Routine);
            }
        }
        while let Some((at, key)) = self.release_order.front() {
            let current = self.released.get(key) == Some(at);
            if current && now.saturating_duration_since(*at) < LOST_AFTER {
                break;
            }
            if current {
                self.released.remove(key);
            }
            self.release_order.pop_front();
        }
        if self.released.len() >= self.window {
            return None;
        }
        for lane in [Lane::Change, Lane::Routine] {
            while let Some(key) = self.waiting[lane as usize].pop_front() {
                if self.members.get(&key) == Some(&lane) {
                    self.members.remove(&key);
                    self.released.insert(key.clone(), now);
                    self.release_order.push_back((now, key.clone()));
                    return Some(key);
                }
            }
        }
        None
    }

    /// The next resync after those `pop` took, while the window has room for it.
    fn next_due(&self) -> Option<Instant> {
        (self.released.len() < self.window)
            .then(|| self.timers.peek().map(|Reverse((at, _))| *at))
            .flatten()
    }

    /// `key`'s pass started (or found it gone): it no longer counts against the window, and
    /// its next resync is for the pass to set. True when that made room.
    fn started(&mut self, key: &str) -> bool {
        self.due.remove(key);
        self.released.remove(key).is_some()
    }

    /// `key`'s next resync is at `at`.
    fn resync_at(&mut self, key: &str, at: Instant) {
        let key: Arc<str> = self
            .members
            .get_key_value(key)
            .map_or_else(|| key.into(), |(k, _)| k.clone());
        self.due.insert(key.clone(), at);
        self.timers.push(Reverse((at, key)));
    }
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn key_of(obj: &ObjectRef<UserPoolMfaConfig>) -> String {
    key(obj.namespace.as_deref().unwrap_or_default(), &obj.name)
}

fn reference(key: &str) -> ObjectRef<UserPoolMfaConfig> {
    // Namespaces and names have no '/'.
    let (namespace, name) = key.split_once('/').unwrap_or(("", key));
    ObjectRef::new(name).within(namespace)
}

/// The line, the task to wake when a pass may be handed over, and the timer of the next resync.
type Shared = (Line, Option<Waker>, Option<Pin<Box<Sleep>>>);

/// The queue one term's controller takes its passes from.
pub struct Queue {
    shared: Mutex<Shared>,
}

impl Queue {
    /// A queue handing the scheduler at most `window` resources not started yet.
    pub fn new(window: usize) -> Self {
        Self {
            shared: Mutex::new((Line::new(window), None, None)),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().expect("queue lock")
    }

    fn wake(shared: &mut Shared) {
        if let Some(waker) = shared.1.take() {
            waker.wake();
        }
    }

    /// Asks for a pass of `obj`.
    pub fn push(&self, obj: &ObjectRef<UserPoolMfaConfig>, lane: Lane) {
        let mut shared = self.shared();
        if shared.0.push(&key_of(obj), lane) {
            Self::wake(&mut shared);
        }
    }

    /// The pass of `namespace/name` started, or the scheduler found it gone.
    pub fn started(&self, namespace: &str, name: &str) {
        let mut shared = self.shared();
        if shared.0.started(&key(namespace, name)) {
            Self::wake(&mut shared);
        }
    }

    /// Resyncs `namespace/name` after `delay`.
    pub fn resync_after(&self, namespace: &str, name: &str, delay: Duration) {
        let mut shared = self.shared();
        shared
            .0
            .resync_at(&key(namespace, name), Instant::now() + delay);
        // The timer may now be due sooner.
        Self::wake(&mut shared);
    }

    /// When `namespace/name` resyncs next, if it is set.
    #[cfg(test)]
    pub fn resync_due(&self, namespace: &str, name: &str) -> Option<Instant> {
        self.shared()
            .0
            .due
            .get(key(namespace, name).as_str())
            .copied()
    }

    /// The next resource for the scheduler; `Pending` while none waits or the window is full,
    /// until a push, a start or the next resync.
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<ObjectRef<UserPoolMfaConfig>> {
        let mut shared = self.shared();
        let (line, waker, sleep) = &mut *shared;
        if let Some(key) = line.pop(Instant::now()) {
            return Poll::Ready(reference(&key));
        }
        *waker = Some(cx.waker().clone());
        if let Some(at) = line.next_due() {
            let at = tokio::time::Instant::from_std(at);
            let sleep = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            sleep.as_mut().reset(at);
            if sleep.as_mut().poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn popped(line: &mut Line, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| line.pop(now))
            .map(|k| k.to_string())
            .collect()
    }

    #[test]
    fn hands_out_in_order_at_most_a_window_not_started() {
        let now = Instant::now();
        let mut line = Line::new(2);
        for k in ["a/1", "a/2", "b/1", "a/3"] {
            assert!(line.push(k, Lane::Change));
        }
        assert_eq!(popped(&mut line, now), ["a/1", "a/2"], "a full window");
        assert!(line.started("a/2"));
        assert!(!line.started("a/2"), "started once");
        assert!(!line.started("c/9"), "never released");
        assert_eq!(popped(&mut line, now), ["b/1"]);
        line.started("a/1");
        line.started("b/1");
        assert_eq!(popped(&mut line, now), ["a/3"]);
        assert_eq!(popped(&mut line, now), Vec::<String>::new(), "empty");
    }

    #[test]
    fn a_resource_waiting_or_released_is_one_pass_and_one_running_gets_another() {
        let now = Instant::now();
        let mut line = Line::new(1);
        assert!(line.push("a/1", Lane::Change));
        assert!(line.push("a/2", Lane::Change));
        assert!(!line.push("a/2", Lane::Change), "waiting already");
        assert!(!line.push("a/2", Lane::Routine), "waiting in a lane before");
        assert_eq!(popped(&mut line, now), ["a/1"]);
        assert!(!line.push("a/1", Lane::Change), "released, not started");
        line.started("a/1");
        assert!(
            line.push("a/1", Lane::Change),
            "asked for while its pass runs"
        );
        assert_eq!(popped(&mut line, now), ["a/2"]);
        line.started("a/2");
        assert_eq!(popped(&mut line, now), ["a/1"]);
        assert!(line.waiting.iter().all(VecDeque::is_empty) && line.members.is_empty());
    }

    #[test]
    fn changes_go_before_routine_passes_and_a_change_moves_a_routine_one_up() {
        let now = Instant::now();
        let mut line = Line::new(1);
        for k in ["r/1", "r/2", "r/3"] {
            line.push(k, Lane::Routine);
        }
        line.push("c/1", Lane::Change);
        assert!(line.push("r/3", Lane::Change), "moved up");
        let mut order = vec![];
        while let Some(k) = line.pop(now) {
            line.started(&k);
            order.push(k.to_string());
        }
        assert_eq!(order, ["c/1", "r/3", "r/1", "r/2"], "r/3 once");
    }

    #[test]
    fn resyncs_join_the_routine_lane_when_due_and_a_pass_replaces_its_resync() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let mut line = Line::new(4);
        line.resync_at("a/1", t + 2 * s);
        line.resync_at("a/2", t + s);
        line.resync_at("a/3", t + 3 * s);
        assert_eq!(line.next_due(), Some(t + s));
        assert_eq!(popped(&mut line, t), Vec::<String>::new(), "none due");
        line.push("c/1", Lane::Change);
        assert_eq!(popped(&mut line, t + 2 * s), ["c/1", "a/2", "a/1"]);
        // a/3 runs on a change before its resync; the pass sets the next one.
        line.started("a/3");
        assert_eq!(popped(&mut line, t + 3 * s), Vec::<String>::new());
        line.resync_at("a/3", t + 5 * s);
        line.resync_at("a/3", t + 4 * s);
        for k in ["c/1", "a/2", "a/1"] {
            line.started(k);
        }
        assert_eq!(
            popped(&mut line, t + 4 * s),
            ["a/3"],
            "at the time set last"
        );
        line.started("a/3");
        assert_eq!(popped(&mut line, t + 9 * s), Vec::<String>::new(), "once");
        assert_eq!(line.next_due(), None);
        assert!(line.due.is_empty() && line.timers.is_empty());
    }

    #[test]
    fn a_full_window_holds_due_resyncs_back_without_a_timer() {
        let t = Instant::now();
        let mut line = Line::new(1);
        line.push("c/1", Lane::Change);
        line.resync_at("a/1", t + Duration::from_secs(1));
        assert_eq!(popped(&mut line, t), ["c/1"]);
        assert_eq!(line.next_due(), None, "nothing could be handed over");
        line.started("c/1");
        assert_eq!(line.next_due(), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn a_released_resource_that_does_not_start_frees_its_place_in_the_end() {
        let now = Instant::now();
        let mut line = Line::new(1);
        line.push("a/1", Lane::Change);
        line.push("a/2", Lane::Change);
        assert_eq!(popped(&mut line, now), ["a/1"]);
        let later = now + LOST_AFTER - Duration::from_millis(1);
        assert_eq!(popped(&mut line, later), Vec::<String>::new());
        assert_eq!(popped(&mut line, now + LOST_AFTER), ["a/2"]);
    }

    #[test]
    fn a_resource_handed_over_again_counts_from_its_last_hand_over() {
        let t = Instant::now();
        let mut line = Line::new(4);
        line.push("b/1", Lane::Change);
        line.push("a/1", Lane::Change);
        assert_eq!(popped(&mut line, t), ["b/1", "a/1"]);
        line.started("a/1");
        line.push("a/1", Lane::Change);
        let again = t + Duration::from_secs(1);
        assert_eq!(popped(&mut line, again), ["a/1"]);
        // b/1 and a/1's first hand-over are past LOST_AFTER, a/1's second is not.
        assert_eq!(popped(&mut line, t + LOST_AFTER), Vec::<String>::new());
        assert!(line.push("b/1", Lane::Change), "lost: asked for anew");
        assert!(!line.push("a/1", Lane::Change), "released, not started");
        assert!(line.started("a/1"), "its start made room");
    }

    #[test]
    fn keys_are_namespace_and_name() {
        let r = reference(&key("team-a", "pool.x"));
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_str()),
            (Some("team-a"), "pool.x")
        );
    }
}
