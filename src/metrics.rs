//! Prometheus metrics, served at `/metrics`.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The `Ready` reason the pass ended with (`Synced`, `TooManyRequests`, ...), or the failed
    /// Kubernetes step (`KubeFinalizerError`, `KubeStatusError`, `KubeEventError`).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    /// The kind watched: `UserPoolMfaConfig`, `UserPoolAccessPolicy` or `Namespace`.
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub operation: String,
    /// `success` or the condition reason of the failure.
    pub outcome: String,
    /// The pool's region (from its ID).
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WaitLabels {
    pub operation: String,
    /// The namespace of the resource the call is for.
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    /// The AWS account, or `operator` for the operator's own credentials.
    pub account: String,
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabels {
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// What `/metrics` reports of one resource in the watch cache.
#[derive(Debug, Clone, Copy)]
pub struct ResourceState<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub user_pool_id: &'a str,
    /// The `Ready` reason (`Pending` before the first pass).
    pub reason: &'a str,
    pub ready: bool,
}

/// A resource as one scrape reports it.
pub trait Reported: std::fmt::Debug + Send + Sync + 'static {
    fn state(&self) -> ResourceState<'_>;
}

impl Reported for ResourceState<'static> {
    fn state(&self) -> ResourceState<'_> {
        *self
    }
}

/// `resource_ready`, one series per resource, encoded from the scrape's own snapshot of the
/// watch cache. A family would copy four labels of every resource at each scrape (and keep the
/// table's room between scrapes).
#[derive(Debug)]
struct ResourceReady<R>(Vec<R>);

