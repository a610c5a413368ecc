//! `validate PATH...`: every `UserPoolMfaConfig` and `UserPoolAccessPolicy` in the inputs,
//! checked offline as admission and the operator check them.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use super::manifest::{self, Checked, Scan};
use super::{EXIT_ERROR, EXIT_FOUND, EXIT_OK, OutputFormat, ValidateArgs};

/// One problem of one document, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: String,
    pub document: usize,
    pub line: u64,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub field: String,
    pub message: String,
}

impl Entry {
    /// One entry per problem of a checked document, at (file, document, line).
    pub fn each(
        (file, document, line): (&str, usize, u64),
        kind: &str,
        name: &Option<String>,
        namespace: &Option<String>,
        problems: Vec<manifest::Problem>,
    ) -> impl Iterator<Item = Entry> {
        let file = file.to_owned();
        let (kind, name, namespace) = (kind.to_owned(), name.clone(), namespace.clone());
        problems.into_iter().map(move |p| Entry {
            file: file.clone(),
            document,
            line,
            kind: kind.clone(),
            name: name.clone(),
            namespace: namespace.clone(),
            field: p.field,
            message: p.message,
        })
    }
}

impl std::fmt::Display for Entry {
    /// `FILE: document N (kind/name): FIELD: message`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: document {} ({}/{}): {}: {}",
            self.file,
            self.document,
            self.kind,
            self.name.as_deref().unwrap_or("<no name>"),
            self.field,
            self.message
        )
    }
}

/// What `validate` found.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    /// Documents checked, by kind as written.
    pub checked: BTreeMap<String, usize>,
    pub ignored: usize,
    pub problems: Vec<Entry>,
    pub errors: Vec<manifest::InputError>,
}

impl Report {
    pub fn from_scan(scan: Scan) -> Self {
        let mut report = Report {
            files: scan.files,
            errors: scan.errors,
            ..Default::default()
        };
        for found in scan.found {
            let at = (found.file.as_str(), found.document, found.line);
            let Checked::Checked {
                kind,
                name,
                namespace,
                problems,
                ..
            } = found.checked
            else {
                report.ignored += 1;
                continue;
            };
            *report.checked.entry(kind.clone()).or_default() += 1;
            report
                .problems
                .extend(Entry::each(at, &kind, &name, &namespace, problems));
        }
        report
    }

    /// 2 when an input could not be read, else 1 when a document has a problem, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            EXIT_ERROR
        } else if !self.problems.is_empty() {
            EXIT_FOUND
        } else {
            EXIT_OK
        }
    }

    /// The closing line: what was checked and what was found.
    pub fn summary(&self) -> String {
        let total: usize = self.checked.values().sum();
        let kinds = self
            .checked
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut s = format!(
            "checked {total} document{} in {} file{}",
            plural(total),
            self.files,
            plural(self.files)
        );
        if !kinds.is_empty() {
            s.push_str(&format!(" ({kinds})"));
        }
        if self.ignored > 0 {
            s.push_str(&format!(", ignored {} of other kinds", self.ignored));
        }
        s.push_str(&match self.problems.len() {
            0 => ": no problems".to_owned(),
            n => format!(": {n} problem{}", plural(n)),
        });
        if !self.errors.is_empty() {
            s.push_str(&format!(
                "; {} input{} could not be read",
                self.errors.len(),
                plural(self.errors.len())
            ));
        }
        s
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "files": self.files,
            "checked": self.checked,
            "ignored": self.ignored,
            "problems": self.problems.iter().map(|e| json!({
                "file": e.file,
                "document": e.document,
                "line": e.line,
                "kind": e.kind,
                "name": e.name,
                "namespace": e.namespace,
                "field": e.field,
                "message": e.message,
            })).collect::<Vec<_>>(),
            "errors": self.errors.iter().map(|e| json!({"file": e.file, "message": e.message})).collect::<Vec<_>>(),
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub fn run(args: &ValidateArgs) -> u8 {
    let report = Report::from_scan(manifest::scan(&args.paths, &mut std::io::stdin().lock()));
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    // A closed pipe (`| head`) is no reason to fail differently.
    let _ = match args.output {
        OutputFormat::Json => {
            for e in &report.errors {
                let _ = writeln!(err, "error: {e}");
            }
            writeln!(out, "{:#}", report.json())
        }
        OutputFormat::Text => {
            for e in &report.errors {
                let _ = writeln!(err, "error: {e}");
            }
            report
                .problems
                .iter()
                .try_for_each(|p| writeln!(out, "{p}"))
                .and_then(|()| writeln!(out, "{}", report.summary()))
        }
    };
    report.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn report(text: &str) -> Report {
        let mut stdin = text.as_bytes();
        Report::from_scan(manifest::scan(&[PathBuf::from("-")], &mut stdin))
    }

    const GOOD: &str = "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {name: a, namespace: team}\nspec: {userPoolId: us-east-1_A, mfaConfiguration: 'OFF'}\n";

    #[test]
    fn problems_are_located_and_counted() {
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n{GOOD}---\napiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {{name: b}}\nspec: {{userPoolId: us-east-1_A, mfaConfiguration: 'ON'}}\n"
        );
        let r = report(&text);
        assert_eq!(r.exit_code(), EXIT_FOUND);
        assert_eq!(r.problems.len(), 1);
        let line = r.problems[0].to_string();
        assert!(
            line.starts_with(
                "<stdin>: document 3 (UserPoolMfaConfig/b): spec.mfaConfiguration: ON needs an enabled factor"
            ),
            "{line}"
        );
        assert_eq!(r.problems[0].line, 10);
        assert_eq!(
            r.summary(),
            "checked 2 documents in 1 file (2 UserPoolMfaConfig), ignored 1 of other kinds: 1 problem"
        );
        let j = r.json();
        assert_eq!(j["problems"][0]["field"], "spec.mfaConfiguration");
        assert_eq!(j["problems"][0]["document"], 3);
        assert_eq!(j["checked"]["UserPoolMfaConfig"], 2);
        assert_eq!(j["ignored"], 1);
    }

    #[test]
    fn valid_input_exits_0_and_invalid_yaml_exits_2() {
        let r = report(GOOD);
        assert_eq!(r.exit_code(), EXIT_OK);
        assert_eq!(
            r.summary(),
            "checked 1 document in 1 file (1 UserPoolMfaConfig): no problems"
        );
        let r = report("a: [1\n");
        assert_eq!(r.exit_code(), EXIT_ERROR);
        assert!(r.errors[0].to_string().starts_with("<stdin>: invalid YAML"));
        assert!(r.summary().ends_with("; 1 input could not be read"));
    }
}
