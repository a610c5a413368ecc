//! Assembles the running operator: clients, HTTP server, leader election, signals.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::cognito::Cognito;
use crate::controller::{self, Settings, Watched};
use crate::error::{Error, Result};
use crate::http::{self, Health};
use crate::leader::{Elector, Leadership};
use crate::metrics::Metrics;

pub async fn run(args: RunArgs) -> Result<()> {
    let client = Client::try_default().await.map_err(Error::Client)?;
    let cognito = Arc::new(Cognito::from_env(args.cognito_timeout).await);
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::of_shard(args.shard_selector.clone()));

    let listener = TcpListener::bind(args.listen_address).await?;
    info!(address = %listener.local_addr()?, "serving /healthz, /readyz and /metrics");
    tokio::spawn(http::serve(listener, health.clone(), metrics.clone()));

    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });

    let settings = Settings {
        namespace: args.namespace(),
        shard: args.shard_selector.clone(),
        resync: args.resync_interval,
        concurrency: args.max_concurrent_reconciles,
        instance: args.identity(),
        read_rps: args.read_rps,
        write_rps: args.write_rps,
        burst: args.burst,
        enforce_access_policies: args.enforce_access_policies,
        leadership: Leadership::unconditional(),
    };
    // Watched from the start, leading or not: a standby's cache is current when it takes over.
    let watched = tokio::select! {
        watched = Watched::start(&client, &settings, health.clone(), metrics.clone()) => watched,
        _ = flag_set(stop.clone(), true) => {
            info!("stopped");
            return Ok(());
        }
    };
    // A run ends on SIGTERM/SIGINT, in-flight reconciles finishing first (up to the timeout).
    let start = |leadership: Leadership| {
        let run = controller::run(
            &watched,
            client.clone(),
            cognito.clone(),
            metrics.clone(),
            Settings {
                leadership,
                ..settings.clone()
            },
            flag_set(stop.clone(), true),
        );
        with_deadline(run, stop.clone(), args.shutdown_timeout)
    };

    if !args.leader_election {
        metrics.leader.set(1);
        start(Leadership::unconditional()).await;
        info!("stopped");
        return Ok(());
    }

    let timing = args
        .lease_timing()
        .expect("the lease timing is checked at start-up");
    info!(
        lease = %args.lease_name,
        duration = ?timing.duration,
        renew_deadline = ?timing.renew_deadline,
        retry_period = ?timing.retry_period,
        "leader election on"
    );
    let mut elector = Elector::new(
        client.clone(),
        &args.lease_namespace,
        &args.lease_name,
        settings.instance.clone(),
        controller::MANAGER,
        timing,
    );
    let mut stopping = stop.clone();
    loop {
        let term = tokio::select! {
            term = elector.acquire() => term,
            _ = stopping.wait_for(|s| *s) => break,
        };
        info!(lease = %args.lease_name, "became leader: reconciling");
        metrics.leader.set(1);
        // The moment the term ends the run is dropped, cutting in-flight reconciles: the old
        // cache must not drive a write once another replica may lead. (Each Cognito write also
        // checks the term itself, in case this task is late.)
        let lost = tokio::select! {
            _ = start(term.leadership()) => None,
            lost = elector.keep(&term) => Some(lost),
        };
        term.end();
        metrics.leader.set(0);
        match lost {
            None => break,
            Some(why) => warn!(
                lease = %args.lease_name,
                reason = %why,
                "lost leadership: in-flight reconciles cut, standing by"
            ),
        }
    }
    // Frees the Lease for a quick hand-over.
    match tokio::time::timeout(Duration::from_secs(5), elector.release()).await {
        Ok(Err(e)) => warn!(error = %e, "could not release the lease"),
        Err(_) => warn!("timed out releasing the lease"),
        _ => {}
    }
    info!("stopped");
    Ok(())
}

/// Completes once the flag holds `value` (or its sender is gone).
async fn flag_set(mut flag: watch::Receiver<bool>, value: bool) {
    let _ = flag.wait_for(|v| *v == value).await;
}

/// Runs `work`; once `stop` is set, gives it `deadline` to finish before cutting it.
async fn with_deadline(
    work: impl std::future::Future<Output = ()>,
    stop: watch::Receiver<bool>,
    deadline: Duration,
) {
    tokio::pin!(work);
    tokio::select! {
        _ = &mut work => return,
        _ = flag_set(stop, true) => {}
    }
    if tokio::time::timeout(deadline, work).await.is_err() {
        warn!(
            ?deadline,
            "in-flight reconciles did not finish in time: cut"
        );
    }
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
    }
}