impl<R: Reported> EncodeMetric for ResourceReady<R> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for r in &self.0 {
            let s = r.state();
            let labels = [
                ("namespace", s.namespace),
                ("name", s.name),
                ("user_pool_id", s.user_pool_id),
                ("reason", s.reason),
            ];
            ConstGauge::new(i64::from(s.ready)).encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// A family that is described (HELP, TYPE) before its first sample. prometheus-client leaves
/// empty families out of the exposition, but every documented metric should be there from the
/// start, for dashboards, alerts and `absent()`.
#[derive(Debug)]
struct Described<M>(M);

impl<M: EncodeMetric> EncodeMetric for Described<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ResultLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub cognito_calls: Family<CallLabels, Counter>,
    pub drift_detections: Counter,
    /// Time spent waiting for the client-side rate limiter, by operation and namespace.
    pub limiter_wait: Family<WaitLabels, Histogram, fn() -> Histogram>,
    /// Passes that stepped aside because their namespace's share of a budget was taken.
    pub limiter_deferrals: Family<NamespaceLabels, Counter>,
    /// 1 while this replica reconciles (it holds the Lease, or leader election is off).
    pub leader: Gauge,
    /// The resync period each read budget allows its resources (`crate::logic::resync`).
    pub resync_period: Family<BudgetLabels, Gauge<f64, AtomicU64>>,
    /// Recomputed from the watch cache at every scrape.
    pub resources: Family<ReasonLabels, Gauge>,
    pub watch_errors: Family<ResourceLabels, Counter>,
    /// Resources whose status write failed `plan::STATUS_FAILURES_WARNED` times in a row.
    pub status_write_warnings: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("cognito_mfa");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let cognito_calls = Family::<CallLabels, Counter>::default();
        let drift_detections = Counter::default();
        let resources = Family::<ReasonLabels, Gauge>::default();
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        let leader = Gauge::default();
        let resync_period = Family::<BudgetLabels, Gauge<f64, AtomicU64>>::default();
        let limiter_wait: Family<WaitLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 4.0, 10)));
        let limiter_deferrals = Family::<NamespaceLabels, Counter>::default();
        let watch_errors = Family::<ResourceLabels, Counter>::default();
        let status_write_warnings = Counter::default();
        registry.register(
            "rate_limiter_wait_seconds",
            "Time Cognito calls waited for the client-side rate limiter, by operation and namespace",
            Described(limiter_wait.clone()),
        );
        registry.register(
            "rate_limiter_deferrals",
            "Passes requeued because their namespace already had its share of a Cognito budget waiting",
            Described(limiter_deferrals.clone()),
        );
        registry.register(
            "reconciles",
            "Reconcile passes by result",
            Described(reconciles.clone()),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconcile passes",
            reconcile_duration.clone(),
        );
        registry.register(
            "cognito_calls",
            "Cognito API calls by operation and outcome",
            Described(cognito_calls.clone()),
        );
        registry.register(
            "drift_detections",
            "Times a pool was found to differ from its spec",
            drift_detections.clone(),
        );
        registry.register("leader", "1 while this replica reconciles", leader.clone());
        registry.register(
            "resync_period_seconds",
            "How often each pool of a read budget is read back: the resync interval, or longer when the budget cannot keep up",
            Described(resync_period.clone()),
        );
        registry.register(
            "resources",
            "UserPoolMfaConfig resources by Ready reason",
            Described(resources.clone()),
        );
        registry.register(
            "build_info",
            "Always 1; the operator's version as a label",
            build_info,
        );
        registry.register(
            "watch_errors",
            "Errors of the operator's watches by resource kind (each is retried with backoff)",
            Described(watch_errors.clone()),
        );
        registry.register(
            "status_write_warnings",
            "Times a resource's status write failed 3 times in a row (each also a StatusWriteFailed event)",
            status_write_warnings.clone(),
        );
        Self {
            limiter_wait,
            limiter_deferrals,
            registry,
            reconciles,
            reconcile_duration,
            cognito_calls,
            drift_detections,
            leader,
            resync_period,
            resources,
            watch_errors,
            status_write_warnings,
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, result: &str, took: Duration) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    pub fn waited(&self, operation: &str, namespace: &str, waited: Duration) {
        self.limiter_wait
            .get_or_create(&WaitLabels {
                operation: operation.to_owned(),
                namespace: namespace.to_owned(),
            })
            .observe(waited.as_secs_f64());
    }

    /// A budget's resync period; its series goes with its last resource.
    pub fn resync_period(&self, account: &str, region: &str, resources: usize, period: Duration) {
        let labels = BudgetLabels {
            account: account.to_owned(),
            region: region.to_owned(),
        };
        if resources == 0 {
            self.resync_period.remove(&labels);
        } else {
            self.resync_period
                .get_or_create(&labels)
                .set(period.as_secs_f64());
        }
    }

    pub fn deferred(&self, namespace: &str) {
        self.limiter_deferrals
            .get_or_create(&NamespaceLabels {
                namespace: namespace.to_owned(),
            })
            .inc();
    }

    /// Shows the watch of `resource` with no errors, rather than not at all, until it fails.
    pub fn watch_started(&self, resource: &str) {
        let _ = self.watch_errors.get_or_create(&ResourceLabels {
            resource: resource.to_owned(),
        });
    }

    pub fn watch_failed(&self, resource: &str) {
        self.watch_errors
            .get_or_create(&ResourceLabels {
                resource: resource.to_owned(),
            })
            .inc();
    }

    pub fn called(&self, operation: &str, outcome: &str, region: &str) {
        self.cognito_calls
            .get_or_create(&CallLabels {
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
                region: region.to_owned(),
            })
            .inc();
    }

    /// Text exposition, with the resource gauges set from `resources` (the watch cache).
    pub fn encode<R: Reported>(&self, resources: Vec<R>) -> String {
        self.resources.clear();
        for r in &resources {
            self.resources
                .get_or_create(&ReasonLabels {
                    reason: r.state().reason.to_owned(),
                })
                .inc();
        }
        // One series per resource, from this scrape's resources only: a deleted resource's
        // series goes with it.
        let mut scrape = Registry::with_prefix("cognito_mfa");
        scrape.register(
            "resource_ready",
            "1 when the resource's Ready condition is True, else 0; one series per resource",
            ResourceReady(resources),
        );
        let mut out = String::new();
        text::encode_registry(&mut out, &self.registry)
            .and_then(|()| text::encode_registry(&mut out, &scrape))
            .and_then(|()| text::encode_eof(&mut out))
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_described_before_their_first_sample() {
        let text = Metrics::default().encode(Vec::<ResourceState>::new());
        for family in [
            "resource_ready gauge",
            "reconciles counter",
            "cognito_calls counter",
            "rate_limiter_wait_seconds histogram",
            "rate_limiter_deferrals counter",
            "resources gauge",
            "resync_period_seconds gauge",
            "watch_errors counter",
        ] {
            assert!(
                text.contains(&format!("\n# TYPE cognito_mfa_{family}\n")),
                "{family}:\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"), "OpenMetrics text:\n{text}");
    }

    #[test]
    fn each_resource_is_one_series_gone_with_it() {
        let metrics = Metrics::default();
        let resource = |name, reason, ready| ResourceState {
            namespace: "team-a",
            name,
            user_pool_id: "eu-west-1_abc",
            reason,
            ready,
        };
        let text = metrics.encode(vec![
            resource("a", "Synced", true),
            resource("b", "AccessDenied", false),
        ]);
        assert!(text.contains(
            "cognito_mfa_resource_ready{namespace=\"team-a\",name=\"a\",user_pool_id=\"eu-west-1_abc\",reason=\"Synced\"} 1\n"
        ), "{text}");
        assert!(
            text.contains("name=\"b\",user_pool_id=\"eu-west-1_abc\",reason=\"AccessDenied\"} 0\n"),
            "{text}"
        );
        let text = metrics.encode(vec![resource("a", "Drifted", false)]);
        assert!(
            !text.contains("name=\"b\""),
            "a deleted resource's series stays:\n{text}"
        );
        assert!(
            !text.contains("reason=\"Synced\""),
            "an old reason's series stays:\n{text}"
        );
        assert!(text.contains("reason=\"Drifted\"} 0\n"), "{text}");
        assert!(
            text.contains("\ncognito_mfa_resources{reason=\"Drifted\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "cognito_mfa_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
    }

    #[test]
    fn resources_are_counted_by_reason_at_each_scrape() {
        let metrics = Metrics::default();
        let resource = |name, reason| ResourceState {
            namespace: "team-a",
            name,
            user_pool_id: "eu-west-1_abc",
            reason,
            ready: reason == "Synced",
        };
        let counts = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with("cognito_mfa_resources{"))
                .map(str::to_owned)
                .collect()
        };
        let text = metrics.encode(vec![
            resource("a", "Synced"),
            resource("b", "Pending"),
            resource("c", "Synced"),
        ]);
        let mut shown = counts(&text);
        shown.sort();
        assert_eq!(
            shown,
            [
                "cognito_mfa_resources{reason=\"Pending\"} 1",
                "cognito_mfa_resources{reason=\"Synced\"} 2",
            ]
        );
        let text = metrics.encode(vec![resource("a", "Synced")]);
        assert_eq!(
            counts(&text),
            ["cognito_mfa_resources{reason=\"Synced\"} 1"],
            "recounted, not added to"
        );
    }

    #[test]
    fn a_budgets_resync_period_goes_with_its_last_resource() {
        let metrics = Metrics::default();
        metrics.resync_period("operator", "us-east-1", 3, Duration::from_millis(1500));
        let series = "cognito_mfa_resync_period_seconds{account=\"operator\",region=\"us-east-1\"}";
        let text = metrics.encode(Vec::<ResourceState>::new());
        assert!(text.contains(&format!("\n{series} 1.5\n")), "{text}");
        metrics.resync_period("operator", "us-east-1", 0, Duration::from_secs(600));
        let text = metrics.encode(Vec::<ResourceState>::new());
        assert!(!text.contains(series), "{text}");
    }
}
