//! A TCP proxy between one operator and the API server, which a test can cut.

use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::config::Kubeconfig;

use crate::emulator::random_suffix;
use crate::env::Env;

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
            let server: http::Uri = cluster.server.as_deref().unwrap().parse().unwrap();
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
        let path =
            std::env::temp_dir().join(format!("proxied-{}.kubeconfig", &random_suffix()[..8]));
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
