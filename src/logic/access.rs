//! Which `UserPoolAccessPolicy` objects let a resource act on its pool, with which AWS identity,
//! and the MFA floor its spec must meet.
//!
//! The rules, in the order they are checked:
//! 1. A resource in namespace N for pool P is permitted when at least one policy selects N and
//!    covers P. Otherwise it is refused (`NotPermitted`), and the operator makes no call for it.
//! 2. Every permitting policy applies its limits: the allowed management and deletion policies
//!    are the intersection of theirs, and the identities they name must agree (several different
//!    roles for one pool are refused as ambiguous). None naming one: the operator's own
//!    credentials.
//! 3. Every policy that covers P applies its MFA floor, whichever namespaces it selects, so a
//!    platform team can put a floor on production pools in a policy of its own. The floors add
//!    up: the highest mode and every required factor. A `Manage` spec below it is refused
//!    (`BelowMfaFloor`); an `Observe` spec never writes and is not checked.
//!
//! The outcome depends on the set of policies only, never on their order or age.

use std::collections::{BTreeMap, BTreeSet};

use kube::core::{Selector, SelectorExt};

use crate::api::{
    AwsIdentity, DeletionPolicy, ManagementPolicy, MfaFactor, MfaMode, MfaSettings,
    UserPoolAccessPolicySpec, UserPoolMfaConfigSpec,
};
use crate::logic::conditions::Reason;

/// A policy, by name.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub name: &'a str,
    pub spec: &'a UserPoolAccessPolicySpec,
}

/// The namespace a resource lives in.
#[derive(Debug, Clone, Copy)]
pub struct Namespace<'a> {
    pub name: &'a str,
    /// Its labels; empty when the Namespace object is not (yet) known.
    pub labels: &'a BTreeMap<String, String>,
}

/// What a permitted resource may use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// The role to assume; `None`: the operator's own credentials.
    pub identity: Option<AwsIdentity>,
    /// The permitting policies, sorted.
    pub policies: Vec<String>,
    /// The floor of every policy covering the pool.
    pub floor: Floor,
    /// `None`: every value is allowed.
    pub allowed_management: Option<BTreeSet<ManagementPolicy>>,
    pub allowed_deletion: Option<BTreeSet<DeletionPolicy>>,
}

/// The least MFA a pool may have, gathered from every policy covering it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Floor {
    /// `Off` when no policy sets a floor.
    pub mode: MfaMode,
    pub factors: BTreeSet<MfaFactor>,
    /// The policies that set it, sorted.
    pub policies: Vec<String>,
}

/// Why a resource may not act on its pool. Messages name only the resource's own namespace and
/// pool and the policies that select that namespace, never other tenants' objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoPolicy {
        namespace: String,
        pool: String,
    },
    AmbiguousIdentity {
        pool: String,
        policies: Vec<String>,
    },
    ManagementPolicy {
        wanted: ManagementPolicy,
        allowed: Vec<ManagementPolicy>,
        policies: Vec<String>,
    },
    DeletionPolicy {
        wanted: DeletionPolicy,
        allowed: Vec<DeletionPolicy>,
        policies: Vec<String>,
    },
    BelowFloor {
        pool: String,
        floor: Floor,
        missing: Vec<String>,
    },
}

impl Refusal {
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::BelowFloor { .. } => Reason::BelowMfaFloor,
            _ => Reason::NotPermitted,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoPolicy { namespace, pool } => write!(
                f,
                "no UserPoolAccessPolicy lets namespace {namespace} use pool {pool}: ask the cluster's platform team for one; nothing was sent to Cognito"
            ),
            Refusal::AmbiguousIdentity { pool, policies } => write!(
                f,
                "the UserPoolAccessPolicies {} name different AWS identities for pool {pool}: refused until one identity remains",
                policies.join(", ")
            ),
            Refusal::ManagementPolicy {
                wanted,
                allowed,
                policies,
            } => write!(
                f,
                "managementPolicy {wanted:?} is not allowed by UserPoolAccessPolicy {} (allowed: {})",
                policies.join(", "),
                list(allowed)
            ),
            Refusal::DeletionPolicy {
                wanted,
                allowed,
                policies,
            } => write!(
                f,
                "deletionPolicy {wanted:?} is not allowed by UserPoolAccessPolicy {} (allowed: {})",
                policies.join(", "),
                list(allowed)
            ),
            Refusal::BelowFloor {
                pool,
                floor,
                missing,
            } => write!(
                f,
                "pool {pool} must keep at least {} (UserPoolAccessPolicy {}): the spec lacks {}; nothing was sent to Cognito",
                floor,
                floor.policies.join(", "),
                missing.join(", ")
            ),
        }
    }
}

