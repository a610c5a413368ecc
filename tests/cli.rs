//! `validate`, `diff` and `export` as a user runs them: the built binaries (the operator's and the
//! kubectl plugin `kubectl-upmfa`), their exit codes and output, against the Cognito emulator
//! through the AWS SDK's default credential chain and endpoint variables.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use test_kit::{Emulator, repo};

const OPERATOR: &str = env!("CARGO_BIN_EXE_cognito-mfa-operator");
const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-upmfa");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `bin` with a clean environment (no AWS settings, configuration or credentials files but
/// those given) in `home`.
fn run(bin: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>, home: &Path) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(repo())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The caller's own AWS settings: static keys, the emulator as the Cognito endpoint.
fn aws(emu: &Emulator) -> Vec<(&'static str, String)> {
    vec![
        (
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
            emu.url.clone(),
        ),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn manifest(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata:\n  name: {name}\n  namespace: team\nspec:\n{spec}"
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn validate_passes_the_examples_and_ignores_other_kinds() {
    let home = tempfile::tempdir().unwrap();
    let r = run(
        OPERATOR,
        &["validate", "deploy/examples"],
        &[],
        None,
        home.path(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "checked 8 documents in 8 files (8 UserPoolMfaConfig): no problems\n"
    );
    // deploy/ also holds the operator's Deployment, RBAC, the CRDs, access policies and the
    // Argo CD health check's sample objects.
    let r = run(PLUGIN, &["validate", "deploy"], &[], None, home.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(" UserPoolAccessPolicy, ")
            && r.stdout.contains(" UserPoolMfaConfig), ignored ")
            && r.stdout.ends_with(": no problems\n"),
        "{r:?}"
    );
    assert!(
        r.stdout.ends_with(" of other kinds: no problems\n"),
        "{r:?}"
    );
}

#[test]
fn validate_names_the_file_document_resource_and_field_of_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let sms = |extra: &str| {
        format!(
            "  userPoolId: us-east-1_A\n  mfaConfiguration: OPTIONAL\n  smsMfaConfiguration:\n    smsConfiguration:\n      snsCallerArn: arn:aws:iam::123456789012:role/sms\n{extra}"
        )
    };
    // (resource name, spec, field named)
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-field",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n  softwareTokenMfaConfiguration:\n    enable: true\n".into(),
            "spec.softwareTokenMfaConfiguration.enable: unknown field (did you mean enabled?)",
        ),
        (
            "unquoted-on",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: ON\n  softwareTokenMfaConfiguration: {enabled: true}\n".into(),
            "spec.mfaConfiguration: must be a string, not a boolean true",
        ),
        (
            "bad-enum",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: SOMETIMES\n".into(),
            "spec.mfaConfiguration: must be one of OFF, ON, OPTIONAL",
        ),
        (
            "missing-mode",
            "  userPoolId: us-east-1_A\n".into(),
            "spec.mfaConfiguration: is required",
        ),
        (
            "pool-pattern",
            "  userPoolId: not-a-pool\n  mfaConfiguration: \"OFF\"\n".into(),
            "spec.userPoolId: \"not-a-pool\" does not match",
        ),
        (
            "pool-region",
            "  userPoolId: mars-north-1_A\n  mfaConfiguration: \"OFF\"\n".into(),
            "spec.userPoolId: \"mars-north-1_A\": \"mars-north-1\" is not a region",
        ),
        (
            "on-without-factor",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n  webAuthnConfiguration: {relyingPartyId: a.example}\n".into(),
            "spec.mfaConfiguration: ON needs an enabled factor",
        ),
        (
            "off-with-factor",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"OFF\"\n  emailMfaConfiguration: {}\n".into(),
            "spec.mfaConfiguration: OFF cannot be combined with an enabled factor",
        ),
        (
            "sms-message",
            sms("    smsAuthenticationMessage: Your code\n"),
            "spec.smsMfaConfiguration.smsAuthenticationMessage: must contain the code placeholder {####}",
        ),
        (
            "sms-role",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: OPTIONAL\n  smsMfaConfiguration:\n    smsConfiguration:\n      snsCallerArn: arn:aws:iam::123456789012:user/sms\n".into(),
            "spec.smsMfaConfiguration.smsConfiguration.snsCallerArn: \"arn:aws:iam::123456789012:user/sms\" is not an IAM role ARN",
        ),
        (
            "sms-region",
            format!("{}      snsRegion: moon\n", sms("")),
            "spec.smsMfaConfiguration.smsConfiguration.snsRegion: \"moon\" is not an AWS region",
        ),
        (
            "sms-external-id",
            format!("{}      externalId: {}\n", sms(""), "e".repeat(1225)),
            "spec.smsMfaConfiguration.smsConfiguration.externalId: must be at most 1224 characters",
        ),
        (
            "email-message",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n  emailMfaConfiguration: {message: Your code is here}\n".into(),
            "spec.emailMfaConfiguration.message: must contain the code placeholder {####}",
        ),
        (
            "email-subject",
            format!("  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n  emailMfaConfiguration: {{subject: {}}}\n", "s".repeat(141)),
            "spec.emailMfaConfiguration.subject: must be 1 to 140 characters long",
        ),
        (
            "relying-party",
            format!("  userPoolId: us-east-1_A\n  mfaConfiguration: \"OFF\"\n  webAuthnConfiguration: {{relyingPartyId: {}}}\n", "r".repeat(128)),
            "spec.webAuthnConfiguration.relyingPartyId: must be 1 to 127 characters long",
        ),
        (
            "observe-reset",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"OFF\"\n  managementPolicy: Observe\n  deletionPolicy: Reset\n".into(),
            "spec.deletionPolicy: deletionPolicy Reset or Restore writes to Cognito and needs managementPolicy Manage",
        ),
    ];
    let text = cases
        .iter()
        .map(|(name, spec, _)| manifest(name, spec))
        .collect::<Vec<_>>()
        .join("---\n");
    let file = write(dir.path(), "bad.yaml", &text);
    let r = run(OPERATOR, &["validate", s(&file)], &[], None, dir.path());
    assert_eq!(r.code, 1, "{r:?}");
    for (i, (name, _, problem)) in cases.iter().enumerate() {
        let want = format!(
            "{}: document {} (UserPoolMfaConfig/{name}): {problem}",
            file.display(),
            i + 1
        );
        assert!(
            r.stdout.lines().any(|l| l.starts_with(&want)),
            "{want}\n{r:?}"
        );
    }
    assert_eq!(
        r.stdout.lines().count(),
        cases.len() + 1,
        "one problem per case, then the summary: {r:?}"
    );
    assert!(r.stdout.ends_with(&format!(
        "checked {n} documents in 1 file ({n} UserPoolMfaConfig): {n} problems\n",
        n = cases.len()
    )));

    // The same as JSON, for CI.
    let r = run(
        PLUGIN,
        &["validate", "--output", "json", s(&file)],
        &[],
        None,
        dir.path(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    let j: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(j["problems"].as_array().unwrap().len(), cases.len());
    assert_eq!(j["problems"][0]["file"], s(&file));
    assert_eq!(j["problems"][0]["document"], 1);
    assert_eq!(j["problems"][0]["line"], 1);
    assert_eq!(j["problems"][0]["name"], "unknown-field");
    assert_eq!(j["problems"][0]["namespace"], "team");
    assert_eq!(
        j["problems"][0]["field"],
        "spec.softwareTokenMfaConfiguration.enable"
    );
    assert_eq!(j["checked"]["UserPoolMfaConfig"], cases.len());
}

#[test]
fn validate_checks_access_policies_by_their_schema() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "policy.yml",
        "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolAccessPolicy\nmetadata: {name: team}\nspec:\n  namespaces: {names: [team]}\n  userPools: ['us-east-1_*']\n  allowedManagementPolicies: [Manage, Ignore]\n  mfaFloor: {mfaConfiguration: \"ON\", requiredFactor: [TOTP]}\n",
    );
    let r = run(
        OPERATOR,
        &["validate", s(dir.path())],
        &[],
        None,
        dir.path(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    let prefix = format!(
        "{}: document 1 (UserPoolAccessPolicy/team): ",
        file.display()
    );
    assert!(
        r.stdout.contains(&format!(
            "{prefix}spec.allowedManagementPolicies[1]: must be one of Manage, Observe"
        )),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!(
            "{prefix}spec.mfaFloor.requiredFactor: unknown field (did you mean requiredFactors?)"
        )),
        "{r:?}"
    );
}

#[test]
fn validate_reads_stdin() {
    let home = tempfile::tempdir().unwrap();
    let good = manifest(
        "totp",
        "  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n  softwareTokenMfaConfiguration: {enabled: true}\n",
    );
    let r = run(OPERATOR, &["validate", "-"], &[], Some(&good), home.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "checked 1 document in 1 file (1 UserPoolMfaConfig): no problems\n"
    );
    let bad = format!(
        "# a comment\n---\n{}",
        manifest(
            "on-only",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n"
        )
    );
    let r = run(PLUGIN, &["validate", "-"], &[], Some(&bad), home.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.starts_with(
            "<stdin>: document 1 (UserPoolMfaConfig/on-only): spec.mfaConfiguration: ON needs an enabled factor"
        ),
        "{r:?}"
    );
}

#[test]
fn validate_exits_2_on_unreadable_input_and_invalid_yaml_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.yaml",
        &manifest(
            "off",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"OFF\"\n",
        ),
    );
    let broken = write(
        dir.path(),
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\n---\nspec: [unclosed\n",
    );
    let missing = dir.path().join("missing.yaml");
    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();

    let r = run(
        OPERATOR,
        &["validate", s(&good), s(&broken)],
        &[],
        None,
        dir.path(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: {}: invalid YAML: unclosed bracket '[' at line 4",
            broken.display()
        )),
        "{r:?}"
    );
    assert!(r.stdout.ends_with("; 1 input could not be read\n"), "{r:?}");

    let r = run(OPERATOR, &["validate", s(&missing)], &[], None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: {}: cannot read: No such file or directory",
            missing.display()
        )),
        "{r:?}"
    );
    let r = run(PLUGIN, &["validate", s(&binary)], &[], None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("error: {}: not UTF-8 text", binary.display())),
        "{r:?}"
    );
    // Problems and an unreadable input: 2 wins.
    let bad = write(
        dir.path(),
        "bad.yml",
        &manifest(
            "on-only",
            "  userPoolId: us-east-1_A\n  mfaConfiguration: \"ON\"\n",
        ),
    );
    let r = run(
        OPERATOR,
        &["validate", s(&bad), s(&missing)],
        &[],
        None,
        dir.path(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("spec.mfaConfiguration"), "{r:?}");
    // No argument at all is a usage error.
    let r = run(OPERATOR, &["validate"], &[], None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn diff_shows_what_would_change_field_by_field_and_never_writes() {
    let emu = Emulator::start();
    let env = aws(&emu);
    let env = refs(&env);
    let dir = tempfile::tempdir().unwrap();
    let pool = emu.create_pool("us-east-1");
    emu.put_mfa(
        &pool,
        json!({"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": true}}),
    );
    let same = write(
        dir.path(),
        "same.yaml",
        &manifest(
            "same",
            &format!(
                "  userPoolId: {pool}\n  mfaConfiguration: \"ON\"\n  softwareTokenMfaConfiguration:\n    enabled: true\n"
            ),
        ),
    );
    let r = run(OPERATOR, &["diff", s(&same)], &env, None, dir.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        format!(
            "pool {pool} (team/same): no changes\n1 UserPoolMfaConfig: 0 would change, 1 unchanged\n"
        )
    );

    let change = write(
        dir.path(),
        "change.yaml",
        &manifest(
            "change",
            &format!(
                "  userPoolId: {pool}\n  mfaConfiguration: OPTIONAL\n  softwareTokenMfaConfiguration:\n    enabled: true\n  emailMfaConfiguration:\n    subject: Your code\n"
            ),
        ),
    );
    let r = run(PLUGIN, &["diff", s(&change)], &env, None, dir.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stdout,
        format!(
            "pool {pool} (team/change): mfaConfiguration: ON -> OPTIONAL\n\
             pool {pool} (team/change): emailMfaConfiguration: (absent) -> {{\"subject\":\"Your code\"}}\n\
             1 UserPoolMfaConfig: 1 would change, 0 unchanged\n"
        )
    );
    let r = run(
        OPERATOR,
        &["diff", "-o", "json", s(&change), s(&same)],
        &env,
        None,
        dir.path(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["results"][0]["wouldChange"], true);
    assert_eq!(
        j["results"][0]["changes"][0],
        json!({"field": "mfaConfiguration", "live": "ON", "desired": "OPTIONAL"})
    );
    assert_eq!(j["results"][1]["changes"], json!([]));

    // Observe: the drift is shown, but the operator would not write it.
    let observe = write(
        dir.path(),
        "observe.yaml",
        &manifest(
            "watch",
            &format!(
                "  userPoolId: {pool}\n  managementPolicy: Observe\n  mfaConfiguration: \"OFF\"\n"
            ),
        ),
    );
    let r = run(OPERATOR, &["diff", s(&observe)], &env, None, dir.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "pool {pool} (team/watch): mfaConfiguration: ON -> OFF\n"
        )),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!(
            "pool {pool} (team/watch): managementPolicy is Observe: the operator would report this drift (DriftDetected) and not write to the pool\n"
        )),
        "{r:?}"
    );
    assert!(r.stdout.ends_with("1 drifted but Observe\n"), "{r:?}");

    // Read-only: only Gets reached the pool.
    assert_eq!(emu.calls(&pool, "SetUserPoolMfaConfig"), 0);
    assert_eq!(emu.calls(&pool, "GetUserPoolMfaConfig"), 5);
    assert_eq!(emu.mfa(&pool)["MfaConfiguration"], "ON");
}

