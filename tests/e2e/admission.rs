//! The CRD itself: it applies, documents its fields, and rejects every spec the service would.

use crate::harness::env;

#[test]
fn explain_shows_the_field_documentation() {
    // The OpenAPI document catches up with a new CRD within seconds.
    let mut out = String::new();
    crate::harness::wait_until(
        std::time::Duration::from_secs(30),
        "kubectl explain to know upmfa",
        || {
            let o = env().kubectl(&["explain", "upmfa.spec"]);
            out = o.stdout;
            o.status.success()
        },
    );
    for text in [
        "ID of the existing Cognito user pool",
        "mfaConfiguration",
        "webAuthnConfiguration",
        "deletionPolicy",
    ] {
        assert!(out.contains(text), "kubectl explain lacks {text:?}:\n{out}");
    }
    let out = env()
        .kubectl(&[
            "explain",
            "upmfa.spec.smsMfaConfiguration.smsConfiguration.snsCallerArn",
        ])
        .success()
        .stdout;
    assert!(out.contains("iam:PassRole"), "{out}");
}

/// (what is wrong, spec lines, text the rejection must contain: the field path).
const INVALID: &[(&str, &str, &str)] = &[
    (
        "unknown MFA mode",
        "mfaConfiguration: MAYBE",
        "spec.mfaConfiguration: Unsupported value",
    ),
    (
        "no pool ID",
        "mfaConfiguration: 'OFF'",
        "spec.userPoolId: Required value",
    ),
    (
        "pool ID without underscore",
        "userPoolId: nounderscore\n  mfaConfiguration: 'OFF'",
        "spec.userPoolId",
    ),
    (
        "pool ID too long",
        "userPoolId: us-east-1_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n  mfaConfiguration: 'OFF'",
        "spec.userPoolId: Too long",
    ),
    (
        "ON without a factor",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'",
        "spec.mfaConfiguration: Invalid value",
    ),
    (
        "OPTIONAL with only WebAuthn",
        "userPoolId: us-east-1_a\n  mfaConfiguration: OPTIONAL\n  webAuthnConfiguration: {relyingPartyId: a.example}",
        "needs an enabled factor",
    ),
    (
        "OFF with TOTP",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  softwareTokenMfaConfiguration: {enabled: true}",
        "spec.mfaConfiguration: Invalid value",
    ),
    (
        "OFF with email",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  emailMfaConfiguration: {subject: x}",
        "cannot be combined with an enabled factor",
    ),
    (
        "SMS message without {####}",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  smsMfaConfiguration: {smsAuthenticationMessage: 'no code here', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}",
        "spec.smsMfaConfiguration.smsAuthenticationMessage",
    ),
    (
        "SMS message too long",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  smsMfaConfiguration: {smsAuthenticationMessage: '{####} xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms'}}",
        "spec.smsMfaConfiguration.smsAuthenticationMessage: Too long",
    ),
    (
        "SMS without role",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  smsMfaConfiguration: {smsConfiguration: {}}",
        "spec.smsMfaConfiguration.smsConfiguration.snsCallerArn: Required value",
    ),
    (
        "malformed role ARN",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  smsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123:user/bob'}}",
        "spec.smsMfaConfiguration.smsConfiguration.snsCallerArn",
    ),
    (
        "malformed SNS region",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  smsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/sms', snsRegion: moon}}",
        "spec.smsMfaConfiguration.smsConfiguration.snsRegion",
    ),
    (
        "email message without {####}",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  emailMfaConfiguration: {message: 'Your code is here'}",
        "spec.emailMfaConfiguration.message",
    ),
    (
        "empty email subject",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'ON'\n  emailMfaConfiguration: {subject: ''}",
        "spec.emailMfaConfiguration.subject",
    ),
    (
        "unknown user verification",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  webAuthnConfiguration: {userVerification: sometimes}",
        "spec.webAuthnConfiguration.userVerification: Unsupported value",
    ),
    (
        "unknown factor configuration",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  webAuthnConfiguration: {factorConfiguration: TWO}",
        "spec.webAuthnConfiguration.factorConfiguration: Unsupported value",
    ),
    (
        "relying party ID too long",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  webAuthnConfiguration: {relyingPartyId: rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr}",
        "spec.webAuthnConfiguration.relyingPartyId: Too long",
    ),
    (
        "unknown management policy",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  managementPolicy: Ignore",
        "spec.managementPolicy: Unsupported value",
    ),
    (
        "Reset with Observe",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  managementPolicy: Observe\n  deletionPolicy: Reset",
        "spec.deletionPolicy",
    ),
    (
        "unknown field",
        "userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n  mfaConfig: 'ON'",
        "mfaConfig",
    ),
];

