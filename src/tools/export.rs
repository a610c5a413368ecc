//! `export POOL_ID...`: `UserPoolMfaConfig` manifests holding pools' current configuration,
//! normalised as the operator compares it, so applying them adopts the pools without a change.
//! `managementPolicy` and `deletionPolicy` are left out: `Manage` and `Retain`, so deleting such a
//! resource later leaves its pool as it is.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use serde::Serialize;

use super::manifest::{self, Checked};
use super::{EXIT_ERROR, EXIT_FOUND, EXIT_OK, ExportArgs, explain, with_retries};
use crate::api::{GROUP, MfaSettings};
use crate::cognito::{Caller, Cognito};
use crate::logic::drift;
use crate::logic::errors::ErrorKind;

/// A pool read for export.
#[derive(Debug, Clone)]
pub struct Exported {
    pub pool: String,
    /// The pool's name, when ListUserPools gave it.
    pub pool_name: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub settings: MfaSettings,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    api_version: String,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: Spec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    user_pool_id: &'a str,
    #[serde(flatten)]
    mfa: &'a MfaSettings,
}

/// The manifest's name: the prefix, then the pool ID in lower case with `_` as `-`
/// (`us-east-1_AbC` -> `us-east-1-abc`). Pool IDs differing only in case would share it, so those
/// get a short hash of the exact ID.
pub fn names(prefix: &str, pools: &[String]) -> Vec<String> {
    let base = |p: &String| format!("{prefix}{}", p.to_ascii_lowercase().replace('_', "-"));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for p in pools {
        *seen.entry(base(p)).or_default() += 1;
    }
    pools
        .iter()
        .map(|p| {
            let b = base(p);
            if seen[&b] > 1 {
                format!("{b}-{:08x}", fnv1a(p) as u32)
            } else {
                b
            }
        })
        .collect()
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// One pool's manifest as a YAML document (`---` first). serde-saphyr quotes the strings YAML
/// 1.1 would read as booleans ("ON", "OFF").
pub fn document(e: &Exported) -> String {
    let manifest = Manifest {
        api_version: format!("{GROUP}/{}", manifest::VERSION),
        kind: "UserPoolMfaConfig",
        metadata: Metadata {
            name: &e.name,
            namespace: e.namespace.as_deref(),
        },
        spec: Spec {
            user_pool_id: &e.pool,
            mfa: &e.settings,
        },
    };
    let yaml = serde_saphyr::to_string(&manifest).expect("a manifest serialises to YAML");
    let from = match &e.pool_name {
        Some(n) => format!("pool {} ({n:?})", e.pool),
        None => format!("pool {}", e.pool),
    };
    format!(
        "---\n# The MFA configuration of {from} as exported; applying it changes nothing.\n{yaml}"
    )
}

/// The problems `validate` would find in a document (none for a pool Cognito let be configured
/// by the rules; a pool may hold what the spec refuses, e.g. a message without `{####}`).
pub fn problems(doc: &str) -> Vec<String> {
    let input = manifest::Input {
        file: String::new(),
        text: doc.to_owned(),
    };
    match manifest::documents(&input) {
        Err(e) => vec![e.message],
        Ok(docs) => docs
            .iter()
            .flat_map(|d| match manifest::check(&d.value) {
                Checked::Checked { problems, .. } => problems
                    .into_iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect(),
                Checked::Ignored => vec!["not a UserPoolMfaConfig".to_owned()],
            })
            .collect(),
    }
}

pub async fn run(args: &ExportArgs) -> u8 {
    let mut err = std::io::stderr().lock();
    let mut failed = false;
    // The pools named, then those listed; each once.
    let mut pools: Vec<String> = Vec::new();
    let mut listed_names: HashMap<String, String> = HashMap::new();
    for p in &args.pools {
        if let Some(problem) = manifest::pool_id_problem(p) {
            let _ = writeln!(err, "error: not a pool ID: {problem}");
            failed = true;
        } else if !pools.contains(p) {
            pools.push(p.clone());
        }
    }
    if failed {
        return EXIT_ERROR;
    }
    let cognito = Cognito::from_env(args.timeout).await;
    for region in &args.all_in_region {
        match with_retries(|| cognito.list_pools(region, &Caller::Operator)).await {
            Ok(listed) => {
                let listed: BTreeSet<(String, String)> = listed.into_iter().collect();
                for (id, name) in listed {
                    if !pools.contains(&id) {
                        pools.push(id.clone());
                    }
                    listed_names.insert(id, name);
                }
            }
            Err(e) => {
                let _ = writeln!(err, "error: ListUserPools in {region}: {}", explain(&e));
                failed = true;
            }
        }
    }
    let names = names(&args.name_prefix, &pools);
    if let Some(bad) = names.iter().find(|n| !manifest::is_object_name(n)) {
        let _ = writeln!(
            err,
            "error: --name-prefix {:?} makes {bad:?}, not a valid name (lowercase letters, digits, '-' and '.', at most 253)",
            args.name_prefix
        );
        return EXIT_ERROR;
    }
    let mut refused = false;
    let mut exported = 0;
    let mut out = std::io::stdout().lock();
    for (pool, name) in pools.iter().zip(names) {
        let live = match with_retries(|| cognito.get(pool, &Caller::Operator)).await {
            Ok(live) => live,
            Err(e) => {
                let _ = writeln!(err, "error: pool {pool}: {}", explain(&e));
                failed = true;
                // Without credentials every other call would fail alike.
                if e.kind == ErrorKind::Credentials {
                    break;
                }
                continue;
            }
        };
        let e = Exported {
            pool: pool.clone(),
            pool_name: listed_names.get(pool).cloned(),
            name,
            namespace: args.namespace.clone(),
            settings: drift::normalise(live),
        };
        let doc = document(&e);
        let found = problems(&doc);
        for p in &found {
            let _ = writeln!(
                err,
                "warning: pool {pool}: validate will refuse the exported manifest: {p}"
            );
        }
        refused |= !found.is_empty();
        let _ = out.write_all(doc.as_bytes());
        exported += 1;
    }
    let _ = writeln!(
        err,
        "exported {exported} pool{}",
        if exported == 1 { "" } else { "s" }
    );
    if failed {
        EXIT_ERROR
    } else if refused {
        EXIT_FOUND
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(yaml: &str) -> MfaSettings {
        drift::normalise(serde_saphyr::from_str(yaml).unwrap())
    }

    fn exported(settings: MfaSettings) -> Exported {
        Exported {
            pool: "us-east-1_AbC123".into(),
            pool_name: Some("Main pool".into()),
            name: "us-east-1-abc123".into(),
            namespace: Some("team".into()),
            settings,
        }
    }

    #[test]
    fn names_are_valid_and_distinct() {
        let pools: Vec<String> = ["us-east-1_AbC", "eu-west-1_x1", "us-east-1_abc"]
            .map(String::from)
            .into();
        let n = names("", &pools);
        // The two that differ only in case get the low 32 bits of the FNV-1a hash of their ID
        // (worked out independently); the other keeps the plain name.
        assert_eq!(
            n,
            [
                "us-east-1-abc-1e7f7c78",
                "eu-west-1-x1",
                "us-east-1-abc-b9552978"
            ]
        );
        assert!(n.iter().all(|n| manifest::is_object_name(n)), "{n:?}");
        assert_eq!(names("mfa.", &pools[1..2]), ["mfa.eu-west-1-x1"]);
    }

    #[test]
    fn a_document_quotes_on_and_off_leaves_defaults_out_and_validates() {
        let settings = s(
            "mfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {enabled: true}\nsmsMfaConfiguration: {smsAuthenticationMessage: 'Code {####}', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/s', externalId: 'yes', snsRegion: us-east-1}}\nwebAuthnConfiguration: {relyingPartyId: auth.example.com}",
        );
        let doc = document(&exported(settings.clone()));
        assert!(doc.contains("mfaConfiguration: \"ON\"\n"), "{doc}");
        assert!(doc.contains("externalId: \"yes\""), "{doc}");
        assert!(!doc.contains("managementPolicy") && !doc.contains("deletionPolicy"));
        assert!(!doc.contains("status"));
        assert!(
            doc.starts_with(
                "---\n# The MFA configuration of pool us-east-1_AbC123 (\"Main pool\")"
            )
        );
        assert_eq!(problems(&doc), Vec::<String>::new(), "{doc}");
        // Reading it back gives the same configuration: applying it changes nothing.
        let back: crate::api::UserPoolMfaConfig = serde_saphyr::from_str(&doc).unwrap();
        assert_eq!(back.spec.mfa, settings);
        assert_eq!(back.metadata.namespace.as_deref(), Some("team"));
        assert!(drift::diff(&back.spec.mfa, &settings).is_empty());

        let off = document(&exported(s("mfaConfiguration: 'OFF'")));
        assert!(off.contains("mfaConfiguration: \"OFF\"\n"), "{off}");
        assert_eq!(problems(&off), Vec::<String>::new());
    }

    #[test]
    fn what_the_spec_refuses_is_reported() {
        let doc = document(&exported(s(
            "mfaConfiguration: 'ON'\nemailMfaConfiguration: {message: 'no placeholder'}",
        )));
        let p = problems(&doc);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("spec.emailMfaConfiguration.message"),
            "{p:?}"
        );
    }
}
