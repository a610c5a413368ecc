//! `diff PATH...`: what applying each `UserPoolMfaConfig` would change in its pool, read with
//! GetUserPoolMfaConfig (read-only) and compared as the operator compares (`logic::drift`).

use std::io::Write;

use serde_json::{Value, json};

use super::manifest::{self, Checked, Object};
use super::validate::Entry;
use super::{DiffArgs, EXIT_ERROR, EXIT_FOUND, EXIT_OK, OutputFormat, explain, with_retries};
use crate::api::{
    FactorConfiguration, ManagementPolicy, MfaSettings, UserVerification, WebAuthnConfig,
};
use crate::cognito::{Caller, Cognito};
use crate::logic::drift;
use crate::logic::errors::ErrorKind;

/// One manifest to compare with its pool.
#[derive(Debug, Clone)]
pub struct Target {
    pub file: String,
    pub document: usize,
    pub pool: String,
    pub namespace: Option<String>,
    pub name: String,
    pub policy: ManagementPolicy,
    pub desired: MfaSettings,
}

impl Target {
    /// `pool P (ns/name)`, or `pool P (name)` when the manifest names no namespace.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("pool {} ({ns}/{})", self.pool, self.name),
            None => format!("pool {} ({})", self.pool, self.name),
        }
    }
}

/// A field applying the manifest would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub live: String,
    pub desired: String,
}

/// What comparing one manifest with its pool found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The manifest is invalid: the operator would not apply it (InvalidSpec).
    Invalid(Vec<String>),
    /// The pool could not be read.
    Failed(String),
    /// The fields that differ (none: in sync).
    Compared(Vec<Change>),
}

/// The fields `drift::diff` finds, with both values.
pub fn changes(desired: &MfaSettings, live: &MfaSettings) -> Vec<Change> {
    let (d, l) = (effective(desired), effective(live));
    drift::diff(desired, live)
        .into_iter()
        .map(|field| Change {
            field,
            live: render(lookup(&l, field)),
            desired: render(lookup(&d, field)),
        })
        .collect()
}

/// The configuration as compared: normalised, with WebAuthn's service defaults filled in.
fn effective(s: &MfaSettings) -> Value {
    let mut s = drift::normalise(s.clone());
    let w = s
        .web_authn_configuration
        .get_or_insert_with(WebAuthnConfig::default);
    w.user_verification
        .get_or_insert(UserVerification::default());
    w.factor_configuration
        .get_or_insert(FactorConfiguration::default());
    serde_json::to_value(s).expect("settings are JSON")
}

fn lookup<'a>(v: &'a Value, field: &str) -> Option<&'a Value> {
    field.split('.').try_fold(v, |v, key| v.get(key))
}

/// A value for a `live -> desired` line: plain words bare, other text quoted, blocks as JSON.
fn render(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(absent)".into(),
        Some(Value::String(s))
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=,".contains(c)) =>
        {
            s.clone()
        }
        Some(v) => v.to_string(),
    }
}

/// The lines `diff` prints for one manifest.
pub fn lines(t: &Target, outcome: &Outcome) -> Vec<String> {
    let label = t.label();
    match outcome {
        Outcome::Invalid(problems) => problems
            .iter()
            .map(|p| format!("{label}: invalid manifest, not compared: {p}"))
            .collect(),
        Outcome::Failed(e) => vec![format!("{label}: {e}")],
        Outcome::Compared(c) if c.is_empty() => vec![format!("{label}: no changes")],
        Outcome::Compared(c) => {
            let mut out: Vec<String> = c
                .iter()
                .map(|c| format!("{label}: {}: {} -> {}", c.field, c.live, c.desired))
                .collect();
            if t.policy == ManagementPolicy::Observe {
                out.push(format!(
                    "{label}: managementPolicy is Observe: the operator would report this drift (DriftDetected) and not write to the pool"
                ));
            }
            out
        }
    }
}

/// Whether applying the manifest would change its pool: only `Manage` writes.
pub fn would_change(t: &Target, outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Compared(c) if !c.is_empty()) && t.policy == ManagementPolicy::Manage
}

/// 2 when anything could not be compared, else 1 when a pool would change, else 0.
pub fn exit_code(input_errors: usize, results: &[(Target, Outcome)]) -> u8 {
    if input_errors > 0
        || results
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Invalid(_) | Outcome::Failed(_)))
    {
        EXIT_ERROR
    } else if results.iter().any(|(t, o)| would_change(t, o)) {
        EXIT_FOUND
    } else {
        EXIT_OK
    }
}

