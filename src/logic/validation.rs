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
    use crate::api::*;

    fn spec(yaml: &str) -> UserPoolMfaConfigSpec {
        serde_saphyr::from_str(yaml).expect("test spec parses")
    }

    fn fields(s: &UserPoolMfaConfigSpec) -> Vec<&'static str> {
        violations(s).into_iter().map(|v| v.field).collect()
    }

    const GOOD: &[&str] = &[
        "userPoolId: us-east-1_AbC123\nmfaConfiguration: 'OFF'",
        "userPoolId: us-east-1_AbC123\nmfaConfiguration: 'OFF'\nsoftwareTokenMfaConfiguration: {enabled: false}",
        "userPoolId: us-east-1_AbC123\nmfaConfiguration: 'OFF'\nwebAuthnConfiguration: {relyingPartyId: auth.example.com}",
        "userPoolId: us-east-1_AbC123\nmfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}",
        "userPoolId: eu-west-2_x\nmfaConfiguration: OPTIONAL\nsmsMfaConfiguration: {smsAuthenticationMessage: 'Code {####}', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms', externalId: x, snsRegion: us-gov-west-1}}",
        "userPoolId: us-east-1_0123456789abcdef0123456789abcdef\nmfaConfiguration: 'ON'\nemailMfaConfiguration: {message: 'Your code {####}', subject: Code}",
        "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nemailMfaConfiguration: {}",
        "userPoolId: us-east-1_a\nmfaConfiguration: OPTIONAL\nsoftwareTokenMfaConfiguration: {enabled: true}\nwebAuthnConfiguration: {relyingPartyId: a, userVerification: required, factorConfiguration: MULTI_FACTOR_WITH_USER_VERIFICATION}\ndeletionPolicy: Reset",
        "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nmanagementPolicy: Observe",
    ];

    /// The operator's column of tests/rules/spec-rules.yaml, the table admission and the
    /// emulator are checked against too.
    #[test]
    fn the_rules_table_is_what_validation_decides() {
        let table: serde_json::Value =
            serde_saphyr::from_str(include_str!("../../tests/rules/spec-rules.yaml")).unwrap();
        let cases = table["cases"].as_array().unwrap();
        assert!(cases.len() >= 20);
        for case in cases {
            let what = case["what"].as_str().unwrap();
            let spec = case["spec"].clone();
            let expected = case["operator"].as_str().unwrap();
            match serde_json::from_value::<UserPoolMfaConfigSpec>(spec) {
                Err(e) => assert_eq!(expected, "unparsed", "{what}: {e}"),
                Ok(spec) => {
                    let broken = fields(&spec);
                    match expected {
                        "accept" => assert_eq!(broken, Vec::<&str>::new(), "{what}"),
                        field => assert!(broken.contains(&field), "{what}: {broken:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn good_specs_pass() {
        for y in GOOD {
            let s = spec(y);
            let valid = validate(&s).unwrap_or_else(|v| panic!("{y}: {v:?}"));
            assert_eq!(valid.pool(), s.user_pool_id);
            assert_eq!(
                Some(valid.region()),
                s.user_pool_id.split_once('_').map(|(r, _)| r)
            );
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: &[(&str, &[&str])] = &[
            (
                "userPoolId: ''\nmfaConfiguration: 'OFF'",
                &["spec.userPoolId"],
            ),
            (
                "userPoolId: noUnderscore\nmfaConfiguration: 'OFF'",
                &["spec.userPoolId"],
            ),
            (
                "userPoolId: us-east-1_abc!\nmfaConfiguration: 'OFF'",
                &["spec.userPoolId"],
            ),
            (
                "userPoolId: local_abc\nmfaConfiguration: 'OFF'",
                &["spec.userPoolId"],
            ),
            (
                "userPoolId: xx-west-1_abc\nmfaConfiguration: 'OFF'",
                &["spec.userPoolId"],
            ),
            (
                &format!(
                    "userPoolId: us-east-1_{}\nmfaConfiguration: 'OFF'",
                    "a".repeat(50)
                ),
                &["spec.userPoolId"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'",
                &["spec.mfaConfiguration"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: OPTIONAL\nsoftwareTokenMfaConfiguration: {enabled: false}",
                &["spec.mfaConfiguration"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nwebAuthnConfiguration: {relyingPartyId: a}",
                &["spec.mfaConfiguration"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nsoftwareTokenMfaConfiguration: {enabled: true}",
                &["spec.mfaConfiguration"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nemailMfaConfiguration: {}",
                &["spec.mfaConfiguration"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}",
                &["spec.mfaConfiguration"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsAuthenticationMessage: 'no code here', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}",
                &["spec.smsMfaConfiguration.smsAuthenticationMessage"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsAuthenticationMessage: '{####}', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}",
                &[],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsAuthenticationMessage: '{###}', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}",
                &[
                    "spec.smsMfaConfiguration.smsAuthenticationMessage",
                    "spec.smsMfaConfiguration.smsAuthenticationMessage",
                ],
            ),
            (
                &format!(
                    "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {{smsAuthenticationMessage: '{{####}}{}', smsConfiguration: {{snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}}}",
                    "x".repeat(140)
                ),
                &["spec.smsMfaConfiguration.smsAuthenticationMessage"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'not-an-arn'}}",
                &["spec.smsMfaConfiguration.smsConfiguration.snsCallerArn"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:user/bob'}}",
                &["spec.smsMfaConfiguration.smsConfiguration.snsCallerArn"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms', snsRegion: moon}}",
                &["spec.smsMfaConfiguration.smsConfiguration.snsRegion"],
            ),
            (
                &format!(
                    "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nsmsMfaConfiguration: {{smsConfiguration: {{snsCallerArn: 'arn:aws:iam::123456789012:role/sms', externalId: {}}}}}",
                    "e".repeat(1225)
                ),
                &["spec.smsMfaConfiguration.smsConfiguration.externalId"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nemailMfaConfiguration: {message: 'Your code is here'}",
                &["spec.emailMfaConfiguration.message"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nemailMfaConfiguration: {message: '{###}'}",
                &[
                    "spec.emailMfaConfiguration.message",
                    "spec.emailMfaConfiguration.message",
                ],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nemailMfaConfiguration: {subject: ''}",
                &["spec.emailMfaConfiguration.subject"],
            ),
            (
                &format!(
                    "userPoolId: us-east-1_a\nmfaConfiguration: 'ON'\nemailMfaConfiguration: {{subject: {}}}",
                    "s".repeat(141)
                ),
                &["spec.emailMfaConfiguration.subject"],
            ),
            (
                &format!(
                    "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nwebAuthnConfiguration: {{relyingPartyId: {}}}",
                    "r".repeat(128)
                ),
                &["spec.webAuthnConfiguration.relyingPartyId"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nwebAuthnConfiguration: {relyingPartyId: ''}",
                &["spec.webAuthnConfiguration.relyingPartyId"],
            ),
            (
                "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nmanagementPolicy: Observe\ndeletionPolicy: Reset",
                &["spec.deletionPolicy"],
            ),
        ];
        for (y, want) in cases {
            assert_eq!(fields(&spec(y)), want.to_vec(), "{y}");
        }
    }

    #[test]
    fn unknown_enum_values_do_not_parse() {
        for y in [
            "userPoolId: us-east-1_a\nmfaConfiguration: MAYBE",
            "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nwebAuthnConfiguration: {userVerification: sometimes}",
            "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nwebAuthnConfiguration: {factorConfiguration: TWO}",
            "userPoolId: us-east-1_a\nmfaConfiguration: 'OFF'\nmanagementPolicy: Ignore",
        ] {
            assert!(
                serde_saphyr::from_str::<UserPoolMfaConfigSpec>(y).is_err(),
                "{y}"
            );
        }
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
