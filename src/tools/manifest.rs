//! Manifests from files, directories and stdin, checked offline as admission and the operator
//! check them.
//!
//! Each document is read as plain YAML first (with YAML 1.1 booleans, as `kubectl` reads it, so
//! an unquoted `ON` is `true` here too), then walked against the CRD's own OpenAPI schema: unknown
//! fields, wrong types, enum values and required fields, the part of admission that serde's
//! derived parsing does not do (the API types ignore unknown fields, and must go on doing so for
//! the operator). What passes is parsed into the Rust type and, for a `UserPoolMfaConfig`,
//! checked by `logic::validation::violations`, the operator's own rules.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use regex::Regex;
use serde_json::{Map, Value};

use crate::api::{GROUP, UserPoolAccessPolicy, UserPoolMfaConfig};
use crate::logic::validation;

/// The served version of both kinds.
pub const VERSION: &str = "v1alpha1";

/// One input as named in messages: a path, or `<stdin>`.
#[derive(Debug, Clone)]
pub struct Input {
    pub file: String,
    pub text: String,
}

/// An input that could not be read or is not YAML: `validate` and `diff` exit 2 on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// The name stdin goes by in messages.
pub const STDIN: &str = "<stdin>";

/// Expands the PATH arguments: a file as given (whatever its name), a directory recursively for
/// `*.yaml` and `*.yml` (sorted, hidden entries skipped), `-` for stdin (read once).
pub fn read_inputs(paths: &[PathBuf], stdin: &mut dyn Read) -> (Vec<Input>, Vec<InputError>) {
    let (mut inputs, mut errors) = (Vec::new(), Vec::new());
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_read, true) {
                continue;
            }
            let mut text = String::new();
            match stdin.read_to_string(&mut text) {
                Ok(_) => inputs.push(Input {
                    file: STDIN.into(),
                    text,
                }),
                Err(e) => errors.push(InputError {
                    file: STDIN.into(),
                    message: format!("cannot read: {e}"),
                }),
            }
            continue;
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk_dir(path, &mut inputs, &mut errors),
            Ok(_) => read_file(path, &mut inputs, &mut errors),
            Err(e) => errors.push(InputError {
                file: path.display().to_string(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
    (inputs, errors)
}

fn read_file(path: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<InputError>) {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => inputs.push(Input { file, text }),
            Err(e) => errors.push(InputError {
                file,
                message: format!("not UTF-8 text: {e}"),
            }),
        },
        Err(e) => errors.push(InputError {
            file,
            message: format!("cannot read: {e}"),
        }),
    }
}

fn walk_dir(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(InputError {
                file: dir.display().to_string(),
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        // Symbolic links to directories are not followed (no loops); links to files are read.
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if is_dir {
            walk_dir(&path, inputs, errors);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") && path.is_file() {
            read_file(&path, inputs, errors);
        }
    }
}

/// One YAML document of an input: its number among the file's non-empty documents (from 1),
/// the line it starts on, and its content.
#[derive(Debug, Clone)]
pub struct Document {
    pub number: usize,
    pub line: u64,
    pub value: Value,
}

/// The documents of one input; an error (naming the line) when it is not YAML.
pub fn documents(input: &Input) -> Result<Vec<Document>, InputError> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_multiple_with_options::<serde_saphyr::Spanned<Value>>(&input.text, options)
        .map(|docs| {
            docs.into_iter()
                .enumerate()
                .map(|(i, d)| Document {
                    number: i + 1,
                    line: d.referenced.line(),
                    value: d.value,
                })
                .collect()
        })
        .map_err(|e| InputError {
            file: input.file.clone(),
            message: format!("invalid YAML: {e}"),
        })
}

/// Every document of every input, checked.
#[derive(Debug)]
pub struct Scan {
    /// Inputs read (whether YAML or not).
    pub files: usize,
    pub found: Vec<Found>,
    pub errors: Vec<InputError>,
}

/// One document and what checking it found.
#[derive(Debug)]
pub struct Found {
    pub file: String,
    pub document: usize,
    pub line: u64,
    pub checked: Checked,
}

