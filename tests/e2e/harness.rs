//! The end-to-end environment: a real Kubernetes API server and the Cognito emulator (from
//! `tests/env/up`), or any cluster given by `E2E_KUBECONFIG` plus a Cognito endpoint given by
//! `E2E_COGNITO_ENDPOINT`; and the operator binary run as a child process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cognito_mfa_operator::api::{MfaSettings, UserPoolMfaConfig};
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};

use crate::support::{self, EmulatorApi, repo};

/// The shared environment of this test binary, started once.
pub struct Env {
    pub kubeconfig: PathBuf,
    /// The local environment's directory (operator kubeconfig, audit log); `None` on a cluster.
    pub dir: Option<PathBuf>,
    pub cognito: EmulatorApi,
    /// `tests/env/up`: it exits when its stdin closes with the test process, and takes
    /// commands there (`restart`), answering on its stdout.
    up: Option<Mutex<Up>>,
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
    fn install_crds(&self) {
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
        let mut up = self
            .up
            .as_ref()
            .expect("a local environment")
            .lock()
            .unwrap();
        writeln!(up.stdin, "restart").unwrap();
        up.stdin.flush().unwrap();
        for line in up.stdout.by_ref() {
            if line.unwrap() == "RESTARTED" {
                return;
            }
        }
        panic!("tests/env/up ended while restarting");
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
        let ns = format!("{prefix}-{}", &support::random_suffix()[..8]);
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

/// The operator binary, run against the environment.
pub struct Operator {
    child: Option<Child>,
    pub metrics_url: String,
}

pub struct OperatorOptions<'a> {
    pub namespace: &'a str,
    pub resync: &'a str,
    pub leader_election: bool,
    pub identity: &'a str,
    pub extra_env: Vec<(&'a str, String)>,
    /// Where the operator's log goes (default: the test's stderr).
    pub log_file: Option<PathBuf>,
}

impl<'a> OperatorOptions<'a> {
    pub fn new(namespace: &'a str) -> Self {
        Self {
            namespace,
            resync: "2s",
            leader_election: false,
            identity: "operator-a",
            extra_env: vec![],
            log_file: None,
        }
    }
}

impl Operator {
    pub fn start(namespace: &str) -> Self {
        Self::start_with(OperatorOptions::new(namespace))
    }

    pub fn start_with(o: OperatorOptions) -> Self {
        Self::start_in(env(), o)
    }

    /// The operator against `env` (see `isolated_env`).
    pub fn start_in(env: &Env, o: OperatorOptions) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognito-mfa-operator"));
        cmd.arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KUBECONFIG", env.operator_kubeconfig())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("WATCH_NAMESPACE", o.namespace)
            .env("RESYNC_INTERVAL", o.resync)
            .env("LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
            .env("LOG_LEVEL", "info,kube_client=error")
            .env("POD_NAME", o.identity)
            .env("LEADER_ELECTION", o.leader_election.to_string())
            .env("LEASE_NAMESPACE", o.namespace)
            .env("LEASE_DURATION", "4s")
            .env("COGNITO_TIMEOUT", "3s")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit());
        match &o.log_file {
            Some(path) => cmd.stderr(std::fs::File::create(path).unwrap()),
            None => cmd.stderr(Stdio::inherit()),
        };
        // The service-specific endpoint overrides (Cognito, and STS for assumed roles), unless
        // the test sets the generic one.
        if !o.extra_env.iter().any(|(k, _)| *k == "AWS_ENDPOINT_URL") {
            cmd.env(
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                &env.cognito.url,
            )
            .env("AWS_ENDPOINT_URL_STS", &env.cognito.url);
        }
        for (k, v) in o.extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the operator binary starts");
        Self {
            child: Some(child),
            metrics_url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.metrics_url, path)
    }

    /// Sum of a metric's samples whose label text contains `filter`.
    pub fn metric(&self, name: &str, filter: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics") else {
            return 0.0;
        };
        body.lines()
            .filter(|l| l.starts_with(name) && l.contains(filter))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn wait_ready(&self) {
        wait_until(Duration::from_secs(30), "the operator to be ready", || {
            self.get("/readyz").is_some_and(|(s, _)| s == 200)
        });
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
    }

    /// Waits for the process to exit; `None` when it did not within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET path` on the operator's HTTP server at `base`: the status and body, or `None` when it
/// does not answer.
pub fn http_get(base: &str, path: &str) -> Option<(u16, String)> {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

pub async fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The spec most tests use: TOTP required on `pool`.
pub fn totp_on(pool: &str) -> Value {
    json!({"userPoolId": pool, "mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}})
}

/// A resource from YAML, in `namespace`.
pub fn resource(namespace: &str, name: &str, spec: Value) -> UserPoolMfaConfig {
    serde_json::from_value(json!({
        "apiVersion": "cognitoidp.operators.dev/v1alpha1",
        "kind": "UserPoolMfaConfig",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
    .unwrap()
}

pub async fn create(api: &Api<UserPoolMfaConfig>, obj: &UserPoolMfaConfig) -> UserPoolMfaConfig {
    api.create(&PostParams::default(), obj).await.unwrap()
}

pub async fn delete(api: &Api<UserPoolMfaConfig>, name: &str) {
    let _ = api.delete(name, &DeleteParams::default()).await.unwrap();
}

/// The `Ready` condition's (status, reason) once it is at the current generation.
pub async fn ready_at_generation(
    api: &Api<UserPoolMfaConfig>,
    name: &str,
) -> Option<(String, String, String)> {
    let obj = api.get_opt(name).await.ok()??;
    let status = obj.status.as_ref()?;
    let ready = status.ready()?;
    (status.observed_generation == obj.metadata.generation).then(|| {
        (
            ready.status.clone(),
            ready.reason.clone(),
            ready.message.clone(),
        )
    })
}

/// Merges `spec` into `name`'s spec (a new generation) and waits until that generation is
/// synced.
pub async fn change_spec_and_wait_synced(api: &Api<UserPoolMfaConfig>, name: &str, spec: Value) {
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({ "spec": spec })),
    )
    .await
    .unwrap();
    wait_for(
        Duration::from_secs(30),
        "the new generation to sync",
        async || {
            ready_at_generation(api, name)
                .await
                .filter(|(status, reason, _)| status == "True" && reason == "Synced")
        },
    )
    .await;
}

/// Creates a new pool and a TOTP-required resource `name` for it, and waits until it is synced.
pub async fn synced_totp(api: &Api<UserPoolMfaConfig>, namespace: &str, name: &str) -> String {
    let pool = env().new_pool();
    create(api, &resource(namespace, name, totp_on(&pool))).await;
    wait_reason(api, name, "Synced", Duration::from_secs(30)).await;
    pool
}

/// Waits for `Ready` with this reason at the current generation; returns the message.
pub async fn wait_reason(
    api: &Api<UserPoolMfaConfig>,
    name: &str,
    reason: &str,
    timeout: Duration,
) -> String {
    wait_for(timeout, &format!("{name} to report {reason}"), async || {
        ready_at_generation(api, name)
            .await
            .filter(|r| r.1 == reason)
            .map(|r| r.2)
    })
    .await
}

/// A TCP proxy between one operator and the API server. Severing it cuts that operator off the
/// API server (open connections closed, new ones refused) while it still reaches Cognito and
/// everything else still reaches the API server. TLS passes through unchanged.
pub struct Proxy {
    /// A copy of the operator kubeconfig whose server is the proxy.
    pub kubeconfig: PathBuf,
    severed: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    /// While set, new connections are closed at once, as by a server that is restarting.
    down: Arc<AtomicBool>,
    accepting: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to the server of `env`'s operator kubeconfig.
    pub fn to_api_server(env: &Env) -> Self {
        let mut kubeconfig = Kubeconfig::read_from(env.operator_kubeconfig()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut upstream = None;
        for named in &mut kubeconfig.clusters {
            let cluster = named.cluster.as_mut().expect("a cluster entry");
            let server: hyper::Uri = cluster.server.as_deref().unwrap().parse().unwrap();
            let host = server.host().unwrap().trim_matches(['[', ']']).to_owned();
            let server_port = server.port_u16().unwrap_or(443);
            upstream = (host.as_str(), server_port)
                .to_socket_addrs()
                .unwrap()
                .next();
            // The certificate names the server, not the proxy's address.
            if host.parse::<std::net::IpAddr>().is_err() && cluster.tls_server_name.is_none() {
                cluster.tls_server_name = Some(host.clone());
            }
            cluster.server = Some(format!("https://127.0.0.1:{port}"));
        }
        let upstream = upstream.expect("the kubeconfig names a server");
        let path = std::env::temp_dir().join(format!(
            "proxied-{}.kubeconfig",
            &support::random_suffix()[..8]
        ));
        // JSON is YAML: kubeconfig readers take it.
        std::fs::write(&path, serde_json::to_string(&kubeconfig).unwrap()).unwrap();

        let severed = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let down = Arc::new(AtomicBool::new(false));
        let accepting = {
            let (severed, open, down) = (severed.clone(), open.clone(), down.clone());
            std::thread::spawn(move || {
                listener.set_nonblocking(true).unwrap();
                while !severed.load(Ordering::SeqCst) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    // Held from the check to the registration, so `outage` closes it too.
                    let mut open = open.lock().unwrap();
                    if down.load(Ordering::SeqCst) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    client.set_nonblocking(false).unwrap();
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    for (from, to) in [(&client, &server), (&server, &client)] {
                        let (mut from, mut to) =
                            (from.try_clone().unwrap(), to.try_clone().unwrap());
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(Shutdown::Write);
                        });
                    }
                    open.extend([client, server]);
                }
                // The listener goes with this thread: new connections are refused.
            })
        };
        Self {
            kubeconfig: path,
            severed,
            open,
            down,
            accepting: Some(accepting),
        }
    }

    /// Closes every connection through the proxy and every new one until `restore`.
    pub fn outage(&self) {
        let mut open = self.open.lock().unwrap();
        self.down.store(true, Ordering::SeqCst);
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Closes every connection through the proxy and refuses new ones, for good.
    pub fn sever(&mut self) {
        self.severed.store(true, Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            accepting.join().unwrap();
        }
        self.outage();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.sever();
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// Requests the operator made to the API server about one object, from the local environment's
/// audit log: (verb, resource with its subresource) pairs, e.g. ("patch",
/// "userpoolmfaconfigs/status"), in order. Counts requests, not changes: a status apply that
/// changes nothing still shows. `None` on a cluster (no audit log).
pub fn operator_requests(namespace: &str, name: Option<&str>) -> Option<Vec<(String, String)>> {
    let dir = env().dir.as_ref()?;
    let log = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    Some(
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            // Each request is logged at each stage it reaches; count it once.
            .filter(|e| e["stage"] == "ResponseComplete")
            .filter(|e| {
                e["user"]["username"] == "cognito-mfa-operator"
                    && e["objectRef"]["namespace"] == namespace
                    && name.is_none_or(|n| e["objectRef"]["name"] == n)
            })
            .map(|e| {
                let r = &e["objectRef"];
                let resource = match r["subresource"].as_str() {
                    Some(sub) => format!("{}/{sub}", r["resource"].as_str().unwrap_or_default()),
                    None => r["resource"].as_str().unwrap_or_default().to_owned(),
                };
                (e["verb"].as_str().unwrap_or_default().to_owned(), resource)
            })
            .collect(),
    )
}

/// The operator's status writes and event writes (creates and patches) in `namespace`.
pub fn status_and_event_writes(namespace: &str, name: &str) -> Option<(usize, usize)> {
    let all = operator_requests(namespace, None)?;
    let status = operator_requests(namespace, Some(name))?
        .iter()
        .filter(|(verb, resource)| verb == "patch" && resource == "userpoolmfaconfigs/status")
        .count();
    let events = all
        .iter()
        .filter(|(verb, resource)| (verb == "create" || verb == "patch") && resource == "events")
        .count();
    Some((status, events))
}
