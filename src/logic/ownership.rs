//! Which resource owns a pool when several name it: the oldest `Manage` claim by creation time,
//! then by namespace/name. The others report `Conflict` and make no Cognito call. `Observe`
//! claims never write, so they neither own nor block. The caller passes only claims that are
//! permitted (valid, and allowed by the access policies), so a claim that may not act on the pool
//! can never squat on it.

use jiff::Timestamp;

/// One resource's claim on a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub created: Option<Timestamp>,
    pub pool: &'a str,
    /// `managementPolicy: Observe`.
    pub observe: bool,
}

impl Claim<'_> {
    fn key(&self) -> (bool, Option<Timestamp>, &str, &str) {
        // A claim without a creation time (not yet persisted) sorts last.
        (
            self.created.is_none(),
            self.created,
            self.namespace,
            self.name,
        )
    }
}

/// The claim that owns `me.pool`, if it is another resource than `me`; `None` for an `Observe`
/// claim.
pub fn other_owner<'a>(
    me: &Claim<'a>,
    all: impl IntoIterator<Item = Claim<'a>>,
) -> Option<Claim<'a>> {
    if me.observe {
        return None;
    }
    all.into_iter()
        .filter(|c| c.pool == me.pool && !c.observe)
        .chain(std::iter::once(me.clone()))
        .min_by(|a, b| a.key().cmp(&b.key()))
        .filter(|owner| (owner.namespace, owner.name) != (me.namespace, me.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(ns: &'a str, name: &'a str, secs: Option<i64>, pool: &'a str) -> Claim<'a> {
        Claim {
            namespace: ns,
            name,
            created: secs.map(|s| Timestamp::from_second(s).unwrap()),
            pool,
            observe: false,
        }
    }

    #[test]
    fn oldest_owns_then_namespace_then_name() {
        let all = [
            c("b", "x", Some(10), "p"),
            c("a", "y", Some(20), "p"),
            c("a", "z", Some(10), "q"),
        ];
        assert_eq!(other_owner(&all[0], all.clone()), None);
        assert_eq!(other_owner(&all[1], all.clone()).unwrap().name, "x");
        assert_eq!(
            other_owner(&all[2], all.clone()),
            None,
            "other pools do not conflict"
        );

        let tie = [
            c("b", "a", Some(10), "p"),
            c("a", "b", Some(10), "p"),
            c("a", "a", Some(10), "p"),
        ];
        for me in &tie[..2] {
            assert_eq!(other_owner(me, tie.clone()).unwrap(), tie[2]);
        }
        assert_eq!(other_owner(&tie[2], tie.clone()), None);
    }

    #[test]
    fn observe_claims_neither_own_nor_block() {
        let squatter = Claim {
            observe: true,
            ..c("other", "early", Some(1), "p")
        };
        let owner = c("team", "late", Some(9), "p");
        assert_eq!(other_owner(&owner, [squatter.clone(), owner.clone()]), None);
        assert_eq!(
            other_owner(&squatter, [squatter.clone(), owner.clone()]),
            None
        );
        let second = c("team", "later", Some(10), "p");
        assert_eq!(
            other_owner(&second, [squatter.clone(), owner.clone(), second.clone()]),
            Some(owner)
        );
    }

    #[test]
    fn alone_or_missing_from_the_list_owns() {
        let me = c("a", "a", Some(5), "p");
        assert_eq!(other_owner(&me, []), None);
        assert_eq!(
            other_owner(&me, [c("a", "b", Some(9), "p")]),
            None,
            "not yet in the list, and the oldest"
        );
        assert_eq!(
            other_owner(&c("a", "new", None, "p"), [me.clone()]).unwrap(),
            me
        );
    }
}
