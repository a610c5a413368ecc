//! Which resource owns a pool when several name it: the oldest by creation time, then by
//! namespace/name. The others report `Conflict` and make no Cognito call.

use jiff::Timestamp;

/// One resource's claim on a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub created: Option<Timestamp>,
    pub pool: &'a str,
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

/// The claim that owns `me.pool`, if it is another resource than `me`.
pub fn other_owner<'a>(
    me: &Claim<'a>,
    all: impl IntoIterator<Item = Claim<'a>>,
) -> Option<Claim<'a>> {
    all.into_iter()
        .filter(|c| c.pool == me.pool)
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
    fn alone_or_missing_from_the_list_owns() {
        let me = c("a", "a", Some(5), "p");
        assert_eq!(other_owner(&me, []), None);
        assert_eq!(
            other_owner(&c("a", "new", None, "p"), [me.clone()]).unwrap(),
            me
        );
    }
}