#[test]
fn every_spec_the_service_would_reject_is_rejected_at_admission() {
    let env = env();
    let ns = env.namespace("admission");
    for (i, (what, spec, expected)) in INVALID.iter().enumerate() {
        let manifest = format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata:\n  name: invalid-{i}\n  namespace: {ns}\nspec:\n  {spec}\n"
        );
        let out = env.kubectl_with_input(&["apply", "-f", "-"], &manifest);
        assert!(!out.status.success(), "{what}: accepted:\n{manifest}");
        assert!(
            out.stderr.contains(expected),
            "{what}: the rejection does not name {expected:?}:\n{}",
            out.stderr
        );
    }
    let valid = format!(
        "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata:\n  name: valid\n  namespace: {ns}\nspec:\n  userPoolId: us-east-1_a\n  mfaConfiguration: 'OFF'\n"
    );
    env.kubectl_with_input(&["apply", "-f", "-"], &valid)
        .success();
    env.kubectl(&["delete", "-n", &ns, "upmfa", "valid"])
        .success();
}

/// (what is wrong, policy spec, text the rejection must contain).
const INVALID_POLICIES: &[(&str, &str, &str)] = &[
    ("no pools", "userPools: []", "userPools"),
    (
        "a pattern with a slash",
        "userPools: ['eu-west-1/*']",
        "userPools[0]",
    ),
    (
        "empty namespaces",
        "userPools: ['*']\n  namespaces: {}",
        "name namespaces in names",
    ),
    (
        "an unknown selector operator",
        "userPools: ['*']\n  namespaces: {selector: {matchExpressions: [{key: team, operator: Near, values: [a]}]}}",
        "operator must be In or NotIn",
    ),
    (
        "In without values",
        "userPools: ['*']\n  namespaces: {selector: {matchExpressions: [{key: team, operator: In}]}}",
        "operator must be In or NotIn",
    ),
    (
        "a floor of OFF",
        "userPools: ['*']\n  mfaFloor: {mfaConfiguration: 'OFF'}",
        "a floor of OFF allows everything",
    ),
    (
        "an unknown factor",
        "userPools: ['*']\n  mfaFloor: {mfaConfiguration: 'ON', requiredFactors: [PIGEON]}",
        "requiredFactors[0]",
    ),
    (
        "a user instead of a role",
        "userPools: ['*']\n  identity: {roleArn: 'arn:aws:iam::222222222222:user/bob'}",
        "identity.roleArn",
    ),
    (
        "a one-character external ID",
        "userPools: ['*']\n  identity: {roleArn: 'arn:aws:iam::222222222222:role/r', externalId: x}",
        "identity.externalId",
    ),
    (
        "an unknown management policy",
        "userPools: ['*']\n  allowedManagementPolicies: [Ignore]",
        "allowedManagementPolicies[0]",
    ),
];

#[test]
fn every_malformed_access_policy_is_rejected_at_admission() {
    let env = env();
    let name = format!("admission-{}", &crate::support::random_suffix()[..8]);
    let manifest = |spec: &str| {
        format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolAccessPolicy\nmetadata:\n  name: {name}\nspec:\n  {spec}\n"
        )
    };
    for (what, spec, expected) in INVALID_POLICIES {
        let out = env.kubectl_with_input(&["apply", "-f", "-"], &manifest(spec));
        assert!(
            !out.status.success(),
            "{what}: accepted:\n{}",
            manifest(spec)
        );
        assert!(
            out.stderr.contains(expected),
            "{what}: the rejection does not name {expected:?}:\n{}",
            out.stderr
        );
    }
    let valid = "userPools: ['eu-west-1_*', us-east-1_Ab1]\n  namespaces: {names: [a], selector: {matchExpressions: [{key: team, operator: Exists}]}}\n  identity: {roleArn: 'arn:aws:iam::222222222222:role/r', externalId: ab}\n  mfaFloor: {mfaConfiguration: OPTIONAL, requiredFactors: [TOTP, SMS, EMAIL]}";
    env.kubectl_with_input(&["apply", "-f", "-"], &manifest(valid))
        .success();
    env.delete_policy(&name);
}

#[test]
fn the_example_policies_pass_the_api_servers_validation() {
    let dir = crate::support::repo().join("deploy/policies");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // A server-side dry run: OpenAPI and CEL validation, nothing stored.
        env()
            .kubectl(&["apply", "--dry-run=server", "-f", path.to_str().unwrap()])
            .success();
        files += 1;
    }
    assert!(files >= 3, "deploy/policies holds the documented examples");
}

#[test]
fn the_pool_of_a_resource_cannot_be_changed() {
    let env = env();
    let ns = env.namespace("immutable");
    let manifest = |pool: &str| {
        format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata:\n  name: fixed\n  namespace: {ns}\nspec:\n  userPoolId: {pool}\n  mfaConfiguration: 'OFF'\n"
        )
    };
    env.kubectl_with_input(&["apply", "-f", "-"], &manifest("us-east-1_First1"))
        .success();
    let out = env.kubectl_with_input(&["apply", "-f", "-"], &manifest("us-east-1_Other2"));
    assert!(!out.status.success(), "a new userPoolId was accepted");
    assert!(out.stderr.contains("is immutable"), "{}", out.stderr);
    env.kubectl(&["delete", "-n", &ns, "upmfa", "fixed"])
        .success();
}
