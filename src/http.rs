//! The HTTP server for probes and metrics: `/healthz`, `/readyz`, `/metrics`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use kube::runtime::reflector::Store;
use tokio::net::TcpListener;
use tracing::debug;

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

pub async fn serve(listener: TcpListener, health: Arc<Health>, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (health, metrics) = (health.clone(), metrics.clone());
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = route(req.uri().path(), &health, &metrics);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
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
