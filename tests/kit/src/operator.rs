//! The operator binary run as a child process against an environment, and its HTTP server.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::env::{Env, env};
use crate::wait::wait_until;

/// The operator binary cargo built beside the running test or benchmark: they live in
/// `target/<profile>/deps/`, the binary in `target/<profile>/` (cargo builds a package's binaries
/// for its integration tests and benchmarks).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("cognito-mfa-operator"))
        .unwrap();
    assert!(
        path.exists(),
        "the operator binary {} is built (run through cargo test or cargo bench)",
        path.display()
    );
    path
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
    /// Runs it as the chart's ServiceAccount (`Env::service_account_kubeconfig`), under the RBAC
    /// loaded, instead of its usual identity (`OPERATOR_USER`, in system:masters).
    pub service_account: bool,
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
            service_account: false,
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
        let kubeconfig = if o.service_account {
            env.service_account_kubeconfig()
        } else {
            env.operator_kubeconfig()
        };
        let mut cmd = Command::new(binary());
        cmd.arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KUBECONFIG", kubeconfig)
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
        // Dies with the thread that started it, should the test process be killed before its
        // Drop runs (a test's operator lives no longer than the test's thread).
        // SAFETY: prctl is async-signal-safe and touches no memory of this process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
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
