//! Step 2/9 (table section 4): single create -> Ready at its generation, sequential, on an idle
//! operator.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, PostParams};

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::environment::emulator::create_pools;
use crate::environment::operator;
use crate::environment::resources::{names, spec};
use crate::options::Opts;
use crate::stats::Samples;
use test_kit::watch::Tracker;
use test_kit::{Env, resource};

pub struct Latency {
    pub namespace: String,
    /// Create -> Ready of each resource, ms.
    pub samples_ms: Samples,
}

pub async fn run(env: &Env, client: &Client, o: &Opts) -> Latency {
    eprintln!(
        "bench: [2/9] latency: {} sequential creates -> Ready",
        o.latency_samples
    );
    let ns = env.namespace("bench-latency");
    let pools = create_pools(env, o.latency_samples);
    let names = names("latency", o.latency_samples);
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let _op = operator::start(o, &ns, o.idle_resync, &[]);
    let tracker = Tracker::start(api.clone()).await;
    let mut samples = vec![];
    for (name, pool) in names.iter().zip(&pools) {
        // let the previous pass (its status write and event) finish: an idle operator
        tokio::time::sleep(Duration::from_millis(100)).await;
        let start = Instant::now();
        api.create(&PostParams::default(), &resource(&ns, name, spec(pool)))
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        let ready = loop {
            if let Some((at, _)) = tracker.track(name).and_then(|t| t.ready) {
                break at;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("latency: {name} not Ready after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        samples.push(ready.duration_since(start).as_secs_f64() * 1000.0);
    }
    Latency {
        namespace: ns,
        samples_ms: Samples::new(samples),
    }
}