/// Reads the PATH arguments and checks every document in them.
pub fn scan(paths: &[PathBuf], stdin: &mut dyn Read) -> Scan {
    let (inputs, mut errors) = read_inputs(paths, stdin);
    let mut found = Vec::new();
    for input in &inputs {
        match documents(input) {
            Ok(docs) => found.extend(docs.into_iter().map(|d| Found {
                file: input.file.clone(),
                document: d.number,
                line: d.line,
                checked: check(&d.value),
            })),
            Err(e) => errors.push(e),
        }
    }
    Scan {
        files: inputs.len(),
        found,
        errors,
    }
}

/// The kinds this tool checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    UserPoolMfaConfig,
    UserPoolAccessPolicy,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UserPoolMfaConfig => "UserPoolMfaConfig",
            Kind::UserPoolAccessPolicy => "UserPoolAccessPolicy",
        }
    }
}

/// A field that admission or the operator would refuse, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A parsed object of one of the two kinds.
#[derive(Debug, Clone)]
pub enum Object {
    MfaConfig(Box<UserPoolMfaConfig>),
    AccessPolicy(Box<UserPoolAccessPolicy>),
}

/// What checking one document found.
#[derive(Debug, Clone)]
pub enum Checked {
    /// Not one of ours (another kind, not an object at all): ignored.
    Ignored,
    /// One of ours (or meant to be: our API group): its problems, and the object when it parses.
    Checked {
        /// The kind as written (which may be a misspelling of ours).
        kind: String,
        name: Option<String>,
        namespace: Option<String>,
        problems: Vec<Problem>,
        object: Option<Object>,
    },
}

/// Checks one document as admission and the operator would.
pub fn check(doc: &Value) -> Checked {
    let Some(obj) = doc.as_object() else {
        return Checked::Ignored;
    };
    let (Some(api_version), Some(kind)) = (
        obj.get("apiVersion").and_then(Value::as_str),
        obj.get("kind").and_then(Value::as_str),
    ) else {
        return Checked::Ignored;
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    if group != GROUP {
        return Checked::Ignored;
    }
    let meta = obj.get("metadata").and_then(Value::as_object);
    let text = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (name, namespace) = (text("name"), text("namespace"));
    let mut problems = Vec::new();
    let kind_of = match kind {
        "UserPoolMfaConfig" => Some(Kind::UserPoolMfaConfig),
        "UserPoolAccessPolicy" => Some(Kind::UserPoolAccessPolicy),
        _ => None,
    };
    let Some(known) = kind_of else {
        problems.push(Problem::new(
            "kind",
            format!("{kind:?} is not a kind of {GROUP} (UserPoolMfaConfig, UserPoolAccessPolicy)"),
        ));
        return Checked::Checked {
            kind: kind.into(),
            name,
            namespace,
            problems,
            object: None,
        };
    };
    if version != VERSION {
        problems.push(Problem::new(
            "apiVersion",
            format!("{api_version:?} is not served: use {GROUP}/{VERSION}"),
        ));
    }
    let mut value = doc.clone();
    let schema = match known {
        Kind::UserPoolMfaConfig => &*MFA_CONFIG_SCHEMA,
        Kind::UserPoolAccessPolicy => &*ACCESS_POLICY_SCHEMA,
    };
    // The operator's own rules cover every length and pattern of a UserPoolMfaConfig; the
    // access policy has no such check, so its schema's are checked here.
    let values = known == Kind::UserPoolAccessPolicy;
    walk(schema, &mut value, "", values, &mut problems);
    check_metadata(&value, known, &mut problems);

    let mut object = None;
    if problems.is_empty() {
        let parsed = match known {
            Kind::UserPoolMfaConfig => serde_json::from_value::<UserPoolMfaConfig>(value)
                .map(|o| Object::MfaConfig(Box::new(o))),
            Kind::UserPoolAccessPolicy => serde_json::from_value::<UserPoolAccessPolicy>(value)
                .map(|o| Object::AccessPolicy(Box::new(o))),
        };
        match parsed {
            Ok(o) => object = Some(o),
            Err(e) => problems.push(Problem::new("spec", e.to_string())),
        }
    }
    if let Some(Object::MfaConfig(c)) = &object {
        problems.extend(
            validation::violations(&c.spec)
                .into_iter()
                .map(|v| Problem::new(v.field, v.message)),
        );
    }
    Checked::Checked {
        kind: kind.into(),
        name,
        namespace,
        problems,
        object,
    }
}

static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").unwrap()
});
static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").unwrap());

