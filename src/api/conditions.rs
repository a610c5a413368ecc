//! `status.conditions`, held compactly in memory.
//!
//! The operator caches every resource, and after a pass its three conditions (`Ready`,
//! `Reconciling`, `Stalled`) share one reason, message and generation. Held as a list, that is
//! twelve strings (the message three times): most of a cached resource's status. So when a list
//! has that shape, `Reconciling` and `Stalled` keep only their status and transition time. Any other
//! list is kept as it is. The JSON form is always the full list, and the compact form is chosen
//! by the list's content alone, so two `Conditions` are equal exactly when their lists are.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
/// The condition types the operator writes, in the order it writes them; others belong to other
/// writers.
pub const OURS: [&str; 3] = [READY, RECONCILING, STALLED];

/// The conditions of a status (see the module comment).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Condition>", into = "Vec<Condition>")]
pub struct Conditions(Held);

#[derive(Clone, Debug, PartialEq)]
enum Held {
    List(Vec<Condition>),
    /// `Ready`, then `Reconciling` and `Stalled` with `Ready`'s reason, message and generation,
    /// then `others`.
    Ours {
        ready: Condition,
        reconciling: Flag,
        stalled: Flag,
        others: Vec<Condition>,
    },
}

impl Default for Held {
    fn default() -> Self {
        Held::List(Vec::new())
    }
}

/// What a condition that shares `Ready`'s reason and message keeps of its own.
#[derive(Clone, Debug, PartialEq)]
struct Flag {
    on: bool,
    since: Time,
}

impl Flag {
    /// `Some` when `c` is of `type_`, True or False, and says what `ready` says.
    fn of(c: &Condition, type_: &str, ready: &Condition) -> Option<Flag> {
        let on = match c.status.as_str() {
            "True" => true,
            "False" => false,
            _ => return None,
        };
        let shared = c.type_ == type_
            && c.reason == ready.reason
            && c.message == ready.message
            && c.observed_generation == ready.observed_generation;
        shared.then(|| Flag {
            on,
            since: c.last_transition_time.clone(),
        })
    }

    fn condition(&self, type_: &str, ready: &Condition) -> Condition {
        Condition {
            type_: type_.into(),
            status: if self.on { "True" } else { "False" }.into(),
            last_transition_time: self.since.clone(),
            ..ready.clone()
        }
    }
}

impl Conditions {
    /// The `Ready` condition, if any (held whole in either form).
    pub fn ready(&self) -> Option<&Condition> {
        match &self.0 {
            Held::List(list) => list.iter().find(|c| c.type_ == READY),
            Held::Ours { ready, .. } => Some(ready),
        }
    }

    /// The whole list, in order.
    pub fn to_vec(&self) -> Vec<Condition> {
        match &self.0 {
            Held::List(list) => list.clone(),
            Held::Ours {
                ready,
                reconciling,
                stalled,
                others,
            } => [
                ready.clone(),
                reconciling.condition(RECONCILING, ready),
                stalled.condition(STALLED, ready),
            ]
            .into_iter()
            .chain(others.iter().cloned())
            .collect(),
        }
    }
}

impl From<Vec<Condition>> for Conditions {
    fn from(mut list: Vec<Condition>) -> Self {
        let compact = match list.as_slice() {
            [ready, reconciling, stalled, ..] if ready.type_ == READY => {
                Flag::of(reconciling, RECONCILING, ready).zip(Flag::of(stalled, STALLED, ready))
            }
            _ => None,
        };
        let Some((reconciling, stalled)) = compact else {
            return Conditions(Held::List(list));
        };
        let others = list.split_off(3);
        let ready = list.swap_remove(0);
        Conditions(Held::Ours {
            ready,
            reconciling,
            stalled,
            others,
        })
    }
}

impl FromIterator<Condition> for Conditions {
    fn from_iter<I: IntoIterator<Item = Condition>>(iter: I) -> Self {
        Vec::from_iter(iter).into()
    }
}

impl From<Conditions> for Vec<Condition> {
    fn from(conditions: Conditions) -> Self {
        match conditions.0 {
            Held::List(list) => list,
            held => Conditions(held).to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    fn condition(type_: &str, status: &str, since: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "Synced".into(),
            message: "pool p matches the spec".into(),
            observed_generation: Some(2),
            last_transition_time: at(since),
        }
    }

    fn ours() -> Vec<Condition> {
        vec![
            condition(READY, "True", 1),
            condition(RECONCILING, "False", 2),
            condition(STALLED, "False", 3),
        ]
    }

    /// Lists of every shape: the operator's own (compact) and each way a list can differ from
    /// that shape (kept as they are).
    fn lists() -> Vec<(&'static str, Vec<Condition>, bool)> {
        let changed = |i: usize, f: fn(&mut Condition)| {
            let mut list = ours();
            f(&mut list[i]);
            list
        };
        let swapped = |i, j| {
            let mut list = ours();
            list.swap(i, j);
            list
        };
        let mut others = ours();
        others.push(condition("Audited", "Unknown", 4));
        vec![
            ("ours", ours(), true),
            ("ours, then another writer's", others, true),
            ("empty", vec![], false),
            ("Ready alone", vec![condition(READY, "True", 1)], false),
            (
                "Ready Unknown",
                changed(0, |c| c.status = "Unknown".into()),
                true,
            ),
            (
                "Reconciling True",
                changed(1, |c| c.status = "True".into()),
                true,
            ),
            (
                "Stalled Unknown",
                changed(2, |c| c.status = "Unknown".into()),
                false,
            ),
            (
                "another reason",
                changed(1, |c| c.reason = "Other".into()),
                false,
            ),
            (
                "another message",
                changed(2, |c| c.message = "x".into()),
                false,
            ),
            (
                "another generation",
                changed(1, |c| c.observed_generation = None),
                false,
            ),
            (
                "another time",
                changed(2, |c| c.last_transition_time = at(9)),
                true,
            ),
            ("another order", swapped(1, 2), false),
            ("Ready not first", swapped(0, 1), false),
            (
                "a lower-case type",
                changed(1, |c| c.type_ = "reconciling".into()),
                false,
            ),
        ]
    }

    #[test]
    fn every_list_comes_back_whole_and_the_operators_own_is_held_compactly() {
        for (name, list, compact) in lists() {
            let held = Conditions::from(list.clone());
            assert_eq!(held.to_vec(), list, "{name}");
            assert_eq!(Vec::from(held.clone()), list, "{name}");
            assert_eq!(matches!(held.0, Held::Ours { .. }), compact, "{name}");
            let json = serde_json::to_value(&held).unwrap();
            assert_eq!(json, serde_json::to_value(&list).unwrap(), "{name}: JSON");
            let back: Conditions = serde_json::from_value(json).unwrap();
            assert_eq!(back, held, "{name}: from JSON");
            let ready = list.iter().find(|c| c.type_ == READY);
            assert_eq!(held.ready(), ready, "{name}: Ready");
        }
    }

    #[test]
    fn conditions_are_equal_exactly_when_their_lists_are() {
        for (a, list_a, _) in lists() {
            for (b, list_b, _) in lists() {
                assert_eq!(
                    Conditions::from(list_a.clone()) == Conditions::from(list_b.clone()),
                    list_a == list_b,
                    "{a} vs {b}"
                );
            }
        }
    }
}
