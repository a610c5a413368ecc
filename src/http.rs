//! The HTTP server for probes and metrics: `/healthz`, `/readyz`, `/metrics`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use kube::runtime::reflector::Store;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::api::UserPoolMfaConfig;
use crate::metrics::Metrics;

/// What the probes report.
#[derive(Default)]
pub struct Health {
    /// The controller's watch has delivered its first complete list.
    pub synced: Arc<AtomicBool>,
    /// Not the leader: ready to take over, nothing to sync.
    pub standby: AtomicBool,
    /// The controller's cache, for the per-reason resource gauge.
    pub store: Arc<Mutex<Option<Store<UserPoolMfaConfig>>>>,
}

impl Health {
    fn ready(&self) -> bool {
        self.standby.load(Ordering::SeqCst) || self.synced.load(Ordering::SeqCst)
    }
}

/// A client must send its whole request header within this time (kubelet and Prometheus send
/// it at once); otherwise its connection would hold a file descriptor for as long as it likes.
/// It also ends keep-alive connections idle for longer.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Wait after the `failures`-th accept error in a row: 100 ms doubling to 1 s.
fn accept_backoff(failures: u32) -> Duration {
    (Duration::from_millis(100) * 2u32.pow(failures.min(4))).min(Duration::from_secs(1))
}

pub async fn serve(listener: TcpListener, health: Arc<Health>, metrics: Arc<Metrics>) {
    let mut failures = 0;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                if failures > 0 {
                    info!(failures, "accepting connections again");
                    failures = 0;
                }
                stream
            }
            // Out of file descriptors (EMFILE) or memory: the connection stays queued, so
            // accepting again at once would spin. Wait for connections to close instead.
            Err(e) => {
                if failures == 0 {
                    warn!(error = %e, "cannot accept connections: backing off");
                } else {
                    debug!(error = %e, failures, "still cannot accept connections");
                }
                tokio::time::sleep(accept_backoff(failures)).await;
                failures += 1;
                continue;
            }
        };
        let (health, metrics) = (health.clone(), metrics.clone());
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = route(req.uri().path(), &health, &metrics);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

fn route(path: &str, health: &Health, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, body, content_type) = match path {
        "/healthz" => (StatusCode::OK, "ok".to_owned(), "text/plain"),
        "/readyz" if health.ready() => (StatusCode::OK, "ready".to_owned(), "text/plain"),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the first watch sync".to_owned(),
            "text/plain",
        ),
        "/metrics" => {
            let objects = health
                .store
                .lock()
                .expect("store lock")
                .as_ref()
                .map(Store::state)
                .unwrap_or_default();
            let reasons = objects.iter().map(|o| {
                o.status
                    .as_ref()
                    .and_then(|s| s.ready())
                    .map_or("Pending", |c| c.reason.as_str())
            });
            // OpenMetrics text, which is what prometheus-client encodes (`# EOF`, `_total`).
            (
                StatusCode::OK,
                metrics.encode(reasons),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
        }
        _ => (StatusCode::NOT_FOUND, "not found".to_owned(), "text/plain"),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_from_100_ms_to_1_s() {
        let waits: Vec<u64> = (0..6)
            .map(|n| accept_backoff(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(accept_backoff(u32::MAX), Duration::from_secs(1));
    }
}