fn list<T: std::fmt::Debug>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for Floor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MFA {}", self.mode.as_str())?;
        if !self.factors.is_empty() {
            let names: Vec<&str> = self.factors.iter().map(|x| x.as_str()).collect();
            write!(f, " with {}", names.join(", "))?;
        }
        Ok(())
    }
}

/// How strict a mode is: OFF < OPTIONAL < ON.
fn rank(mode: MfaMode) -> u8 {
    match mode {
        MfaMode::Off => 0,
        MfaMode::Optional => 1,
        MfaMode::On => 2,
    }
}

impl Floor {
    pub fn is_set(&self) -> bool {
        self.mode != MfaMode::Off || !self.factors.is_empty()
    }

    /// What `mfa` lacks to meet the floor (empty: it meets it).
    pub fn missing(&self, mfa: &MfaSettings) -> Vec<String> {
        let mut missing = Vec::new();
        if rank(mfa.mfa_configuration) < rank(self.mode) {
            missing.push(format!(
                "mfaConfiguration {} (it is {})",
                if self.mode == MfaMode::On {
                    "ON"
                } else {
                    "ON or OPTIONAL"
                },
                mfa.mfa_configuration.as_str()
            ));
        }
        for factor in &self.factors {
            let enabled = match factor {
                MfaFactor::Totp => mfa
                    .software_token_mfa_configuration
                    .as_ref()
                    .is_some_and(|t| t.enabled),
                MfaFactor::Sms => mfa.sms_mfa_configuration.is_some(),
                MfaFactor::Email => mfa.email_mfa_configuration.is_some(),
            };
            if !enabled {
                missing.push(format!("the {} factor", factor.as_str()));
            }
        }
        missing
    }
}

impl Grant {
    /// Every value allowed, no floor, the operator's own credentials: enforcement off.
    pub fn unrestricted() -> Self {
        Self::default()
    }

    /// Checks the spec against the grant's limits and floor.
    pub fn admits(&self, pool: &str, spec: &UserPoolMfaConfigSpec) -> Result<(), Refusal> {
        if let Some(allowed) = &self.allowed_management
            && !allowed.contains(&spec.management_policy)
        {
            return Err(Refusal::ManagementPolicy {
                wanted: spec.management_policy,
                allowed: allowed.iter().copied().collect(),
                policies: self.policies.clone(),
            });
        }
        if let Some(allowed) = &self.allowed_deletion
            && !allowed.contains(&spec.deletion_policy)
        {
            return Err(Refusal::DeletionPolicy {
                wanted: spec.deletion_policy,
                allowed: allowed.iter().copied().collect(),
                policies: self.policies.clone(),
            });
        }
        if spec.management_policy == ManagementPolicy::Manage {
            let missing = self.floor.missing(&spec.mfa);
            if !missing.is_empty() {
                return Err(Refusal::BelowFloor {
                    pool: pool.to_owned(),
                    floor: self.floor.clone(),
                    missing,
                });
            }
        }
        Ok(())
    }
}

/// Whether `pattern` (with `*` for any run of characters) matches the whole of `pool`.
pub fn pool_matches(pattern: &str, pool: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), pool.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // Where the last `*` was, and how much of `s` it has swallowed so far.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether the policy's `userPools` cover `pool`.
pub fn covers(policy: &UserPoolAccessPolicySpec, pool: &str) -> bool {
    policy.user_pools.iter().any(|p| pool_matches(p, pool))
}

/// Whether the policy's `namespaces` select `ns`.
pub fn selects(policy: &UserPoolAccessPolicySpec, ns: Namespace) -> bool {
    let Some(sel) = &policy.namespaces else {
        return false;
    };
    sel.names.iter().any(|n| n == ns.name)
        || sel.selector.as_ref().is_some_and(|s| {
            // An invalid selector (unknown operator) selects nothing.
            Selector::try_from(s.clone()).is_ok_and(|s| s.matches(ns.labels))
        })
}

