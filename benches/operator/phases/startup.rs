//! Step 3/9 (table section 5, footprint): process start -> first reconcile
//! (`cognito_mfa_reconciles_total` > 0 on `/metrics`, polled every 5 ms) with one resource
//! present before the start; and the RSS with that one resource.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, PostParams};

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::environment::emulator::create_pools;
use crate::environment::resources::spec;
use crate::environment::{blocking, operator};
use crate::options::Opts;
use crate::stats::Samples;
use test_kit::procfs::Rss;
use test_kit::{Env, Operator, resource};

/// How often `/metrics` is polled for the first reconcile.
pub const POLL_INTERVAL_MS: u64 = 5;

pub struct Startup {
    /// Start -> first reconcile of each operator started, ms.
    pub samples_ms: Samples,
    /// The last operator's RSS with its one resource, once its pass was done.
    pub rss_one_resource: Rss,
}

pub async fn run(env: &Env, client: &Client, o: &Opts) -> Startup {
    eprintln!(
        "bench: [3/9] start-up: {} operator starts -> first reconcile",
        o.startup_samples
    );
    let mut samples = vec![];
    let mut rss_one_resource = None;
    for _ in 0..o.startup_samples {
        let ns = env.namespace("bench-startup");
        let pool = create_pools(env, 1).remove(0);
        let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
        api.create(
            &PostParams::default(),
            &resource(&ns, "startup", spec(&pool)),
        )
        .await
        .expect("create the start-up resource");
        let opts = operator::options(o, &ns, o.idle_resync, &[]);
        let (took, rss) = blocking(|| {
            let start = Instant::now();
            let op = Operator::start_with(opts);
            let took = loop {
                if op.metric("cognito_mfa_reconciles_total", "") > 0.0 {
                    break start.elapsed();
                }
                if start.elapsed() > Duration::from_secs(60) {
                    panic!("start-up: no reconcile within 60 s");
                }
                std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
            };
            // the footprint with one resource, once its pass (status write, event) is done
            std::thread::sleep(Duration::from_millis(500));
            (took, Rss::of(op.pid()))
        });
        samples.push(took.as_secs_f64() * 1000.0);
        rss_one_resource = Some(rss);
    }
    Startup {
        samples_ms: Samples::new(samples),
        rss_one_resource: rss_one_resource.expect("--startup-samples is positive"),
    }
}
