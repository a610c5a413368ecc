//! The environment: a real Kubernetes API server and the Cognito emulator (from `tests/env/up`),
//! or any cluster given by `E2E_KUBECONFIG` plus a Cognito endpoint given by
//! `E2E_COGNITO_ENDPOINT`; kubectl and the kube client against it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use cognito_mfa_operator::api::{MfaSettings, UserPoolMfaConfig};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};

use crate::emulator::{EmulatorApi, random_suffix};
use crate::repo;

/// The shared environment of this test binary, started once.
pub struct Env {
    pub kubeconfig: PathBuf,
    /// The local environment's directory (operator kubeconfig, audit log); `None` on a cluster.
    pub dir: Option<PathBuf>,
    pub cognito: EmulatorApi,
    /// `tests/env/up`: it exits when its stdin closes with the test process, and takes
    /// commands there (`restart`, `revoke USER`, `grant USER`, `expire USER`, `rbac PATH`,
    /// `rbac off`), answering on its stdout.
    up: Option<Mutex<Up>>,
    /// Held while a test's RBAC is loaded (one test's at a time).
    rbac: Mutex<()>,
}

struct Up {
    _child: Child,
    stdin: ChildStdin,
    stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let env = match std::env::var("E2E_KUBECONFIG") {
            Ok(kubeconfig) => Env {
                kubeconfig: kubeconfig.into(),
                dir: None,
                cognito: EmulatorApi {
                    url: std::env::var("E2E_COGNITO_ENDPOINT").expect(
                    "E2E_COGNITO_ENDPOINT names the Cognito emulator when E2E_KUBECONFIG is set",
                ),
                },
                up: None,
                rbac: Mutex::new(()),
            },
            Err(_) => start_local(),
        };
        env.install_crds();
        env
    })
}

/// An API server and emulator of the test's own, for an operator that watches all namespaces
/// (it would act on every other test's resources in the shared environment). `None` on a
/// cluster given by `E2E_KUBECONFIG`, where such a test cannot run beside the others.
pub fn isolated_env() -> Option<Env> {
    if std::env::var("E2E_KUBECONFIG").is_ok() {
        eprintln!("skipped: an all-namespaces operator needs an API server of its own");
        return None;
    }
    let env = start_local();
    env.install_crds();
    Some(env)
}

fn start_local() -> Env {
    let mut child = Command::new(repo().join("tests/env/up"))
        .args(["--with-cognito", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tests/env/up starts the local API server and emulator");
    let stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut dir = None;
    for line in stdout.by_ref() {
        let line = line.unwrap();
        if let Some(d) = line.strip_prefix("READY ") {
            dir = Some(PathBuf::from(d.trim()));
            break;
        }
    }
    let dir = dir.expect("tests/env/up reported READY <dir>");
    let vars = read_env_file(&dir.join("env"));
    Env {
        kubeconfig: vars["KUBECONFIG"].clone().into(),
        dir: Some(dir),
        cognito: EmulatorApi {
            url: vars["COGNITO_EMULATOR_URL"].clone(),
        },
        up: Some(Mutex::new(Up {
            _child: child,
            stdin,
            stdout,
        })),
        rbac: Mutex::new(()),
    }
}

fn read_env_file(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.trim_matches(|c| c == '"' || c == '\'').to_owned(),
            )
        })
        .collect()
}

