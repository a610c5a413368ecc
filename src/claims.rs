//! Which resources claim each pool, kept from the watch events, so that ownership and the
//! re-runs a change of claims calls for cost the same whatever the number of resources.
//!
//! Any change to a claim (create, a new generation, delete, and what a relist adds or removes)
//! re-runs every other claimant of that pool: two resources created in the same second never
//! both stay `Synced`, and a waiting resource takes over as soon as the owner goes. A status
//! write is no change of claim, so claimants do not re-run each other on their own writes.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use kube::runtime::reflector::ObjectRef;

use crate::api::UserPoolMfaConfig;

type Ref = ObjectRef<UserPoolMfaConfig>;

/// Each pool's claimants, with the generation of their claim.
type ByPool = HashMap<String, HashMap<Ref, Option<i64>>>;

#[derive(Default)]
pub struct Claims {
    by_pool: Mutex<ByPool>,
    /// The claims a relist has delivered so far, replacing `by_pool` when it is complete.
    relisting: Mutex<Option<ByPool>>,
}

fn key(obj: &UserPoolMfaConfig) -> (String, Ref, Option<i64>) {
    (
        obj.spec.user_pool_id.clone(),
        ObjectRef::from_obj(obj),
        obj.metadata.generation,
    )
}

impl Claims {
    /// The resources claiming `pool`.
    pub fn of(&self, pool: &str) -> Vec<Ref> {
        let by_pool = self.by_pool.lock().expect("claims lock");
        by_pool
            .get(pool)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Records a created or changed resource; returns the other claimants of its pool when its
    /// claim is new or of a new generation.
    pub fn applied(&self, obj: &UserPoolMfaConfig) -> Vec<Ref> {
        let (pool, me, generation) = key(obj);
        let mut by_pool = self.by_pool.lock().expect("claims lock");
        let claimants = by_pool.entry(pool).or_default();
        if claimants.insert(me.clone(), generation) == Some(generation) {
            return vec![];
        }
        claimants.keys().filter(|c| **c != me).cloned().collect()
    }

    /// Forgets a deleted resource; returns the remaining claimants of its pool.
    pub fn deleted(&self, obj: &UserPoolMfaConfig) -> Vec<Ref> {
        let (pool, me, _) = key(obj);
        let mut by_pool = self.by_pool.lock().expect("claims lock");
        let Some(claimants) = by_pool.get_mut(&pool) else {
            return vec![];
        };
        claimants.remove(&me);
        let rest: Vec<Ref> = claimants.keys().cloned().collect();
        if claimants.is_empty() {
            by_pool.remove(&pool);
        }
        rest
    }

    /// A relist begins.
    pub fn relist(&self) {
        *self.relisting.lock().expect("claims lock") = Some(HashMap::new());
    }

    /// A resource of the relist.
    pub fn relisted(&self, obj: &UserPoolMfaConfig) {
        let (pool, me, generation) = key(obj);
        if let Some(next) = self.relisting.lock().expect("claims lock").as_mut() {
            next.entry(pool).or_default().insert(me, generation);
        }
    }

    /// The relist is complete: its claims replace the old ones. Returns every claimant, old or
    /// new, of each pool whose claims differ.
    pub fn relist_done(&self) -> Vec<Ref> {
        let Some(next) = self.relisting.lock().expect("claims lock").take() else {
            return vec![];
        };
        let prev = std::mem::replace(&mut *self.by_pool.lock().expect("claims lock"), next);
        let next = self.by_pool.lock().expect("claims lock");
        let empty = HashMap::new();
        let pools: HashSet<&String> = prev.keys().chain(next.keys()).collect();
        let mut affected = HashSet::new();
        for pool in pools {
            let (before, after) = (
                prev.get(pool).unwrap_or(&empty),
                next.get(pool).unwrap_or(&empty),
            );
            if before != after {
                affected.extend(before.keys().chain(after.keys()).cloned());
            }
        }
        affected.into_iter().collect()
    }

    /// How many pools are claimed.
    pub fn pools(&self) -> usize {
        self.by_pool.lock().expect("claims lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(ns: &str, name: &str, pool: &str) -> UserPoolMfaConfig {
        at_generation(ns, name, pool, 1)
    }
    fn at_generation(ns: &str, name: &str, pool: &str, generation: i64) -> UserPoolMfaConfig {
        serde_json::from_value(json!({
            "apiVersion": "cognitoidp.operators.dev/v1alpha1",
            "kind": "UserPoolMfaConfig",
            "metadata": {"name": name, "namespace": ns, "generation": generation},
            "spec": {"userPoolId": pool, "mfaConfiguration": "OFF"},
        }))
        .unwrap()
    }
    fn names(refs: Vec<Ref>) -> Vec<String> {
        let mut names: Vec<String> = refs
            .iter()
            .map(|r| format!("{}/{}", r.namespace.clone().unwrap_or_default(), r.name))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_change_returns_the_other_claimants_of_the_pool() {
        let claims = Claims::default();
        let a = obj("x", "a", "p");
        let b = obj("y", "b", "p");
        let c = obj("x", "c", "q");
        assert!(claims.applied(&a).is_empty());
        assert_eq!(names(claims.applied(&b)), ["x/a"]);
        assert!(claims.applied(&c).is_empty(), "another pool");
        assert!(
            claims.applied(&a).is_empty(),
            "a status write is no new claim"
        );
        assert_eq!(
            names(claims.applied(&at_generation("x", "a", "p", 2))),
            ["y/b"],
            "a new generation is"
        );
        assert_eq!(names(claims.of("p")), ["x/a", "y/b"]);
        assert_eq!(names(claims.deleted(&a)), ["y/b"]);
        assert_eq!(names(claims.deleted(&b)), Vec::<String>::new());
        assert_eq!(claims.pools(), 1, "an unclaimed pool is forgotten");
    }

    #[test]
    fn a_relist_replaces_the_claims_and_names_every_claimant_of_a_changed_pool() {
        let claims = Claims::default();
        let (a, b, c) = (obj("x", "a", "p"), obj("x", "b", "p"), obj("x", "c", "q"));
        claims.applied(&a);
        claims.applied(&b);
        claims.applied(&c);
        // While the watch was down, b was deleted and d created for q.
        let d = obj("x", "d", "q");
        claims.relist();
        claims.relisted(&a);
        claims.relisted(&c);
        claims.relisted(&d);
        assert_eq!(
            names(claims.of("p")),
            ["x/a", "x/b"],
            "unchanged until complete"
        );
        assert_eq!(names(claims.relist_done()), ["x/a", "x/b", "x/c", "x/d"]);
        assert_eq!(names(claims.of("p")), ["x/a"]);
        assert_eq!(names(claims.of("q")), ["x/c", "x/d"]);

        claims.relist();
        claims.relisted(&a);
        claims.relisted(&c);
        claims.relisted(&d);
        assert!(claims.relist_done().is_empty(), "nothing changed");
    }
}