/// Whether `name` is a valid name of a custom resource (a DNS-1123 subdomain).
pub fn is_object_name(name: &str) -> bool {
    name.len() <= 253 && DNS_SUBDOMAIN.is_match(name)
}

/// Why `id` is not a pool ID the operator would call (the operator's own rule), if it is not.
pub fn pool_id_problem(id: &str) -> Option<String> {
    let spec = crate::api::UserPoolMfaConfigSpec {
        user_pool_id: id.to_owned(),
        mfa: crate::api::MfaSettings::default(),
        management_policy: Default::default(),
        deletion_policy: Default::default(),
    };
    validation::violations(&spec)
        .into_iter()
        .find(|v| v.field == "spec.userPoolId")
        .map(|v| v.message)
}

/// What the API server checks of the metadata beyond its schema: names.
fn check_metadata(doc: &Value, kind: Kind, problems: &mut Vec<Problem>) {
    let meta = doc.get("metadata");
    match meta.and_then(|m| m.get("name")).map(Value::as_str) {
        None => problems.push(Problem::new("metadata.name", "is required")),
        Some(None) => {} // not a string: the schema's problem
        Some(Some(name)) if !is_object_name(name) => problems.push(Problem::new(
            "metadata.name",
            format!(
                "{name:?} is not a valid name: at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
            ),
        )),
        Some(_) => {}
    }
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    match (kind, namespace) {
        (Kind::UserPoolMfaConfig, Some(ns)) if ns.len() > 63 || !DNS_LABEL.is_match(ns) => problems
            .push(Problem::new(
                "metadata.namespace",
                format!(
                    "{ns:?} is not a valid namespace: at most 63 lowercase letters, digits and '-'"
                ),
            )),
        (Kind::UserPoolAccessPolicy, Some(_)) => problems.push(Problem::new(
            "metadata.namespace",
            "UserPoolAccessPolicy is cluster-scoped: leave the namespace out",
        )),
        _ => {}
    }
}

/// The CRD's schema with what the API server adds to every object: apiVersion, kind, metadata.
fn object_schema(mut schema: Value) -> Value {
    let props = schema["properties"]
        .as_object_mut()
        .expect("a CRD schema has properties");
    props.insert("apiVersion".into(), serde_json::json!({"type": "string"}));
    props.insert("kind".into(), serde_json::json!({"type": "string"}));
    props.insert("metadata".into(), object_meta_schema());
    schema
}

fn crd_schema(
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    let version = crd
        .spec
        .versions
        .into_iter()
        .find(|v| v.name == VERSION)
        .expect("the CRD serves v1alpha1");
    let schema = version
        .schema
        .and_then(|s| s.open_api_v3_schema)
        .expect("the CRD has a schema");
    object_schema(serde_json::to_value(schema).expect("a schema is JSON"))
}

static MFA_CONFIG_SCHEMA: LazyLock<Value> = LazyLock::new(|| crd_schema(UserPoolMfaConfig::crd()));
static ACCESS_POLICY_SCHEMA: LazyLock<Value> =
    LazyLock::new(|| crd_schema(UserPoolAccessPolicy::crd()));

/// `ObjectMeta`'s schema, generated as kube generates a CRD's (inline, OpenAPI 3, nullable).
fn object_meta_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<ObjectMeta>()).expect("a schema is JSON")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A short rendering of a value for messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn has_type(v: &Value, ty: &str) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