/// Output of a command.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(self) -> Self {
        assert!(
            self.status.success(),
            "command failed: {}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Env {
    /// Applies the project's CRDs (server-side) and waits until they are Established.
    pub fn install_crds(&self) {
        let crds = repo().join("crds");
        self.kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            crds.to_str().unwrap(),
        ])
        .success();
        self.kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/userpoolmfaconfigs.cognitoidp.operators.dev",
            "crd/userpoolaccesspolicies.cognitoidp.operators.dev",
        ])
        .success();
    }

    /// The operator's kubeconfig: its own identity locally, so the audit log tells it apart.
    /// Stops etcd and the API server and starts them again, as a control plane restart does
    /// (data kept, the API server's watch cache new); returns once they serve again.
    pub fn restart_control_plane(&self) {
        self.command("restart", "RESTARTED");
    }

    /// Takes every permission away from `user`, as deleting its ClusterRoleBinding does: the
    /// API server answers its new requests 403 (open watches go on until they end). Returns once
    /// that is in force.
    pub fn revoke(&self, user: &str) {
        self.command(&format!("revoke {user}"), &format!("REVOKED {user}"));
    }

    /// Gives `user` its permissions back; returns once that is in force.
    pub fn grant(&self, user: &str) {
        self.command(&format!("grant {user}"), &format!("GRANTED {user}"));
    }

    /// Makes the API server answer `user`'s next watch of `resource` (a plural) from a resource
    /// version 410 Gone, as when that version has been compacted away; returns once armed.
    pub fn expire_next_watch(&self, user: &str, resource: &str) {
        self.command(
            &format!("expire {user} {resource}"),
            &format!("EXPIRED {user} {resource}"),
        );
    }

    /// Puts RBAC objects (ClusterRoles, ClusterRoleBindings, Roles, RoleBindings) in force in the
    /// local API server, which then authorizes as kube-apiserver's RBAC does; members of
    /// system:masters (the tests' own identity and the operator's usual one) still may do
    /// everything, so other tests go on as before. One test's RBAC at a time: this waits until
    /// the RBAC another test loaded is removed. Returns once in force; the RBAC stays until the
    /// returned guard is dropped (also when the test fails).
    pub fn load_rbac(&self, objects: &[Value]) -> LoadedRbac<'_> {
        let lock = self.rbac.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = self.dir.as_ref().expect("a local environment");
        let path = dir.join(format!("rbac-{}.json", random_suffix()));
        let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
        std::fs::write(&path, list.to_string()).unwrap();
        let path = path.display();
        self.command(&format!("rbac {path}"), &format!("RBAC LOADED {path}"));
        LoadedRbac {
            env: self,
            _lock: lock,
        }
    }

    /// Sends a command line to `tests/env/up` and waits for its answer.
    fn command(&self, line: &str, answer: &str) {
        if let Err(e) = self.try_command(line, answer) {
            panic!("{e}");
        }
    }

    fn try_command(&self, line: &str, answer: &str) -> Result<(), String> {
        let mut up = self
            .up
            .as_ref()
            .expect("a local environment")
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        writeln!(up.stdin, "{line}").map_err(|e| format!("tests/env/up: {e}"))?;
        up.stdin.flush().map_err(|e| format!("tests/env/up: {e}"))?;
        for got in up.stdout.by_ref() {
            let got = got.map_err(|e| format!("tests/env/up: {e}"))?;
            if got == answer {
                return Ok(());
            }
            if got.starts_with("ERROR ") {
                return Err(format!("tests/env/up: {got}"));
            }
        }
        Err(format!("tests/env/up ended during `{line}`"))
    }

    /// The kubeconfig of the identity a token of the chart's ServiceAccount has (user
    /// `SERVICE_ACCOUNT_USER`, groups system:serviceaccounts and
    /// system:serviceaccounts:cognito-mfa-operator): not in system:masters, so the RBAC loaded
    /// with `load_rbac` decides what it may do (everything while none is).
    pub fn service_account_kubeconfig(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("a local environment")
            .join("serviceaccount.kubeconfig")
    }

    pub fn operator_kubeconfig(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.join("operator.kubeconfig"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| self.kubeconfig.clone())
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, "")
    }

    pub fn kubectl_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl is installed");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn client(&self) -> Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
        Client::try_from(config).unwrap()
    }

    /// The UserPoolMfaConfig API of `namespace`.
    pub async fn api(&self, namespace: &str) -> Api<UserPoolMfaConfig> {
        Api::namespaced(self.client().await, namespace)
    }

    /// A fresh namespace for one test, with a UserPoolAccessPolicy (named like it) that lets it
    /// use every pool with the operator's own credentials.
    pub fn namespace(&self, prefix: &str) -> String {
        let ns = self.bare_namespace(prefix);
        self.put_policy(
            &ns,
            json!({"namespaces": {"names": [ns]}, "userPools": ["*"]}),
        );
        ns
    }

    /// A fresh Namespace object that no policy names.
    pub fn bare_namespace(&self, prefix: &str) -> String {
        let ns = format!("{prefix}-{}", &random_suffix()[..8]);
        self.kubectl(&["create", "namespace", &ns]).success();
        ns
    }

    /// Creates or replaces the cluster-scoped UserPoolAccessPolicy `name`.
    pub fn put_policy(&self, name: &str, spec: Value) {
        let policy = json!({
            "apiVersion": "cognitoidp.operators.dev/v1alpha1",
            "kind": "UserPoolAccessPolicy",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.kubectl_with_input(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=e2e",
                "-f",
                "-",
            ],
            &policy.to_string(),
        )
        .success();
    }

    pub fn delete_policy(&self, name: &str) {
        self.kubectl(&["delete", "userpoolaccesspolicy", name, "--wait=false"])
            .success();
    }

    pub fn emulator(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.cognito.control(method, path, body)
    }

    pub fn create_pool(&self, id: &str) {
        self.cognito.create_pool_id(id, "ESSENTIALS", "DEVELOPER");
    }

    pub fn new_pool(&self) -> String {
        self.cognito
            .create_pool_with("us-east-1", "ESSENTIALS", "DEVELOPER")
    }

    pub fn calls(&self, pool: &str, operation: &str) -> u64 {
        self.cognito.calls(pool, operation)
    }

    pub fn fault(&self, pool: &str, operation: &str, error: &str) {
        self.cognito.fault(pool, operation, error, json!({}));
    }

    pub fn clear_faults(&self, pool: &str) {
        self.cognito.clear_pool_faults(pool);
    }

    /// The pool's MFA configuration held by the emulator, in the CRD's shape, normalised.
    pub fn pool_mfa(&self, pool: &str) -> MfaSettings {
        let held = camel_case(self.cognito.mfa(pool));
        cognito_mfa_operator::logic::drift::normalise(serde_json::from_value(held).unwrap())
    }

    pub fn put_pool_mfa(&self, pool: &str, config: Value) {
        self.cognito.put_mfa(pool, config);
    }
}

/// AWS's PascalCase keys to the CRD's camelCase.
fn camel_case(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = chars
                        .next()
                        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
                        .unwrap_or_default();
                    (key, camel_case(v))
                })
                .collect(),
        ),
        other => other,
    }
}

/// RBAC loaded by [`Env::load_rbac`]; dropping it removes the RBAC again (everything is allowed
/// once more), and returns once that is in force.
pub struct LoadedRbac<'a> {
    env: &'a Env,
    _lock: MutexGuard<'a, ()>,
}

impl Drop for LoadedRbac<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.env.try_command("rbac off", "RBAC OFF") {
            // Not a second panic while a failing test unwinds.
            if std::thread::panicking() {
                eprintln!("removing the RBAC: {e}");
            } else {
                panic!("removing the RBAC: {e}");
            }
        }
    }
}
