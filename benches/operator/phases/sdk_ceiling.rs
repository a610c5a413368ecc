//! Step 1/9 of the run (table section 1, ceilings): raw SDK throughput against the emulator,
//! Set and Get, sequential and `--ceiling-concurrency` in flight, `--ceiling-calls` calls each.
//! The concurrent Set rate is the ceiling the operator's convergence is compared with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use futures::{StreamExt, stream};

use cognito_mfa_operator::cognito::{Caller, Cognito};

use crate::environment::emulator::create_pools;
use crate::environment::resources::desired;
use crate::options::Opts;
use crate::stats::Samples;
use test_kit::Env;
use test_kit::procfs::{CpuDelta, cpu_snapshot};

/// One measurement: `calls` of `operation`, `concurrency` in flight.
pub struct CallRate {
    /// "Set" or "Get".
    pub operation: &'static str,
    pub calls: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub calls_per_second: f64,
    pub latency_ms: Samples,
    pub cpu: CpuDelta,
}

pub struct SdkCeiling {
    /// In the order measured: Set sequential, Set concurrent, Get sequential, Get concurrent.
    pub runs: Vec<CallRate>,
}

impl SdkCeiling {
    /// The concurrent Set rate (0 without a concurrent measurement).
    pub fn set_concurrent(&self) -> f64 {
        self.runs
            .iter()
            .rfind(|r| r.operation == "Set" && r.concurrency > 1)
            .map_or(0.0, |r| r.calls_per_second)
    }
}

pub async fn run(env: &Env, o: &Opts) -> SdkCeiling {
    eprintln!("bench: [1/9] ceiling: raw SDK calls against the emulator");
    let pools = Arc::new(create_pools(env, 64));
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&env.cognito.url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"));
    let cognito = Arc::new(Cognito::from_loader(loader, Duration::from_secs(10)).await);
    // warm-up: connections, credentials, the emulator's first-call paths
    for pool in pools.iter().take(16) {
        cognito
            .set(pool, &Caller::Operator, &desired())
            .await
            .expect("warm-up Set");
        cognito
            .get(pool, &Caller::Operator)
            .await
            .expect("warm-up Get");
    }
    let mut runs = vec![];
    for op in ["Set", "Get"] {
        for concurrency in [1, o.ceiling_concurrency] {
            let before = cpu_snapshot(None);
            let start = Instant::now();
            let latencies: Vec<f64> = stream::iter(0..o.ceiling_calls)
                .map(|i| {
                    let (cognito, pools) = (cognito.clone(), pools.clone());
                    async move {
                        let pool = &pools[i % pools.len()];
                        let t = Instant::now();
                        match op {
                            "Set" => cognito
                                .set(pool, &Caller::Operator, &desired())
                                .await
                                .map(drop),
                            _ => cognito.get(pool, &Caller::Operator).await.map(drop),
                        }
                        .unwrap_or_else(|e| panic!("ceiling {op} on {pool}: {e}"));
                        t.elapsed().as_secs_f64() * 1000.0
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let elapsed = start.elapsed().as_secs_f64();
            let cpu = CpuDelta::between(&before, &cpu_snapshot(None));
            runs.push(CallRate {
                operation: op,
                calls: o.ceiling_calls,
                concurrency,
                seconds: elapsed,
                calls_per_second: o.ceiling_calls as f64 / elapsed,
                latency_ms: Samples::new(latencies),
                cpu,
            });
        }
    }
    SdkCeiling { runs }
}
