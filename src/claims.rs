//! Which resources claim each pool, kept from the watch events, so that ownership and the
//! re-runs a change of claims calls for cost the same whatever the number of resources.
//!
//! Any change to a claim (create, a new generation, delete, and what a relist adds or removes)
//! re-runs every other claimant of that pool: two resources created in the same second never
//! both stay `Synced`, and a waiting resource takes over as soon as the owner goes. A status
//! write is no change of claim, so claimants do not re-run each other on their own writes.
//!
//! Kept small, since there is one claim per resource: a pool's claimants are a short list
//! (usually one) of namespace and name, and a relist marks the claims it sees in place instead
//! of building a second index beside the first.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::runtime::reflector::ObjectRef;

use crate::api::UserPoolMfaConfig;

type Ref = ObjectRef<UserPoolMfaConfig>;

struct Claim {
    who: Ref,
    generation: Option<i64>,
    /// Delivered by the relist under way (meaningless when none is).
    seen: bool,
    /// Delivered new or of a new generation by the relist under way (likewise).
    fresh: bool,
}

#[derive(Default)]
struct Index {
    /// Each pool's claimants.
    by_pool: HashMap<String, Vec<Claim>>,
    /// A relist is under way.
    relisting: bool,
}

#[derive(Default)]
pub struct Claims {
    index: Mutex<Index>,
}

impl Index {
    /// Records `obj`'s claim as seen; true when it is new or of a new generation.
    fn record(&mut self, obj: &UserPoolMfaConfig) -> bool {
        let (me, generation) = (obj.reference(), obj.metadata.generation);
        let claimants = self
            .by_pool
            .entry(obj.spec.user_pool_id.clone())
            // Room for one: a pool usually has a single claimant, and a first push would
            // reserve four.
            .or_insert_with(|| Vec::with_capacity(1));
        match claimants.iter_mut().find(|c| c.who == me) {
            Some(c) => {
                c.seen = true;
                c.fresh = std::mem::replace(&mut c.generation, generation) != generation;
                c.fresh
            }
            None => {
                claimants.push(Claim {
                    who: me,
                    generation,
                    seen: true,
                    fresh: true,
                });
                true
            }
        }
    }

    fn claimants(&self, pool: &str) -> impl Iterator<Item = &Ref> {
        self.by_pool.get(pool).into_iter().flatten().map(|c| &c.who)
    }

    fn others(&self, pool: &str, me: &Ref) -> Vec<Ref> {
        self.claimants(pool).filter(|c| *c != me).cloned().collect()
    }
}

impl Claims {
    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().expect("claims lock")
    }

    /// The resources claiming `pool`.
    pub fn of(&self, pool: &str) -> Vec<Ref> {
        self.index().claimants(pool).cloned().collect()
    }

    /// Records a created or changed resource; returns the other claimants of its pool when its
    /// claim is new or of a new generation.
    pub fn applied(&self, obj: &UserPoolMfaConfig) -> Vec<Ref> {
        let mut index = self.index();
        if !index.record(obj) {
            return vec![];
        }
        index.others(&obj.spec.user_pool_id, &obj.reference())
    }

    /// Forgets a deleted resource; returns the remaining claimants of its pool.
    pub fn deleted(&self, obj: &UserPoolMfaConfig) -> Vec<Ref> {
        let (pool, me) = (&obj.spec.user_pool_id, obj.reference());
        let mut index = self.index();
        let Some(claimants) = index.by_pool.get_mut(pool) else {
            return vec![];
        };
        claimants.retain(|c| c.who != me);
        if claimants.is_empty() {
            index.by_pool.remove(pool);
        }
        index.others(pool, &me)
    }

    /// A relist begins: every claim is unseen until the relist delivers it again.
    pub fn relist(&self) {
        let mut index = self.index();
        index
            .by_pool
            .values_mut()
            .flatten()
            .for_each(|c| c.seen = false);
        index.relisting = true;
    }

    /// A resource of the relist.
    pub fn relisted(&self, obj: &UserPoolMfaConfig) {
        let mut index = self.index();
        if index.relisting {
            index.record(obj);
        }
    }

    /// The relist is complete: the claims it did not deliver are gone. Returns the claimants
    /// to re-run: those gone, and those of each pool whose claims differ that the relist did
    /// not deliver new or changed (those pass the controller's predicates and run anyway; on
    /// a first list, that is all of them, and a second request each would be 10,000 more at
    /// 10,000 resources).
    pub fn relist_done(&self) -> Vec<Ref> {
        let mut index = self.index();
        if !std::mem::take(&mut index.relisting) {
            return vec![];
        }
        let mut affected = vec![];
        index.by_pool.retain(|_, claimants| {
            let before = claimants.len();
            claimants.retain(|c| {
                if !c.seen {
                    affected.push(c.who.clone());
                }
                c.seen
            });
            if claimants.len() != before || claimants.iter().any(|c| c.fresh) {
                affected.extend(claimants.iter().filter(|c| !c.fresh).map(|c| c.who.clone()));
            }
            !claimants.is_empty()
        });
        affected
    }

    /// How many pools are claimed.
    pub fn pools(&self) -> usize {
        self.index().by_pool.len()
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
    fn a_relist_replaces_the_claims_and_names_the_claimants_its_own_events_do_not_rerun() {
        let claims = Claims::default();
        let (a, b, c) = (obj("x", "a", "p"), obj("x", "b", "p"), obj("x", "c", "q"));
        // A first list: every claim is new, so each claimant runs on its own event.
        claims.relist();
        claims.relisted(&a);
        claims.relisted(&c);
        assert!(claims.relist_done().is_empty());
        assert_eq!(names(claims.of("p")), ["x/a"]);
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
            "a claim the relist has not delivered stays until it is complete"
        );
        // b is gone, and a and c stay beside a change of their pool; d is new.
        assert_eq!(names(claims.relist_done()), ["x/a", "x/b", "x/c"]);
        assert_eq!(names(claims.of("p")), ["x/a"]);
        assert_eq!(names(claims.of("q")), ["x/c", "x/d"]);

        claims.relist();
        claims.relisted(&a);
        claims.relisted(&c);
        claims.relisted(&d);
        assert!(claims.relist_done().is_empty(), "nothing changed");

        // a has a new generation, d is gone.
        claims.relist();
        claims.relisted(&at_generation("x", "a", "p", 2));
        claims.relisted(&c);
        assert_eq!(names(claims.relist_done()), ["x/c", "x/d"]);
        assert_eq!(names(claims.of("q")), ["x/c"]);

        // Everything is gone: so are the pools.
        claims.relist();
        assert_eq!(names(claims.relist_done()), ["x/a", "x/c"]);
        assert_eq!(claims.pools(), 0);
        assert!(claims.of("p").is_empty());
    }
}
