//! The CRD itself: it applies, documents its fields, and admits or rejects each case of
//! tests/rules/spec-rules.yaml as its `admission` column says. Admission checks what a spec
//! alone can tell; what needs the pool (its region exists, its email sending) is left to the
//! operator and the service, as the table's other columns show.

use test_kit::env;

#[test]
fn explain_shows_the_field_documentation() {
    // The OpenAPI document catches up with a new CRD within seconds.
    let mut out = String::new();
    test_kit::wait_until(
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

/// Admission's column of tests/rules/spec-rules.yaml (the table validation and the emulator are
/// checked against too): each spec is rejected naming what the table says, or accepted.
#[test]
fn admission_decides_every_case_of_the_rules_table() {
    let env = env();
    let ns = env.namespace("admission");
    let text =
        std::fs::read_to_string(test_kit::repo().join("tests/rules/spec-rules.yaml")).unwrap();
    let table: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let (mut rejected, mut accepted) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let what = case["what"].as_str().unwrap();
        let spec = &case["spec"];
        let manifest = serde_json::json!({
            "apiVersion": "cognitoidp.operators.dev/v1alpha1",
            "kind": "UserPoolMfaConfig",
            "metadata": {"name": format!("case-{i}"), "namespace": ns},
            "spec": spec,
        })
        .to_string();
        let out = env.kubectl_with_input(&["apply", "-f", "-"], &manifest);
        match case["admission"].as_str().unwrap() {
            "accept" => {
                assert!(out.status.success(), "{what}: refused:\n{}", out.stderr);
                env.kubectl(&["delete", "-n", &ns, "upmfa", &format!("case-{i}")])
                    .success();
                accepted += 1;
            }
            expected => {
                assert!(!out.status.success(), "{what}: accepted:\n{manifest}");
                assert!(
                    out.stderr.contains(expected),
                    "{what}: the rejection does not name {expected:?}:\n{}",
                    out.stderr
                );
                rejected += 1;
            }
        }
    }
    assert!(
        rejected >= 15 && accepted >= 3,
        "{rejected} rejected, {accepted} accepted"
    );
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
    let name = format!("admission-{}", &test_kit::random_suffix()[..8]);
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
    let dir = test_kit::repo().join("deploy/policies");
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