/// Walks `value` against an OpenAPI schema of a CRD, as the API server's structural checks do:
/// null in a field that is not nullable is dropped (pruned), unknown fields, wrong types, enum
/// values and missing required fields are problems; with `values`, also lengths, patterns and
/// list sizes. CEL rules (`x-kubernetes-validations`) are not evaluated.
fn walk(schema: &Value, value: &mut Value, path: &str, values: bool, out: &mut Vec<Problem>) {
    let field = if path.is_empty() { "(document)" } else { path };
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == true;
    if int_or_string {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(Problem::new(
                field,
                format!("must be a string or an integer, not {}", type_name(value)),
            ));
        }
        return;
    }
    if let Some(ty) = schema["type"].as_str()
        && !has_type(value, ty)
    {
        let want = match ty {
            "object" => "an object",
            "array" => "a list",
            "string" => "a string",
            "boolean" => "a boolean (true or false)",
            "integer" => "an integer",
            _ => "a number",
        };
        let mut message = format!("must be {want}, not {} {}", type_name(value), show(value));
        if value.is_boolean() && ty == "string" {
            message.push_str(
                ": YAML reads unquoted ON, OFF, yes, no, y and n as booleans, quote the value (\"ON\")",
            );
        }
        out.push(Problem::new(field, message));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed
            .iter()
            .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
            .collect();
        out.push(Problem::new(
            field,
            format!("must be one of {}, not {}", names.join(", "), show(value)),
        ));
        return;
    }
    match value {
        Value::Object(map) => walk_object(schema, map, path, values, out),
        Value::Array(items) => {
            if values {
                let n = items.len() as u64;
                if let Some(min) = schema["minItems"].as_u64().filter(|m| n < *m) {
                    out.push(Problem::new(field, format!("needs at least {min} items")));
                }
                if let Some(max) = schema["maxItems"].as_u64().filter(|m| n > *m) {
                    out.push(Problem::new(field, format!("takes at most {max} items")));
                }
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter_mut().enumerate() {
                    walk(item, v, &format!("{path}[{i}]"), values, out);
                }
            }
        }
        Value::String(s) if values => {
            let n = s.chars().count() as u64;
            let (min, max) = (schema["minLength"].as_u64(), schema["maxLength"].as_u64());
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let range = match (min, max) {
                    (Some(a), Some(b)) => format!("{a} to {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => unreachable!(),
                };
                out.push(Problem::new(
                    field,
                    format!("must be {range} characters long"),
                ));
            }
            if let Some(pattern) = schema["pattern"].as_str()
                && Regex::new(pattern).is_ok_and(|re| !re.is_match(s))
            {
                out.push(Problem::new(
                    field,
                    format!(
                        "{} does not match {pattern}",
                        show(&Value::String(s.clone()))
                    ),
                ));
            }
        }
        _ => {}
    }
}

fn walk_object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    values: bool,
    out: &mut Vec<Problem>,
) {
    let props = schema["properties"].as_object();
    let additional = &schema["additionalProperties"];
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    // Null where null is not allowed is pruned, as the API server prunes it.
    map.retain(|key, v| {
        let sub = props
            .and_then(|p| p.get(key))
            .or(additional.as_object().map(|_| additional));
        !(v.is_null() && sub.is_some_and(|s| s["nullable"] != true))
    });
    for (key, v) in map.iter_mut() {
        let at = join(path, key);
        match props.and_then(|p| p.get(key)) {
            Some(sub) => walk(sub, v, &at, values, out),
            None if additional.is_object() => walk(additional, v, &at, values, out),
            None if additional == true || preserve => {}
            None if props.is_none() && schema["type"] != "object" => {}
            None => {
                let mut message = "unknown field".to_owned();
                if let Some(near) = props.and_then(|p| nearest(key, p.keys())) {
                    message.push_str(&format!(" (did you mean {near}?)"));
                }
                out.push(Problem::new(at, message));
            }
        }
    }
    for req in schema["required"].as_array().into_iter().flatten() {
        if let Some(req) = req.as_str()
            && !map.contains_key(req)
        {
            out.push(Problem::new(join(path, req), "is required"));
        }
    }
}