/// The closing line.
pub fn summary(results: &[(Target, Outcome)]) -> String {
    let count =
        |f: &dyn Fn(&Target, &Outcome) -> bool| results.iter().filter(|(t, o)| f(t, o)).count();
    let change = count(&would_change);
    let observed = count(&|t, o| {
        t.policy == ManagementPolicy::Observe && matches!(o, Outcome::Compared(c) if !c.is_empty())
    });
    let same = count(&|_, o| matches!(o, Outcome::Compared(c) if c.is_empty()));
    let failed = results.len() - change - observed - same;
    let mut s = format!(
        "{} UserPoolMfaConfig{}: {change} would change, {same} unchanged",
        results.len(),
        if results.len() == 1 { "" } else { "s" }
    );
    if observed > 0 {
        s.push_str(&format!(", {observed} drifted but Observe"));
    }
    if failed > 0 {
        s.push_str(&format!(", {failed} not compared"));
    }
    s
}

fn json_of(results: &[(Target, Outcome)], errors: &[manifest::InputError]) -> Value {
    json!({
        "results": results.iter().map(|(t, o)| {
            let mut r = json!({
                "file": t.file,
                "document": t.document,
                "pool": t.pool,
                "namespace": t.namespace,
                "name": t.name,
                "managementPolicy": t.policy,
                "wouldChange": would_change(t, o),
            });
            match o {
                Outcome::Invalid(p) => r["problems"] = json!(p),
                Outcome::Failed(e) => r["error"] = json!(e),
                Outcome::Compared(c) => r["changes"] = c.iter().map(|c| json!({
                    "field": c.field, "live": c.live, "desired": c.desired,
                })).collect(),
            }
            r
        }).collect::<Vec<_>>(),
        "errors": errors.iter().map(|e| json!({"file": e.file, "message": e.message})).collect::<Vec<_>>(),
    })
}

/// The manifests of a scan to compare: valid ones with their spec, invalid ones with their
/// problems (as `validate` prints them).
pub fn targets(scan: manifest::Scan) -> (Vec<(Target, Option<Outcome>)>, usize) {
    let mut out = Vec::new();
    let mut ignored = 0;
    for found in scan.found {
        let at = (found.file.as_str(), found.document, found.line);
        let Checked::Checked {
            kind,
            name,
            namespace,
            problems,
            object,
        } = found.checked
        else {
            ignored += 1;
            continue;
        };
        if kind != "UserPoolMfaConfig" {
            ignored += 1;
            continue;
        }
        let mut target = Target {
            file: found.file.clone(),
            document: found.document,
            pool: String::new(),
            namespace: namespace.clone(),
            name: name.clone().unwrap_or_else(|| "<no name>".into()),
            policy: ManagementPolicy::Manage,
            desired: MfaSettings::default(),
        };
        if let Some(Object::MfaConfig(c)) = &object {
            target.pool = c.spec.user_pool_id.clone();
            target.policy = c.spec.management_policy;
            target.desired = c.spec.mfa.clone();
        }
        if problems.is_empty() {
            out.push((target, None));
        } else {
            if target.pool.is_empty() {
                target.pool = "?".into();
            }
            let described = Entry::each(at, &kind, &name, &namespace, problems)
                .map(|e| e.to_string())
                .collect();
            out.push((target, Some(Outcome::Invalid(described))));
        }
    }
    (out, ignored)
}

