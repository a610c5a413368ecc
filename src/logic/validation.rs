//! The rules Cognito enforces on an MFA configuration, checked before any call.
//!
//! The CRD carries the same rules as OpenAPI constraints and CEL (`crate::api`), so admission
//! normally rejects a bad spec first; the operator checks again because a cluster may run an
//! older CRD, or none of its validation at all.

use std::sync::LazyLock;

use regex::Regex;

use super::partitions::partition_of;
use crate::api::{
    CODE_PLACEHOLDER, DeletionPolicy, ManagementPolicy, MfaMode, MfaSettings, UserPoolMfaConfigSpec,
};

static POOL_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[\w-]+_[0-9a-zA-Z]+$").unwrap());
static ROLE_ARN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^arn:[\w+=/,.@-]+:iam::[0-9]{12}:role/[\w+=/,.@-]+$").unwrap());
static REGION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$").unwrap());

/// One broken rule: the field it concerns and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins violations into one condition message.
pub fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A spec that keeps every rule, with the region its pool ID names: what a pass works from once
/// `validate` has let it through.
#[derive(Debug, Clone, Copy)]
pub struct Valid<'a> {
    spec: &'a UserPoolMfaConfigSpec,
    region: &'a str,
}

impl<'a> Valid<'a> {
    pub fn spec(&self) -> &'a UserPoolMfaConfigSpec {
        self.spec
    }

    pub fn pool(&self) -> &'a str {
        &self.spec.user_pool_id
    }

    /// The pool's region, which the calls go to.
    pub fn region(&self) -> &'a str {
        self.region
    }
}

/// The spec as `Valid`, or every rule it breaks.
pub fn validate(spec: &UserPoolMfaConfigSpec) -> Result<Valid<'_>, Vec<Violation>> {
    let violations = violations(spec);
    match pool_region(&spec.user_pool_id) {
        Some(region) if violations.is_empty() => Ok(Valid { spec, region }),
        _ => Err(violations),
    }
}

/// Every rule the spec breaks (empty when it is valid).
pub fn violations(spec: &UserPoolMfaConfigSpec) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut bad = |field, message: String| v.push(Violation { field, message });

    let id = &spec.user_pool_id;
    if id.is_empty() || id.chars().count() > 55 {
        bad("spec.userPoolId", "must be 1 to 55 characters long".into());
    } else if !POOL_ID.is_match(id) {
        bad(
            "spec.userPoolId",
            format!("{id:?} does not match [\\w-]+_[0-9a-zA-Z]+"),
        );
    } else if pool_region(id).is_none() {
        let region = id.rsplit_once('_').map_or("", |(r, _)| r);
        bad(
            "spec.userPoolId",
            format!("{id:?}: {region:?} is not a region of any AWS partition (like us-east-1)"),
        );
    }

    check_settings(&spec.mfa, &mut bad);

    if spec.deletion_policy != DeletionPolicy::Retain
        && spec.management_policy == ManagementPolicy::Observe
    {
        bad(
            "spec.deletionPolicy",
            "deletionPolicy Reset or Restore writes to Cognito and needs managementPolicy Manage"
                .into(),
        );
    }
    v
}