/// The known field closest to a misspelt one (at most two edits, or the same ignoring case).
fn nearest<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    known
        .map(|k| {
            let d = if k.eq_ignore_ascii_case(key) {
                0
            } else {
                edit_distance(key, k)
            };
            (d, k)
        })
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Value {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn problems(yaml: &str) -> Vec<(String, String)> {
        match check(&doc(yaml)) {
            Checked::Checked { problems, .. } => {
                problems.into_iter().map(|p| (p.field, p.message)).collect()
            }
            Checked::Ignored => panic!("ignored: {yaml}"),
        }
    }

    fn fields(yaml: &str) -> Vec<String> {
        problems(yaml).into_iter().map(|(f, _)| f).collect()
    }

    const HEAD: &str = "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {name: a, namespace: team}\n";
    const POLICY: &str = "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolAccessPolicy\nmetadata: {name: p}\n";

    #[test]
    fn a_good_manifest_parses_with_no_problem() {
        let y = format!(
            "{HEAD}spec:\n  userPoolId: us-east-1_Abc\n  mfaConfiguration: 'ON'\n  softwareTokenMfaConfiguration: {{enabled: true}}\n  smsMfaConfiguration: null\n"
        );
        let Checked::Checked {
            kind,
            name,
            namespace,
            problems,
            object: Some(Object::MfaConfig(c)),
        } = check(&doc(&y))
        else {
            panic!("checked and parsed")
        };
        assert_eq!(
            (kind.as_str(), name.as_deref(), namespace.as_deref()),
            ("UserPoolMfaConfig", Some("a"), Some("team"))
        );
        assert_eq!(problems, vec![]);
        assert_eq!(c.spec.user_pool_id, "us-east-1_Abc");
    }

    #[test]
    fn other_kinds_and_non_objects_are_ignored() {
        for y in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            "apiVersion: other.example/v1alpha1\nkind: UserPoolMfaConfig\n",
            "- a\n- b\n",
            "just text\n",
            "replicaCount: 2\n",
        ] {
            assert!(matches!(check(&doc(y)), Checked::Ignored), "{y}");
        }
    }

    #[test]
    fn unknown_fields_are_problems_with_a_suggestion() {
        let y = format!(
            "{HEAD}spec:\n  userPoolId: us-east-1_Abc\n  mfaConfiguration: 'ON'\n  softwareTokenMfaConfiguration: {{enable: true}}\n  colour: blue\nmetadata2: x\n"
        );
        let p = problems(&y);
        let owned = |f: &str, m: &str| (f.to_owned(), m.to_owned());
        assert_eq!(
            p,
            [
                owned("metadata2", "unknown field (did you mean metadata?)"),
                owned("spec.colour", "unknown field"),
                owned(
                    "spec.softwareTokenMfaConfiguration.enable",
                    "unknown field (did you mean enabled?)"
                ),
            ],
            "these three and nothing else"
        );
        // Fields of the flattened MFA settings are known; metadata's own are checked too.
        let y = "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {name: a, lables: {x: z}, labels: {team: a}, annotations: {a: 1}}\nspec: {userPoolId: us-east-1_A, mfaConfiguration: 'OFF', webAuthnConfiguration: {relyingPartyId: x}}\n";
        assert_eq!(
            fields(y),
            ["metadata.annotations.a", "metadata.lables"],
            "{:?}",
            problems(y)
        );
    }

    #[test]
    fn types_enums_and_required_fields_are_checked_with_the_yaml_boolean_hint() {
        let y = format!(
            "{HEAD}spec:\n  userPoolId: us-east-1_Abc\n  mfaConfiguration: ON\n  softwareTokenMfaConfiguration: {{enabled: true}}\n"
        );
        let p = problems(&y);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "spec.mfaConfiguration");
        assert!(p[0].1.contains("quote the value"), "{}", p[0].1);
        let y = format!(
            "{HEAD}spec:\n  userPoolId: us-east-1_Abc\n  mfaConfiguration: MAYBE\n  managementPolicy: observe\n  softwareTokenMfaConfiguration: {{enabled: 'yes'}}\n"
        );
        assert_eq!(
            fields(&y),
            [
                "spec.managementPolicy",
                "spec.mfaConfiguration",
                "spec.softwareTokenMfaConfiguration.enabled"
            ]
        );
        assert!(problems(&y)[0].1.contains("must be one of Manage, Observe"));
        let y = format!("{HEAD}spec:\n  softwareTokenMfaConfiguration: {{enabled: true}}\n");
        assert_eq!(
            fields(&y),
            ["spec.mfaConfiguration", "spec.userPoolId"],
            "required"
        );
        assert_eq!(fields(HEAD), ["spec"], "spec is required");
        let y = format!("{HEAD}spec:\n  userPoolId: us-east-1_Abc\n  mfaConfiguration: null\n");
        assert_eq!(fields(&y), ["spec.mfaConfiguration"], "null is pruned");
    }

    #[test]
    fn the_operators_rules_apply() {
        let y = format!("{HEAD}spec:\n  userPoolId: local_Abc\n  mfaConfiguration: 'ON'\n");
        assert_eq!(
            fields(&y),
            ["spec.userPoolId", "spec.mfaConfiguration"],
            "{:?}",
            problems(&y)
        );
    }

    #[test]
    fn names_versions_and_kinds_are_checked() {
        let spec = "spec: {userPoolId: us-east-1_A, mfaConfiguration: 'OFF'}\n";
        let y = format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {{namespace: Team_A}}\n{spec}"
        );
        assert_eq!(fields(&y), ["metadata.name", "metadata.namespace"]);
        let y = format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {{name: Upper_case}}\n{spec}"
        );
        assert_eq!(fields(&y), ["metadata.name"]);
        let y = format!(
            "apiVersion: cognitoidp.operators.dev/v1\nkind: UserPoolMfaConfig\nmetadata: {{name: a}}\n{spec}"
        );
        assert_eq!(fields(&y), ["apiVersion"]);
        let y = format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMFAConfig\nmetadata: {{name: a}}\n{spec}"
        );
        assert_eq!(fields(&y), ["kind"]);
        let y = format!(
            "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolMfaConfig\nmetadata: {{name: on}}\n{spec}"
        );
        let p = problems(&y);
        assert_eq!(p.len(), 1, "a YAML boolean, said once: {p:?}");
        assert!(p[0].1.starts_with("must be a string, not a boolean true"));
    }

    #[test]
    fn access_policies_are_checked_against_their_schema() {
        let good = format!(
            "{POLICY}spec:\n  namespaces: {{names: [a], selector: {{matchLabels: {{team: a}}, matchExpressions: [{{key: k, operator: In, values: [v]}}]}}}}\n  userPools: ['eu-west-1_*']\n  identity: {{roleArn: 'arn:aws:iam::222222222222:role/x', externalId: abc}}\n  allowedManagementPolicies: [Manage]\n  mfaFloor: {{mfaConfiguration: 'ON', requiredFactors: [TOTP]}}\n"
        );
        assert_eq!(problems(&good), vec![]);
        let Checked::Checked {
            object: Some(Object::AccessPolicy(_)),
            ..
        } = check(&doc(&good))
        else {
            panic!("parsed")
        };
        let bad = format!(
            "{POLICY}spec:\n  namespaces: {{names: [a], selecter: {{}}}}\n  userPools: []\n  identity: {{roleArn: 'arn:aws:iam::1:role/x'}}\n  allowedDeletionPolicies: [Delete]\n  mfaFloor: {{mfaConfiguration: 'ON', requiredFactors: [U2F]}}\n"
        );
        assert_eq!(
            fields(&bad),
            [
                "spec.allowedDeletionPolicies[0]",
                "spec.identity.roleArn",
                "spec.mfaFloor.requiredFactors[0]",
                "spec.namespaces.selecter",
                "spec.userPools"
            ],
            "{:?}",
            problems(&bad)
        );
        let y = "apiVersion: cognitoidp.operators.dev/v1alpha1\nkind: UserPoolAccessPolicy\nmetadata: {name: p, namespace: x}\nspec: {userPools: [a]}\n";
        assert_eq!(fields(y), ["metadata.namespace"]);
    }

    #[test]
    fn documents_are_numbered_and_located() {
        let input = Input {
            file: "f.yaml".into(),
            text: "# head\na: 1\n---\n---\nb: 2\n".into(),
        };
        let docs = documents(&input).unwrap();
        assert_eq!(
            docs.iter().map(|d| (d.number, d.line)).collect::<Vec<_>>(),
            [(1, 2), (2, 5)]
        );
        let bad = Input {
            file: "bad.yaml".into(),
            text: "a: 1\n---\nb: [1\n".into(),
        };
        let e = documents(&bad).unwrap_err();
        assert_eq!(e.file, "bad.yaml");
        assert!(e.message.contains("line 3"), "{}", e.message);
    }

    #[test]
    fn misspellings_find_their_field() {
        let known: Vec<String> = ["enabled", "mfaConfiguration", "userPoolId"]
            .map(String::from)
            .into();
        assert_eq!(nearest("enable", known.iter()), Some("enabled"));
        assert_eq!(nearest("userpoolid", known.iter()), Some("userPoolId"));
        assert_eq!(nearest("colour", known.iter()), None);
    }
}