pub async fn run(args: &DiffArgs) -> u8 {
    let scan = manifest::scan(&args.paths, &mut std::io::stdin().lock());
    let errors = scan.errors.clone();
    let (targets, _ignored) = targets(scan);
    let mut err = std::io::stderr().lock();
    for e in &errors {
        let _ = writeln!(err, "error: {e}");
    }
    drop(err);

    let cognito = if targets.iter().any(|(_, o)| o.is_none()) {
        Some(Cognito::from_env(args.timeout).await)
    } else {
        None
    };
    let mut results = Vec::new();
    // Without credentials every call fails alike: the first one says why, the others are skipped.
    let mut no_credentials = false;
    for (target, outcome) in targets {
        let outcome = match (outcome, &cognito) {
            (Some(o), _) => o,
            (None, _) if no_credentials => Outcome::Failed(
                "CredentialsUnavailable: not read: no usable AWS credentials (see above)".into(),
            ),
            (None, Some(cognito)) => {
                match with_retries(|| cognito.get(&target.pool, &Caller::Operator)).await {
                    Ok(live) => Outcome::Compared(changes(&target.desired, &live)),
                    Err(e) => {
                        no_credentials = e.kind == ErrorKind::Credentials;
                        Outcome::Failed(explain(&e))
                    }
                }
            }
            (None, None) => unreachable!("a client exists when a manifest is valid"),
        };
        if args.output == OutputFormat::Text {
            // Changes on stdout, what stood in the way on stderr.
            let mut out: Box<dyn Write> = match outcome {
                Outcome::Compared(_) => Box::new(std::io::stdout().lock()),
                _ => Box::new(std::io::stderr().lock()),
            };
            for line in lines(&target, &outcome) {
                let _ = writeln!(out, "{line}");
            }
        }
        results.push((target, outcome));
    }
    let mut out = std::io::stdout().lock();
    let _ = match args.output {
        OutputFormat::Text => writeln!(out, "{}", summary(&results)),
        OutputFormat::Json => writeln!(out, "{:#}", json_of(&results, &errors)),
    };
    exit_code(errors.len(), &results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(yaml: &str) -> MfaSettings {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn target(policy: ManagementPolicy) -> Target {
        Target {
            file: "f.yaml".into(),
            document: 1,
            pool: "us-east-1_A".into(),
            namespace: Some("team".into()),
            name: "a".into(),
            policy,
            desired: s("mfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}"),
        }
    }

    #[test]
    fn changes_show_both_values() {
        let desired = s(
            "mfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}\nemailMfaConfiguration: {message: 'Code {####}'}\nwebAuthnConfiguration: {userVerification: required}",
        );
        let live = s(
            "mfaConfiguration: 'OFF'\nemailMfaConfiguration: {message: 'Old {####}', subject: S}\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/s'}}",
        );
        let c = changes(&desired, &live);
        let shown: Vec<String> = c
            .iter()
            .map(|c| format!("{}: {} -> {}", c.field, c.live, c.desired))
            .collect();
        assert_eq!(
            shown,
            [
                "mfaConfiguration: OFF -> ON",
                r#"softwareTokenMfaConfiguration: (absent) -> {"enabled":true}"#,
                r#"smsMfaConfiguration: {"smsConfiguration":{"snsCallerArn":"arn:aws:iam::123456789012:role/s"}} -> (absent)"#,
                r#"emailMfaConfiguration.message: "Old {####}" -> "Code {####}""#,
                "webAuthnConfiguration.userVerification: preferred -> required",
            ]
        );
        assert_eq!(changes(&desired, &desired), vec![]);
    }

    #[test]
    fn lines_and_exit_codes() {
        let manage = target(ManagementPolicy::Manage);
        let observe = target(ManagementPolicy::Observe);
        let drift = Outcome::Compared(changes(&manage.desired, &s("mfaConfiguration: 'OFF'")));
        let same = Outcome::Compared(vec![]);
        assert_eq!(
            lines(&manage, &drift),
            [
                "pool us-east-1_A (team/a): mfaConfiguration: OFF -> ON",
                r#"pool us-east-1_A (team/a): softwareTokenMfaConfiguration: (absent) -> {"enabled":true}"#
            ]
        );
        assert_eq!(
            lines(&manage, &same),
            ["pool us-east-1_A (team/a): no changes"]
        );
        let observed = lines(&observe, &drift);
        assert_eq!(observed[..2], lines(&manage, &drift), "the same changes");
        assert_eq!(
            observed[2..],
            [
                "pool us-east-1_A (team/a): managementPolicy is Observe: the operator would report this drift (DriftDetected) and not write to the pool"
            ]
        );
        assert!(!would_change(&observe, &drift), "Observe never writes");
        assert!(would_change(&manage, &drift));
        assert!(!would_change(&manage, &same));

        assert_eq!(exit_code(0, &[]), EXIT_OK);
        assert_eq!(exit_code(0, &[(manage.clone(), same.clone())]), EXIT_OK);
        assert_eq!(exit_code(0, &[(observe.clone(), drift.clone())]), EXIT_OK);
        assert_eq!(exit_code(0, &[(manage.clone(), drift.clone())]), EXIT_FOUND);
        assert_eq!(exit_code(1, &[(manage.clone(), same.clone())]), EXIT_ERROR);
        let failed = Outcome::Failed("ResourceNotFound: x".into());
        assert_eq!(
            exit_code(
                0,
                &[
                    (manage.clone(), drift.clone()),
                    (manage.clone(), failed.clone())
                ]
            ),
            EXIT_ERROR
        );
        assert_eq!(
            summary(&[
                (manage.clone(), drift),
                (manage.clone(), same),
                (manage.clone(), failed),
            ]),
            "3 UserPoolMfaConfigs: 1 would change, 1 unchanged, 1 not compared"
        );
        assert_eq!(
            summary(&[(
                observe.clone(),
                Outcome::Compared(vec![Change {
                    field: "mfaConfiguration",
                    live: "OFF".into(),
                    desired: "ON".into(),
                }])
            )]),
            "1 UserPoolMfaConfig: 0 would change, 0 unchanged, 1 drifted but Observe"
        );
        let mut unnamed = manage;
        unnamed.namespace = None;
        assert_eq!(unnamed.label(), "pool us-east-1_A (a)");
    }

    #[test]
    fn invalid_manifests_are_not_compared() {
        let text = "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {name: a}\nspec: {userPoolId: us-east-1_A, mfaConfiguration: 'ON'}\n---\napiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolAccessPolicy\nmetadata: {name: p}\nspec: {userPools: ['*']}\n";
        let scan = manifest::scan(&[std::path::PathBuf::from("-")], &mut text.as_bytes());
        let (t, ignored) = targets(scan);
        assert_eq!((t.len(), ignored), (1, 1));
        let Some(Outcome::Invalid(p)) = &t[0].1 else {
            panic!("invalid")
        };
        assert!(p[0].contains("spec.mfaConfiguration"), "{p:?}");
    }
}
