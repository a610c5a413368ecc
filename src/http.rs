//! The HTTP server for probes and metrics: `/healthz`, `/readyz`, `/metrics`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::api::UserPoolMfaConfig;
use crate::logic::shard::Shard;
use crate::logic::watch::{Change, WatchState};
use crate::metrics::{Metrics, Reported, ResourceState};

/// What the probes report.
#[derive(Default)]
pub struct Health {
    /// The controller's watch has delivered its first complete list.
    pub synced: AtomicBool,
    /// The controller's cache, for the per-reason resource gauge.
    pub store: Mutex<Option<Store<UserPoolMfaConfig>>>,
    /// The controller's watches by resource kind. One that keeps failing (CRD removed, RBAC
    /// revoked, API server gone) leaves the cache stale: the replica is not ready meanwhile.
    watches: Mutex<BTreeMap<&'static str, WatchState>>,
    /// The resources `/metrics` reports: this deployment's own.
    shard: Shard,
}

impl Health {
    pub fn of_shard(shard: Shard) -> Self {
        Self {
            shard,
            ..Self::default()
        }
    }

    /// Why the replica is not ready, if it is not.
    fn not_ready(&self) -> Option<String> {
        // Leader or standby alike: both watch, and a standby's cache is what it takes over with.
        // A failing watch first: it may be what keeps the first sync from completing (the
        // access policies are listed before the resources).
        let watches = self.watches.lock().expect("watches lock");
        let failing: Vec<&str> = watches
            .iter()
            .filter(|(_, w)| w.failing())
            .map(|(resource, _)| *resource)
            .collect();
        if !failing.is_empty() {
            return Some(format!("watch failing: {}", failing.join(", ")));
        }
        (!self.synced.load(Ordering::SeqCst)).then(|| "waiting for the first watch sync".into())
    }

    /// Records what the watch of `resource` delivered (see `WatchState::record`).
    pub fn watched(&self, resource: &'static str, delivered: bool) -> Option<Change> {
        let mut watches = self.watches.lock().expect("watches lock");
        watches.entry(resource).or_default().record(delivered)
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

/// A resource of the watch cache, as `/metrics` reports it.
#[derive(Debug)]
struct Cached(Arc<UserPoolMfaConfig>);

impl Reported for Cached {
    fn state(&self) -> ResourceState<'_> {
        let o = &self.0;
        let ready = o.status.as_ref().and_then(|s| s.ready());
        ResourceState {
            namespace: o.metadata.namespace.as_deref().unwrap_or_default(),
            name: o.metadata.name.as_deref().unwrap_or_default(),
            user_pool_id: &o.spec.user_pool_id,
            reason: ready.map_or("Pending", |c| c.reason.as_str()),
            ready: ready.is_some_and(|c| c.status == "True"),
        }
    }
}

fn route(path: &str, health: &Health, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, body, content_type) = match path {
        "/healthz" => (StatusCode::OK, "ok".to_owned(), "text/plain"),
        "/readyz" => match health.not_ready() {
            None => (StatusCode::OK, "ready".to_owned(), "text/plain"),
            Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why, "text/plain"),
        },
        "/metrics" => {
            let resources: Vec<_> = health
                .store
                .lock()
                .expect("store lock")
                .as_ref()
                .map(Store::state)
                .unwrap_or_default()
                .into_iter()
                .filter(|o| health.shard.contains(o.labels()))
                .map(Cached)
                .collect();
            // OpenMetrics text, which is what prometheus-client encodes (`# EOF`, `_total`).
            (
                StatusCode::OK,
                metrics.encode(resources),
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