#[test]
fn diff_exits_2_on_a_missing_pool_missing_credentials_or_an_invalid_manifest() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let pool = emu.create_pool("eu-west-1");
    let missing = "eu-west-1_DoesNotExist1";
    let file = write(
        dir.path(),
        "pools.yaml",
        &[
            manifest(
                "here",
                &format!("  userPoolId: {pool}\n  mfaConfiguration: \"OFF\"\n"),
            ),
            manifest(
                "gone",
                &format!("  userPoolId: {missing}\n  mfaConfiguration: \"OFF\"\n"),
            ),
        ]
        .join("---\n"),
    );
    let env = aws(&emu);
    let r = run(OPERATOR, &["diff", s(&file)], &refs(&env), None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout
            .starts_with(&format!("pool {pool} (team/here): no changes\n")),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!(
            "pool {missing} (team/gone): ResourceNotFound: no such pool in its region for these credentials' account (check the pool ID and the AWS account): ResourceNotFoundException: User pool {missing} does not exist."
        )),
        "{r:?}"
    );
    assert!(r.stdout.ends_with(", 1 not compared\n"), "{r:?}");

    // No credentials anywhere in the chain (no keys, no files, no instance metadata).
    let no_keys = [
        (
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
            emu.url.as_str(),
        ),
        ("AWS_REGION", "us-east-1"),
    ];
    let r = run(PLUGIN, &["diff", s(&file)], &no_keys, None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "pool {pool} (team/here): CredentialsUnavailable: no usable AWS credentials"
        )),
        "{r:?}"
    );
    assert!(r.stderr.contains("no credentials found in chain"), "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "pool {missing} (team/gone): CredentialsUnavailable: not read: no usable AWS credentials (see above)"
        )),
        "{r:?}"
    );
    assert!(!r.stderr.contains("DispatchFailure"), "readable: {r:?}");

    // An invalid manifest is not compared (the operator would not apply it).
    let invalid = write(
        dir.path(),
        "invalid.yaml",
        &manifest(
            "bad",
            &format!("  userPoolId: {pool}\n  mfaConfiguration: \"ON\"\n"),
        ),
    );
    let r = run(
        OPERATOR,
        &["diff", s(&invalid)],
        &refs(&env),
        None,
        dir.path(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "pool {pool} (team/bad): invalid manifest, not compared: {}: document 1 (UserPoolMfaConfig/bad): spec.mfaConfiguration: ON needs an enabled factor",
            invalid.display()
        )),
        "{r:?}"
    );
    assert_eq!(
        emu.calls(&pool, "GetUserPoolMfaConfig"),
        1,
        "only the first run read"
    );
}