fn check_settings(mfa: &MfaSettings, bad: &mut impl FnMut(&'static str, String)) {
    // Rules 2 and 3 of the service: ON/OPTIONAL need a factor, OFF allows none.
    // WebAuthn is not an MFA factor.
    match (mfa.mfa_configuration, has_enabled_factor(mfa)) {
        (MfaMode::On | MfaMode::Optional, false) => bad(
            "spec.mfaConfiguration",
            format!(
                "{} needs an enabled factor: softwareTokenMfaConfiguration.enabled, smsMfaConfiguration or emailMfaConfiguration",
                mfa.mfa_configuration.as_str()
            ),
        ),
        (MfaMode::Off, true) => bad(
            "spec.mfaConfiguration",
            "OFF cannot be combined with an enabled factor (SMS, TOTP or email)".into(),
        ),
        _ => {}
    }

    if let Some(sms) = &mfa.sms_mfa_configuration {
        if let Some(msg) = &sms.sms_authentication_message {
            check_message(
                "spec.smsMfaConfiguration.smsAuthenticationMessage",
                msg,
                6,
                140,
                bad,
            );
        }
        let cfg = &sms.sms_configuration;
        if !ROLE_ARN.is_match(&cfg.sns_caller_arn)
            || !(20..=2048).contains(&cfg.sns_caller_arn.len())
        {
            bad(
                "spec.smsMfaConfiguration.smsConfiguration.snsCallerArn",
                format!(
                    "{:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
                    cfg.sns_caller_arn
                ),
            );
        }
        if cfg
            .external_id
            .as_ref()
            .is_some_and(|e| e.chars().count() > 1224)
        {
            bad(
                "spec.smsMfaConfiguration.smsConfiguration.externalId",
                "must be at most 1224 characters".into(),
            );
        }
        if let Some(region) = &cfg.sns_region
            && (!REGION.is_match(region) || !(5..=32).contains(&region.len()))
        {
            bad(
                "spec.smsMfaConfiguration.smsConfiguration.snsRegion",
                format!("{region:?} is not an AWS region"),
            );
        }
    }

    if let Some(email) = &mfa.email_mfa_configuration {
        if let Some(msg) = &email.message {
            check_message("spec.emailMfaConfiguration.message", msg, 6, 20000, bad);
        }
        if let Some(subject) = &email.subject
            && !(1..=140).contains(&subject.chars().count())
        {
            bad(
                "spec.emailMfaConfiguration.subject",
                "must be 1 to 140 characters long".into(),
            );
        }
    }

    if let Some(rp) = mfa
        .web_authn_configuration
        .as_ref()
        .and_then(|w| w.relying_party_id.as_ref())
        && !(1..=127).contains(&rp.chars().count())
    {
        bad(
            "spec.webAuthnConfiguration.relyingPartyId",
            "must be 1 to 127 characters long".into(),
        );
    }
}

fn check_message(
    field: &'static str,
    msg: &str,
    min: usize,
    max: usize,
    bad: &mut impl FnMut(&'static str, String),
) {
    let len = msg.chars().count();
    if !(min..=max).contains(&len) {
        bad(field, format!("must be {min} to {max} characters long"));
    }
    if !msg.contains(CODE_PLACEHOLDER) {
        bad(
            field,
            format!("must contain the code placeholder {CODE_PLACEHOLDER}"),
        );
    }
}

/// Whether SMS, TOTP or email MFA is on.
pub fn has_enabled_factor(mfa: &MfaSettings) -> bool {
    mfa.software_token_mfa_configuration
        .as_ref()
        .is_some_and(|t| t.enabled)
        || mfa.sms_mfa_configuration.is_some()
        || mfa.email_mfa_configuration.is_some()
}

/// The region a pool lives in: the part of its ID before the last `_`, when it is a region of
/// an AWS partition.
pub fn pool_region(pool_id: &str) -> Option<&str> {
    pool_id
        .rsplit_once('_')
        .map(|(region, _)| region)
        .filter(|r| partition_of(r).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The cases of tests/rules/spec-rules.yaml, the one table of the spec rules (admission and
    /// the emulator are checked against it too).
    fn rules_table() -> Vec<Value> {
        let table: Value =
            serde_saphyr::from_str(include_str!("../../tests/rules/spec-rules.yaml")).unwrap();
        table["cases"].as_array().unwrap().clone()
    }

    /// A case's operator column: the fields of the violations, in order (none for `accept`), or
    /// `None` for `unparsed`.
    fn operator_column(case: &Value) -> Option<Vec<&str>> {
        match &case["operator"] {
            Value::String(s) if s == "unparsed" => None,
            Value::String(s) if s == "accept" => Some(vec![]),
            Value::String(field) => Some(vec![field.as_str()]),
            Value::Array(fields) => Some(fields.iter().map(|f| f.as_str().unwrap()).collect()),
            other => panic!("{}: operator {other}", case["what"]),
        }
    }

    /// The spec as the operator gets it (JSON from the API server), or why it does not parse.
    fn parse(case: &Value) -> Result<UserPoolMfaConfigSpec, serde_json::Error> {
        serde_json::from_value(case["spec"].clone())
    }

    /// The operator's column of tests/rules/spec-rules.yaml: each spec parses or not as it says,
    /// and `validate` finds exactly the violations it lists, in order.
    #[test]
    fn the_rules_table_is_what_validation_decides() {
        let cases = rules_table();
        let (mut unparsed, mut accepted, mut rejected) = (0, 0, 0);
        for case in &cases {
            let what = case["what"].as_str().unwrap();
            match (operator_column(case), parse(case)) {
                (None, Err(_)) => unparsed += 1,
                (None, Ok(spec)) => panic!("{what}: parses as {spec:?}"),
                (Some(_), Err(e)) => panic!("{what}: does not parse: {e}"),
                (Some(want), Ok(spec)) => {
                    let fields = |v: Vec<Violation>| v.into_iter().map(|v| v.field).collect();
                    let found: Vec<_> = fields(violations(&spec));
                    assert_eq!(found, want, "{what}");
                    let refused: Vec<_> = validate(&spec).err().map_or_else(Vec::new, fields);
                    assert_eq!(refused, want, "{what}: validate");
                    if want.is_empty() {
                        accepted += 1;
                    } else {
                        rejected += 1;
                    }
                }
            }
        }
        assert!(
            unparsed >= 5 && accepted >= 15 && rejected >= 25,
            "{unparsed} unparsed, {accepted} accepted, {rejected} rejected"
        );
    }

    /// What a pass works from: a spec the table accepts validates to its own pool and the
    /// region that pool's ID names.
    #[test]
    fn accepted_cases_validate_to_their_pool_and_region() {
        let mut regions = std::collections::BTreeSet::new();
        for case in rules_table() {
            if operator_column(&case).is_some_and(|fields| fields.is_empty()) {
                let what = case["what"].as_str().unwrap();
                let spec = parse(&case).unwrap();
                let valid = validate(&spec).unwrap_or_else(|v| panic!("{what}: {v:?}"));
                assert!(std::ptr::eq(valid.spec(), &spec), "{what}");
                assert_eq!(valid.pool(), spec.user_pool_id, "{what}");
                let (region, _) = spec.user_pool_id.rsplit_once('_').unwrap();
                assert_eq!(valid.region(), region, "{what}");
                regions.insert(region.to_owned());
            }
        }
        assert!(
            regions.len() >= 2,
            "accepted pools of one region only: {regions:?}"
        );
    }

    #[test]
    fn region_comes_from_the_pool_id() {
        assert_eq!(pool_region("us-east-1_AbC"), Some("us-east-1"));
        assert_eq!(pool_region("us-gov-west-1_x1"), Some("us-gov-west-1"));
        assert_eq!(
            pool_region("ap-southeast-2_0123456789abcdef0123456789abcdef"),
            Some("ap-southeast-2")
        );
        assert_eq!(pool_region("eusc-de-east-1_x1"), Some("eusc-de-east-1"));
        assert_eq!(pool_region("local_abc"), None);
        assert_eq!(pool_region("xx-west-1_abc"), None, "no partition has it");
        assert_eq!(pool_region("nounderscore"), None);
    }
}