/// The grant for a resource in `ns` for `pool`, or why there is none.
pub fn grant<'a>(
    ns: Namespace,
    pool: &str,
    policies: impl IntoIterator<Item = Policy<'a>>,
) -> Result<Grant, Refusal> {
    let covering: Vec<Policy> = policies
        .into_iter()
        .filter(|p| covers(p.spec, pool))
        .collect();
    let mut permitting: Vec<Policy> = covering
        .iter()
        .copied()
        .filter(|p| selects(p.spec, ns))
        .collect();
    if permitting.is_empty() {
        return Err(Refusal::NoPolicy {
            namespace: ns.name.to_owned(),
            pool: pool.to_owned(),
        });
    }
    permitting.sort_by_key(|p| p.name);
    let names: Vec<String> = permitting.iter().map(|p| p.name.to_owned()).collect();

    let identities: BTreeSet<&AwsIdentity> = permitting
        .iter()
        .filter_map(|p| p.spec.identity.as_ref())
        .collect();
    if identities.len() > 1 {
        return Err(Refusal::AmbiguousIdentity {
            pool: pool.to_owned(),
            policies: names,
        });
    }

    fn intersect<T: Ord + Copy>(sets: impl Iterator<Item = Option<Vec<T>>>) -> Option<BTreeSet<T>> {
        sets.flatten()
            .map(|v| v.into_iter().collect::<BTreeSet<T>>())
            .reduce(|a, b| a.intersection(&b).copied().collect())
    }
    let allowed_management = intersect(
        permitting
            .iter()
            .map(|p| p.spec.allowed_management_policies.clone()),
    );
    let allowed_deletion = intersect(
        permitting
            .iter()
            .map(|p| p.spec.allowed_deletion_policies.clone()),
    );

    let mut floor = Floor::default();
    let mut floor_policies = BTreeSet::new();
    for p in &covering {
        if let Some(f) = &p.spec.mfa_floor {
            if rank(f.mfa_configuration) > rank(floor.mode) {
                floor.mode = f.mfa_configuration;
            }
            floor.factors.extend(f.required_factors.iter().copied());
            floor_policies.insert(p.name.to_owned());
        }
    }
    floor.policies = floor_policies.into_iter().collect();

    Ok(Grant {
        identity: identities.into_iter().next().cloned(),
        policies: names,
        floor,
        allowed_management,
        allowed_deletion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SoftwareTokenMfaConfig;
    use crate::logic::drift::reset;

    fn policy(yaml: &str) -> UserPoolAccessPolicySpec {
        serde_saphyr::from_str(yaml).expect("test policy parses")
    }
    fn spec(yaml: &str) -> UserPoolMfaConfigSpec {
        serde_saphyr::from_str(yaml).expect("test spec parses")
    }
    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    fn decide(
        ns: &str,
        ns_labels: &[(&str, &str)],
        pool: &str,
        policies: &[(&str, &UserPoolAccessPolicySpec)],
    ) -> Result<Grant, Refusal> {
        let l = labels(ns_labels);
        grant(
            Namespace {
                name: ns,
                labels: &l,
            },
            pool,
            policies.iter().map(|(name, spec)| Policy { name, spec }),
        )
    }

    const TOTP: &str = "userPoolId: eu-west-1_P1\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}";

    #[test]
    fn patterns() {
        let cases = [
            ("eu-west-1_AbC", "eu-west-1_AbC", true),
            ("eu-west-1_AbC", "eu-west-1_AbCd", false),
            ("eu-west-1_AbC", "eu-west-1_Ab", false),
            ("eu-west-1_*", "eu-west-1_AbC", true),
            ("eu-west-1_*", "eu-west-1_", true),
            ("eu-west-1_*", "eu-west-2_AbC", false),
            ("*", "us-east-1_x", true),
            ("*_prod*", "us-east-1_prodAbc", true),
            ("*_prod*", "us-east-1_devAbc", false),
            ("us-*-1_*", "us-west-1_x", true),
            ("us-*-1_*", "us-west-2_x", false),
            ("a*a", "aa", true),
            ("a*a", "a", false),
            ("a**b", "axxb", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, pool, want) in cases {
            assert_eq!(pool_matches(pattern, pool), want, "{pattern} ~ {pool}");
        }
    }

    #[test]
    fn default_deny_names_only_the_resources_own_namespace_and_pool() {
        let other = policy("namespaces: {names: [team-b]}\nuserPools: ['eu-west-1_*']");
        let err = decide("team-a", &[], "eu-west-1_P1", &[("team-b-pools", &other)]).unwrap_err();
        assert_eq!(err.reason(), Reason::NotPermitted);
        let message = err.to_string();
        assert!(message.contains("team-a") && message.contains("eu-west-1_P1"));
        assert!(
            !message.contains("team-b"),
            "another tenant's policy is not revealed: {message}"
        );
        assert_eq!(
            decide("team-a", &[], "eu-west-1_P1", &[]).unwrap_err(),
            Refusal::NoPolicy {
                namespace: "team-a".into(),
                pool: "eu-west-1_P1".into()
            }
        );
    }

    #[test]
    fn namespaces_by_name_and_by_labels() {
        let by_name = policy("namespaces: {names: [team-a, team-c]}\nuserPools: ['*']");
        let by_label = policy(
            "namespaces: {selector: {matchLabels: {team: a}, matchExpressions: [{key: env, operator: In, values: [dev, test]}]}}\nuserPools: ['*']",
        );
        let everyone = policy("namespaces: {selector: {}}\nuserPools: ['*']");
        let nobody = policy("userPools: ['*']");
        let bad_selector = policy(
            "namespaces: {selector: {matchExpressions: [{key: team, operator: Near, values: [a]}]}}\nuserPools: ['*']",
        );
        let ok = |ns: &str, l: &[(&str, &str)], p: &UserPoolAccessPolicySpec| {
            decide(ns, l, "eu-west-1_P1", &[("p", p)]).is_ok()
        };
        assert!(ok("team-a", &[], &by_name));
        assert!(ok("team-c", &[], &by_name));
        assert!(!ok("team-b", &[], &by_name));
        assert!(ok("x", &[("team", "a"), ("env", "dev")], &by_label));
        assert!(!ok("x", &[("team", "a"), ("env", "prod")], &by_label));
        assert!(!ok("x", &[("team", "a")], &by_label));
        assert!(!ok("team-a", &[], &by_label), "labels, not names");
        assert!(ok("anything", &[], &everyone));
        assert!(!ok("anything", &[], &nobody), "no namespaces: floor only");
        assert!(!ok("x", &[("team", "a")], &bad_selector));
    }

    #[test]
    fn pools_must_be_covered() {
        let p = policy("namespaces: {names: [team-a]}\nuserPools: [eu-west-1_P1, 'us-east-1_*']");
        assert!(decide("team-a", &[], "eu-west-1_P1", &[("p", &p)]).is_ok());
        assert!(decide("team-a", &[], "us-east-1_Q", &[("p", &p)]).is_ok());
        assert_eq!(
            decide("team-a", &[], "eu-west-1_P2", &[("p", &p)]),
            Err(Refusal::NoPolicy {
                namespace: "team-a".into(),
                pool: "eu-west-1_P2".into()
            })
        );
    }

    #[test]
    fn identity_comes_from_the_permitting_policies_and_must_agree() {
        let role_b = "namespaces: {names: [team-a]}\nuserPools: ['*']\nidentity: {roleArn: 'arn:aws:iam::222222222222:role/b'}";
        let b = policy(role_b);
        let b_again = policy(role_b);
        let c = policy(
            "namespaces: {names: [team-a]}\nuserPools: ['*']\nidentity: {roleArn: 'arn:aws:iam::333333333333:role/c'}",
        );
        let plain = policy("namespaces: {names: [team-a]}\nuserPools: ['*']");
        let other_ns = policy(
            "namespaces: {names: [team-z]}\nuserPools: ['*']\nidentity: {roleArn: 'arn:aws:iam::333333333333:role/c'}",
        );

        let g = decide("team-a", &[], "eu-west-1_P1", &[("plain", &plain)]).unwrap();
        assert_eq!(g.identity, None, "no identity named: the operator's own");

        let g = decide(
            "team-a",
            &[],
            "eu-west-1_P1",
            &[("b", &b), ("plain", &plain), ("z", &other_ns)],
        )
        .unwrap();
        assert_eq!(g.identity.as_ref().unwrap().account(), "222222222222");
        assert_eq!(g.policies, vec!["b", "plain"], "only permitting policies");

        assert!(
            decide(
                "team-a",
                &[],
                "eu-west-1_P1",
                &[("b", &b), ("b2", &b_again)]
            )
            .is_ok(),
            "the same identity twice agrees"
        );
        let err = decide("team-a", &[], "eu-west-1_P1", &[("c", &c), ("b", &b)]).unwrap_err();
        assert_eq!(
            err,
            Refusal::AmbiguousIdentity {
                pool: "eu-west-1_P1".into(),
                policies: vec!["b".into(), "c".into()]
            }
        );
        assert_eq!(err.reason(), Reason::NotPermitted);
    }

    #[test]
    fn outcome_does_not_depend_on_policy_order() {
        let a = policy(
            "namespaces: {names: [team-a]}\nuserPools: ['*']\nallowedManagementPolicies: [Observe, Manage]\nmfaFloor: {mfaConfiguration: OPTIONAL}",
        );
        let b = policy(
            "namespaces: {selector: {}}\nuserPools: ['eu-west-1_*']\nallowedManagementPolicies: [Manage]\nmfaFloor: {mfaConfiguration: 'ON', requiredFactors: [TOTP]}",
        );
        // Both permit team-a: their limits intersect and their floors add up.
        let want = Grant {
            identity: None,
            policies: vec!["a".into(), "b".into()],
            floor: Floor {
                mode: MfaMode::On,
                factors: [MfaFactor::Totp].into(),
                policies: vec!["a".into(), "b".into()],
            },
            allowed_management: Some([ManagementPolicy::Manage].into()),
            allowed_deletion: None,
        };
        for order in [[("a", &a), ("b", &b)], [("b", &b), ("a", &a)]] {
            assert_eq!(
                decide("team-a", &[], "eu-west-1_P1", &order),
                Ok(want.clone())
            );
        }
    }

    #[test]
    fn limits_are_the_intersection_of_the_permitting_policies() {
        let observe_only = policy(
            "namespaces: {names: [team-a]}\nuserPools: ['*']\nallowedManagementPolicies: [Observe]",
        );
        let retain_only = policy(
            "namespaces: {names: [team-a]}\nuserPools: ['*']\nallowedDeletionPolicies: [Retain]",
        );
        let any = policy("namespaces: {names: [team-a]}\nuserPools: ['*']");
        let manage = spec(TOTP);
        let reset = spec(&format!("{TOTP}\ndeletionPolicy: Reset"));
        let observe = spec(&format!("{TOTP}\nmanagementPolicy: Observe"));

        let g = decide("team-a", &[], "eu-west-1_P1", &[("any", &any)]).unwrap();
        for s in [&manage, &reset, &observe] {
            assert_eq!(g.admits("eu-west-1_P1", s), Ok(()));
        }
        let g = decide(
            "team-a",
            &[],
            "eu-west-1_P1",
            &[("any", &any), ("observe-only", &observe_only)],
        )
        .unwrap();
        let err = g.admits("eu-west-1_P1", &manage).unwrap_err();
        assert_eq!(err.reason(), Reason::NotPermitted);
        assert!(err.to_string().contains("managementPolicy Manage"));
        assert!(err.to_string().contains("allowed: Observe"));
        assert_eq!(g.admits("eu-west-1_P1", &observe), Ok(()));

        let g = decide(
            "team-a",
            &[],
            "eu-west-1_P1",
            &[("retain-only", &retain_only)],
        )
        .unwrap();
        assert!(matches!(
            g.admits("eu-west-1_P1", &reset),
            Err(Refusal::DeletionPolicy { .. })
        ));
        assert_eq!(g.admits("eu-west-1_P1", &manage), Ok(()));

        let g = decide(
            "team-a",
            &[],
            "eu-west-1_P1",
            &[
                ("observe-only", &observe_only),
                ("retain-only", &retain_only),
            ],
        )
        .unwrap();
        let disjoint = policy(
            "namespaces: {names: [team-a]}\nuserPools: ['*']\nallowedManagementPolicies: [Manage]",
        );
        let g2 = decide(
            "team-a",
            &[],
            "eu-west-1_P1",
            &[("observe-only", &observe_only), ("manage-only", &disjoint)],
        )
        .unwrap();
        assert!(g.admits("eu-west-1_P1", &observe).is_ok());
        let err = g2.admits("eu-west-1_P1", &observe).unwrap_err();
        assert!(err.to_string().contains("allowed: none"), "{err}");
    }

    #[test]
    fn floors_come_from_every_covering_policy_and_add_up() {
        let grant_all = policy("namespaces: {names: [team-a]}\nuserPools: ['*']");
        let prod_on = policy("userPools: ['eu-west-1_*']\nmfaFloor: {mfaConfiguration: 'ON'}");
        let email = policy(
            "userPools: ['*']\nmfaFloor: {mfaConfiguration: OPTIONAL, requiredFactors: [EMAIL]}",
        );
        let g = decide(
            "team-a",
            &[],
            "eu-west-1_P1",
            &[("grant", &grant_all), ("prod", &prod_on), ("email", &email)],
        )
        .unwrap();
        assert_eq!(g.floor.mode, MfaMode::On);
        assert_eq!(g.floor.factors, [MfaFactor::Email].into());
        assert_eq!(g.floor.policies, vec!["email", "prod"]);
        assert!(g.floor.is_set());

        let totp_on = spec(TOTP);
        let err = g.admits("eu-west-1_P1", &totp_on).unwrap_err();
        assert_eq!(err.reason(), Reason::BelowMfaFloor);
        assert!(err.to_string().contains("EMAIL"), "{err}");

        let both = spec(
            "userPoolId: eu-west-1_P1\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}\nemailMfaConfiguration: {}",
        );
        assert_eq!(g.admits("eu-west-1_P1", &both), Ok(()));

        let optional =
            spec("userPoolId: eu-west-1_P1\nmfaConfiguration: OPTIONAL\nemailMfaConfiguration: {}");
        let err = g.admits("eu-west-1_P1", &optional).unwrap_err();
        assert!(
            err.to_string()
                .contains("mfaConfiguration ON (it is OPTIONAL)"),
            "{err}"
        );

        let off = spec("userPoolId: eu-west-1_P1\nmfaConfiguration: 'OFF'");
        let observe_off =
            spec("userPoolId: eu-west-1_P1\nmfaConfiguration: 'OFF'\nmanagementPolicy: Observe");
        assert!(g.admits("eu-west-1_P1", &off).is_err());
        assert_eq!(
            g.admits("eu-west-1_P1", &observe_off),
            Ok(()),
            "Observe never writes"
        );
        assert!(
            !g.floor.missing(&reset()).is_empty(),
            "a reset would break the floor"
        );

        let elsewhere = decide(
            "team-a",
            &[],
            "us-east-1_Q",
            &[("grant", &grant_all), ("prod", &prod_on)],
        )
        .unwrap();
        assert!(
            !elsewhere.floor.is_set(),
            "floors only on the pools they cover"
        );
        assert_eq!(elsewhere.admits("us-east-1_Q", &off), Ok(()));
    }

    #[test]
    fn optional_floor_accepts_on_and_optional() {
        let f = Floor {
            mode: MfaMode::Optional,
            ..Floor::default()
        };
        let on = spec(TOTP).mfa;
        let mut optional = on.clone();
        optional.mfa_configuration = MfaMode::Optional;
        assert!(f.missing(&on).is_empty());
        assert!(f.missing(&optional).is_empty());
        assert_eq!(
            f.missing(&reset()),
            ["mfaConfiguration ON or OPTIONAL (it is OFF)"]
        );
        assert!(!Floor::default().is_set());
        assert!(Floor::default().missing(&reset()).is_empty());
    }

    #[test]
    fn each_required_factor_must_be_enabled() {
        let f = Floor {
            factors: [MfaFactor::Totp, MfaFactor::Sms, MfaFactor::Email].into(),
            ..Floor::default()
        };
        assert!(f.is_set(), "factors alone are a floor");
        assert_eq!(
            f.missing(&reset()),
            ["the TOTP factor", "the SMS factor", "the EMAIL factor"]
        );
        let all = spec(
            "userPoolId: eu-west-1_P1\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sns'}}\nemailMfaConfiguration: {}",
        )
        .mfa;
        assert!(f.missing(&all).is_empty(), "{:?}", f.missing(&all));
        let mut totp_off = all.clone();
        totp_off.software_token_mfa_configuration = Some(SoftwareTokenMfaConfig { enabled: false });
        assert_eq!(
            f.missing(&totp_off),
            ["the TOTP factor"],
            "a disabled TOTP block"
        );
    }

    #[test]
    fn unrestricted_admits_everything() {
        let g = Grant::unrestricted();
        for y in [
            "userPoolId: eu-west-1_P1\nmfaConfiguration: 'OFF'\ndeletionPolicy: Reset",
            "userPoolId: eu-west-1_P1\nmfaConfiguration: 'OFF'\nmanagementPolicy: Observe",
        ] {
            assert_eq!(g.admits("eu-west-1_P1", &spec(y)), Ok(()));
        }
        assert_eq!(g.identity, None);
    }
}