/// Pools of every shape: TOTP, SMS with all its fields, email, WebAuthn, OFF.
fn configuration(i: usize) -> Value {
    match i % 5 {
        0 => json!({"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": true}}),
        1 => json!({
            "MfaConfiguration": "OPTIONAL",
            "SmsMfaConfiguration": {
                "SmsAuthenticationMessage": format!("Code {{####}} for pool {i}"),
                "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "yes", "SnsRegion": "us-east-1"}
            }
        }),
        2 => json!({
            "MfaConfiguration": "ON",
            "EmailMfaConfiguration": {"Message": "Your code: {####}", "Subject": "Sign-in: code"},
            "SoftwareTokenMfaConfiguration": {"Enabled": true}
        }),
        3 => json!({
            "MfaConfiguration": "OPTIONAL",
            "SoftwareTokenMfaConfiguration": {"Enabled": true},
            "WebAuthnConfiguration": {"RelyingPartyId": "auth.example.com", "UserVerification": "required", "FactorConfiguration": "MULTI_FACTOR_WITH_USER_VERIFICATION"}
        }),
        _ => {
            json!({"MfaConfiguration": "OFF", "SoftwareTokenMfaConfiguration": {"Enabled": false}})
        }
    }
}

#[test]
fn export_adopts_pools_as_they_are_validate_passes_and_diff_finds_nothing() {
    let emu = Emulator::start();
    let env = aws(&emu);
    let env = refs(&env);
    let dir = tempfile::tempdir().unwrap();
    // More than one page of ListUserPools (60 a page).
    let listed: Vec<String> = (0..65)
        .map(|i| {
            let pool = emu.create_pool("eu-west-2");
            emu.put_mfa(&pool, configuration(i));
            pool
        })
        .collect();
    let named = emu.create_pool("us-east-1");
    emu.put_mfa(&named, configuration(1));
    let _elsewhere = emu.create_pool("eu-west-1");

    let r = run(
        OPERATOR,
        &[
            "export",
            &named,
            "--all-in-region",
            "eu-west-2",
            "--namespace",
            "team",
            "--name-prefix",
            "mfa-",
        ],
        &env,
        None,
        dir.path(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "exported 66 pools\n");
    assert_eq!(r.stdout.matches("\n---\n").count() + 1, 66, "{}", r.stdout);
    assert!(r.stdout.starts_with(&format!(
        "---\n# The MFA configuration of pool {named} as exported; applying it changes nothing.\napiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata:\n  name: mfa-{}\n  namespace: team\nspec:\n  userPoolId: {named}\n  mfaConfiguration: OPTIONAL\n",
        named.replace('_', "-")
    )), "{}", r.stdout);
    assert!(r.stdout.contains("mfaConfiguration: \"ON\"\n"));
    assert!(r.stdout.contains("mfaConfiguration: \"OFF\"\n"));
    assert!(r.stdout.contains("externalId: \"yes\"\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("managementPolicy") && !r.stdout.contains("deletionPolicy"));
    // Normalised: no disabled TOTP block, no WebAuthn block holding only the service defaults.
    assert!(!r.stdout.contains("enabled: false"), "{}", r.stdout);
    assert_eq!(
        r.stdout.matches("webAuthnConfiguration:").count(),
        13,
        "only the pools with WebAuthn settings of their own: {}",
        r.stdout
    );
    for pool in &listed {
        assert!(
            r.stdout.contains(&format!("userPoolId: {pool}\n")),
            "{pool}"
        );
    }
    assert_eq!(emu.call_records("", "ListUserPools").len(), 2, "two pages");
    let export = write(dir.path(), "export.yaml", &r.stdout);

    let v = run(PLUGIN, &["validate", s(&export)], &[], None, dir.path());
    assert_eq!(v.code, 0, "{v:?}");
    assert_eq!(
        v.stdout,
        "checked 66 documents in 1 file (66 UserPoolMfaConfig): no problems\n"
    );

    let d = run(OPERATOR, &["diff", s(&export)], &env, None, dir.path());
    assert_eq!(d.code, 0, "{d:?}");
    assert!(
        d.stdout
            .ends_with("66 UserPoolMfaConfigs: 0 would change, 66 unchanged\n"),
        "{d:?}"
    );

    // Once a pool changes behind Git's back, diff shows it.
    emu.put_mfa(&listed[3], configuration(0));
    let d = run(PLUGIN, &["diff", s(&export)], &env, None, dir.path());
    assert_eq!(d.code, 1, "{d:?}");
    let prefix = format!(
        "pool {} (team/mfa-{}): ",
        listed[3],
        listed[3].replace('_', "-")
    );
    assert!(
        d.stdout
            .contains(&format!("{prefix}mfaConfiguration: ON -> OPTIONAL\n")),
        "{d:?}"
    );
    assert!(
        d.stdout.contains(&format!(
            "{prefix}webAuthnConfiguration.relyingPartyId: (absent) -> auth.example.com\n"
        )),
        "{d:?}"
    );
    assert!(
        d.stdout
            .ends_with("66 UserPoolMfaConfigs: 1 would change, 65 unchanged\n"),
        "{d:?}"
    );
    for pool in listed.iter().chain([&named]) {
        assert_eq!(emu.calls(pool, "SetUserPoolMfaConfig"), 0, "read-only");
    }
}

#[test]
fn export_exits_2_on_a_missing_pool_or_a_bad_pool_id() {
    let emu = Emulator::start();
    let env = aws(&emu);
    let env = refs(&env);
    let dir = tempfile::tempdir().unwrap();
    let pool = emu.create_pool("us-east-1");
    let r = run(
        PLUGIN,
        &["export", &pool, "us-east-1_Missing9"],
        &env,
        None,
        dir.path(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout.contains(&format!("userPoolId: {pool}\n")),
        "the pool that exists is exported: {r:?}"
    );
    assert!(
        r.stderr.contains(
            "error: pool us-east-1_Missing9: ResourceNotFound: no such pool in its region"
        ),
        "{r:?}"
    );
    let r = run(OPERATOR, &["export", "nowhere"], &env, None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("error: not a pool ID: \"nowhere\" does not match"),
        "{r:?}"
    );
    let r = run(
        OPERATOR,
        &["export", "--all-in-region", "atlantis-1"],
        &env,
        None,
        dir.path(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("error: ListUserPools in atlantis-1: InvalidParameter"),
        "{r:?}"
    );
}

#[test]
fn the_krew_manifest_installs_this_version_of_kubectl_upmfa_on_four_platforms() {
    let text = std::fs::read_to_string(repo().join("plugins/upmfa.yaml")).unwrap();
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(m["metadata"]["name"], "upmfa", "kubectl upmfa");
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(m["spec"]["version"], version.as_str());
    assert!(m["spec"]["shortDescription"].as_str().unwrap().len() <= 50);
    let mut platforms: Vec<(String, String)> = Vec::new();
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let labels = &p["selector"]["matchLabels"];
        let (os, arch) = (
            labels["os"].as_str().unwrap(),
            labels["arch"].as_str().unwrap(),
        );
        assert_eq!(
            p["uri"],
            format!(
                "https://github.com/cognito-mfa-operator/cognito-mfa-operator/releases/download/{version}/kubectl-upmfa_{version}_{os}_{arch}.tar.gz"
            )
            .as_str()
        );
        let sha = p["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{sha}"
        );
        assert_eq!(p["bin"], "kubectl-upmfa");
        assert_eq!(p["files"], json!([{"from": "kubectl-upmfa", "to": "."}]));
        platforms.push((os.into(), arch.into()));
    }
    platforms.sort();
    assert_eq!(
        platforms,
        [
            ("darwin".into(), "amd64".into()),
            ("darwin".into(), "arm64".into()),
            ("linux".into(), "amd64".into()),
            ("linux".into(), "arm64".into())
        ]
    );
    // The binary kubectl finds on PATH is the plugin.
    assert!(PLUGIN.ends_with("/kubectl-upmfa"), "{PLUGIN}");
    let home = tempfile::tempdir().unwrap();
    let r = run(PLUGIN, &["--help"], &[], None, home.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Usage: kubectl upmfa <COMMAND>"), "{r:?}");
    for command in ["validate", "diff", "export"] {
        assert!(r.stdout.contains(&format!("\n  {command} ")), "{r:?}");
    }
}
