//! The report: every phase's measurements turned into rows beside their goals (the table on
//! stdout, grouped by goal) and into the JSON report. The smoke version's assertions are the
//! exact call-accounting rows.

use serde_json::{Value, json};

use crate::environment::operator::LOG_LEVEL;
use crate::options::Opts;
use crate::phases::accounting::{Accounting, PERIODS};
use crate::phases::apiserver_ceiling::{ApiServerCeiling, WriteRate};
use crate::phases::convergence::{self, Convergence, Pair};
use crate::phases::fairness::{self, Fairness};
use crate::phases::idle::Idle;
use crate::phases::latency::Latency;
use crate::phases::pacing::Pacing;
use crate::phases::saturated::Saturated;
use crate::phases::scale::Scale;
use crate::phases::sdk_ceiling::SdkCeiling;
use crate::phases::startup::{POLL_INTERVAL_MS, Startup};
use crate::stats::{median, round3};
use test_kit::procfs::{Machine, mib};

// The table's sections, numbered by goal; the phases run in another order.
const CEILINGS: &str = "1. ceilings (raw SDK -> emulator; API server alone)";
const CONVERGENCE: &str = "2. cold convergence (limiter off)";
const ACCOUNTING: &str = "3. call accounting";
const LATENCY: &str = "4. latency (create -> Ready, idle operator)";
const FOOTPRINT: &str = "5. footprint";
const PACING: &str = "6. pacing (quota = limiter = Q)";
const FAIRNESS: &str = "7. fairness (busy and quiet namespace, one write budget)";
const SATURATED: &str = "8. saturated resync (read budget below N / resync)";
const SCALE: &str = "9. scale (limiter off)";

/// What every phase measured; `None` for a phase `--phases` left out.
#[derive(Default)]
pub struct Measurements {
    pub sdk_ceiling: Option<SdkCeiling>,
    pub apiserver_ceiling: Option<ApiServerCeiling>,
    pub latency: Option<Latency>,
    pub startup: Option<Startup>,
    pub convergence: Option<Convergence>,
    /// The convergence phase's more pairs of bound and convergence (`--ratio-pairs`).
    pub convergence_more_pairs: Vec<Pair>,
    pub accounting: Option<Accounting>,
    pub idle: Option<Idle>,
    pub pacing: Option<Pacing>,
    pub fairness: Option<Fairness>,
    pub saturated: Option<Saturated>,
    pub scale: Option<Scale>,
}

/// The run as a whole, for the JSON report's head.
pub struct Run<'a> {
    pub mode: &'a str,
    pub started_at: jiff::Timestamp,
    pub wall_seconds: f64,
    pub machine: &'a Machine,
}

struct Row {
    section: &'static str,
    figure: String,
    value: f64,
    shown: String,
    goal: String,
    met: Option<bool>,
}

pub struct Report {
    /// In the order the phases ran (the JSON's `goals`); the table sorts them by section.
    rows: Vec<Row>,
    /// Smoke-mode assertions that failed.
    pub failures: Vec<String>,
}

/// Runs `f` on the measurement when the phase ran.
fn each<T>(m: &Option<T>, mut f: impl FnMut(&T)) {
    if let Some(m) = m {
        f(m)
    }
}

impl Report {
    /// Judges the measurements against the goals; in smoke mode, the exact call-accounting
    /// figures, the saturated read budget and the fairness order are assertions too.
    pub fn judge(o: &Opts, m: &Measurements) -> Self {
        let mut r = Report {
            rows: vec![],
            failures: vec![],
        };
        each(&m.sdk_ceiling, |c| r.sdk_ceiling(c));
        each(&m.apiserver_ceiling, |c| r.apiserver_ceiling(c));
        each(&m.latency, |l| r.latency(l));
        each(&m.startup, |s| r.startup(s));
        let more = &m.convergence_more_pairs;
        each(&m.convergence, |c| r.convergence(c, more));
        each(&m.accounting, |a| r.accounting(o.smoke, a));
        if let (Some(c), Some(a)) = (&m.convergence, &m.accounting) {
            r.convergence_footprint(c, more, a);
        }
        each(&m.idle, |i| r.idle(i));
        each(&m.pacing, |p| r.pacing(p));
        each(&m.fairness, |f| r.fairness(o.smoke, f));
        each(&m.saturated, |s| r.saturated(o.smoke, s));
        let at_n = m.convergence.as_ref().map(|c| (c, more.as_slice()));
        each(&m.scale, |s| r.scale(s, at_n));
        r
    }

    fn info(
        &mut self,
        section: &'static str,
        figure: impl Into<String>,
        value: f64,
        shown: String,
    ) {
        self.rows.push(Row {
            section,
            figure: figure.into(),
            value,
            shown,
            goal: String::new(),
            met: None,
        });
    }

    fn goal(
        &mut self,
        section: &'static str,
        figure: impl Into<String>,
        value: f64,
        shown: String,
        goal: impl Into<String>,
        met: bool,
    ) {
        self.rows.push(Row {
            section,
            figure: figure.into(),
            value,
            shown,
            goal: goal.into(),
            met: Some(met),
        });
    }

    /// An exact call-accounting check: a goal always, an assertion in smoke mode.
    fn exact(
        &mut self,
        smoke: bool,
        section: &'static str,
        figure: &str,
        value: f64,
        want: f64,
        detail: String,
    ) {
        let met = value == want;
        self.goal(
            section,
            figure,
            value,
            format!("{value:.3}{detail}"),
            format!("= {want}"),
            met,
        );
        if smoke && !met {
            self.failures.push(format!(
                "{figure}: measured {value}{detail}, expected exactly {want}"
            ));
        }
    }

    /// A goal that is an assertion in smoke mode too.
    #[allow(clippy::too_many_arguments)]
    fn asserted(
        &mut self,
        smoke: bool,
        section: &'static str,
        figure: impl Into<String>,
        value: f64,
        shown: String,
        goal: impl Into<String>,
        met: bool,
    ) {
        let (figure, goal) = (figure.into(), goal.into());
        if smoke && !met {
            self.failures
                .push(format!("{figure}: measured {shown}, expected {goal}"));
        }
        self.goal(section, figure, value, shown, goal, met);
    }

    fn sdk_ceiling(&mut self, c: &SdkCeiling) {
        for run in &c.runs {
            let rps = run.calls_per_second;
            let mode = if run.concurrency == 1 {
                "sequential".to_owned()
            } else {
                format!("{} in flight", run.concurrency)
            };
            self.info(
                CEILINGS,
                format!("{} {mode}", run.operation),
                rps,
                format!(
                    "{rps:.0} calls/s (p50 {:.1} ms)",
                    run.latency_ms.percentile(50.0)
                ),
            );
        }
    }

    fn apiserver_ceiling(&mut self, c: &ApiServerCeiling) {
        for (label, _, w) in apiserver_writes(c) {
            self.info(
                CEILINGS,
                format!("{label}, {} in flight", w.concurrency),
                w.per_second,
                format!(
                    "{:.0} /s ({:.2} ms API-server CPU each)",
                    w.per_second,
                    apiserver_ms_each(c, w)
                ),
            );
        }
        let bound = c.bound();
        self.info(
            CEILINGS,
            "API-server bound: create + status apply + event",
            bound,
            format!("{bound:.0} resources/s"),
        );
    }

    fn latency(&mut self, l: &Latency) {
        let s = &l.samples_ms;
        let (p50, p95) = (s.percentile(50.0), s.percentile(95.0));
        self.goal(
            LATENCY,
            format!("p50 over {} samples", s.len()),
            p50,
            format!("{p50:.1} ms"),
            "<= 250 ms",
            p50 <= 250.0,
        );
        self.info(LATENCY, "p95", p95, format!("{p95:.1} ms"));
        self.info(
            LATENCY,
            "min / max",
            s.min(),
            format!("{:.1} / {:.1} ms", s.min(), s.max()),
        );
    }

    fn startup(&mut self, st: &Startup) {
        let s = &st.samples_ms;
        let (p50, max) = (s.percentile(50.0), s.max());
        self.goal(
            FOOTPRINT,
            format!("start -> first reconcile, median of {}", s.len()),
            p50,
            format!("{p50:.0} ms (max {max:.0} ms)"),
            "<= 1 s",
            p50 <= 1000.0,
        );
        let rss = &st.rss_one_resource;
        self.info(
            FOOTPRINT,
            "operator RSS with 1 resource (after start-up)",
            rss.vm_hwm,
            format!(
                "{:.1} MiB (anon {:.1}, file {:.1})",
                rss.vm_hwm, rss.rss_anon, rss.rss_file
            ),
        );
    }

    fn convergence(&mut self, c: &Convergence, more: &[Pair]) {
        let (seconds, rate) = (c.seconds, c.resources_per_second());
        self.info(
            CONVERGENCE,
            format!("{} resources -> all Ready", c.resources),
            seconds,
            format!(
                "{seconds:.2} s (creates sent in {:.2} s)",
                c.creates_sent_seconds
            ),
        );
        self.info(
            CONVERGENCE,
            "resources per second",
            rate,
            format!("{rate:.0} /s"),
        );
        self.convergence_ratios(CONVERGENCE, "1b", c, more);
    }

    /// Convergence against what the API server alone allows for the same writes (measured in
    /// this run, where `measured` says): on one machine its CPU, not the operator, bounds
    /// convergence. The goal is judged on the median over the pairs (the first and `more`),
    /// since the API server's speed varies during a run. The raw Set ceiling is shown beside it.
    fn convergence_ratios(
        &mut self,
        section: &'static str,
        measured: &str,
        c: &Convergence,
        more: &[Pair],
    ) {
        let rate = c.resources_per_second();
        let ratios = convergence::ratios(c, more);
        let each = ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        let api_ratio = median(ratios.iter().copied());
        let figure = match ratios.len() {
            1 => format!("ratio to the API-server bound ({measured})"),
            k => format!("ratio to the API-server bound ({measured}), median of {k} pairs"),
        };
        self.goal(
            section,
            figure,
            api_ratio,
            format!(
                "{api_ratio:.2} (each {each}; the first {rate:.0} / {:.0})",
                c.apiserver_bound
            ),
            ">= 0.8",
            api_ratio >= 0.8,
        );
        let ratio = c.ratio_to_set_ceiling();
        self.info(
            section,
            "ratio to the concurrent Set ceiling",
            ratio,
            format!("{ratio:.2} ({rate:.0} / {:.0})", c.set_ceiling),
        );
    }

    /// Convergence, footprint and idle CPU at `--scale-n`, the CPU per resource beside the
    /// convergence phase's (`at_n`, with its more pairs) when it ran. Over the pairs, the CPU
    /// is their median and the peak RSS their highest.
    fn scale(&mut self, s: &Scale, at_n: Option<(&Convergence, &[Pair])>) {
        let (c, i, more) = (&s.convergence, &s.idle, s.more_pairs.as_slice());
        let (n, seconds, rate) = (c.resources, c.seconds, c.resources_per_second());
        self.info(
            SCALE,
            format!("{n} resources -> all Ready (the first pair)"),
            seconds,
            format!("{seconds:.2} s ({rate:.0} /s)"),
        );
        let bound = s.apiserver.bound();
        self.info(
            SCALE,
            format!("API-server bound at {n}: create + status apply + event (the first pair)"),
            bound,
            format!("{bound:.0} resources/s"),
        );
        self.convergence_ratios(SCALE, &format!("at {n}"), c, more);
        let cpu_per_1000 = |c: &Convergence, more: &[Pair]| {
            median(convergence::all(c, more).map(Convergence::operator_cpu_per_1000))
        };
        let cpu = cpu_per_1000(c, more);
        self.info(
            SCALE,
            format!("operator CPU per 1,000 resources, convergence of {n} (median)"),
            cpu,
            format!("{cpu:.2} s"),
        );
        if let Some((small, small_more)) = at_n {
            let small_cpu = cpu_per_1000(small, small_more);
            let ratio = cpu / small_cpu;
            self.goal(
                SCALE,
                format!("CPU per resource at {n} / at {}", small.resources),
                ratio,
                format!("{ratio:.2} ({cpu:.2} / {small_cpu:.2} s per 1,000)"),
                "<= 1.5 (independent of N)",
                ratio <= 1.5,
            );
        }
        let peak = peak_rss_mib(c, more);
        self.goal(
            SCALE,
            format!("operator peak RSS, convergence of {n} (highest)"),
            peak,
            format!("{peak:.1} MiB"),
            "<= 48 MiB at N = 10000",
            peak <= 48.0,
        );
        self.idle_rows(SCALE, i, (48.0, 10_000));
    }

    fn accounting(&mut self, smoke: bool, a: &Accounting) {
        let n = a.resources as f64;
        self.exact(
            smoke,
            ACCOUNTING,
            "Sets per resource (convergence)",
            a.sets_per_resource(),
            1.0,
            String::new(),
        );
        // Per resource too: an average of 1 could hide one resource written twice and one never.
        self.exact(
            smoke,
            ACCOUNTING,
            "resources with other than one Set (convergence)",
            a.resources_not_one_set as f64,
            0.0,
            String::new(),
        );
        self.exact(
            smoke,
            ACCOUNTING,
            "resources with other than one Get per resync",
            a.resources_off_gets.len() as f64,
            0.0,
            String::new(),
        );
        self.exact(
            smoke,
            ACCOUNTING,
            "Gets before the first Set",
            a.gets_before_first_set as f64,
            0.0,
            String::new(),
        );
        self.info(
            ACCOUNTING,
            "status writes per resource (convergence)",
            a.status_writes_convergence as f64 / n,
            format!("{:.3}", a.status_writes_convergence as f64 / n),
        );
        let steady = format!(" ({PERIODS} x resync {:?})", a.resync);
        self.exact(
            smoke,
            ACCOUNTING,
            "Cognito writes at steady state",
            a.sets_steady as f64,
            0.0,
            steady.clone(),
        );
        self.exact(
            smoke,
            ACCOUNTING,
            "Gets per resource per resync",
            a.gets_per_resource_per_resync(),
            1.0,
            if a.resources_off_gets.is_empty() {
                String::new()
            } else {
                format!(" ({} resources off)", a.resources_off_gets.len())
            },
        );
        self.exact(
            smoke,
            ACCOUNTING,
            "status writes at steady state",
            a.status_writes_steady as f64,
            0.0,
            steady,
        );
    }

    /// The convergence operator's footprint: converging, then at steady state.
    fn convergence_footprint(&mut self, c: &Convergence, more: &[Pair], a: &Accounting) {
        let peak = peak_rss_mib(c, more);
        self.goal(
            FOOTPRINT,
            format!(
                "operator peak RSS, convergence of {} (highest)",
                c.resources
            ),
            peak,
            format!("{peak:.1} MiB"),
            "<= 30 MiB at N = 1000",
            peak <= 30.0,
        );
        let cpu = c.cpu.cpu_seconds("operator").unwrap_or(f64::NAN);
        self.info(
            FOOTPRINT,
            "operator CPU, convergence",
            cpu,
            format!(
                "{cpu:.2} s ({:.2} ms per resource)",
                cpu * 1000.0 / c.resources as f64
            ),
        );
        // as the JSON shows it (to 0.001 of a core)
        let cores = a.steady_cpu.cores("operator").map_or(f64::NAN, round3);
        self.info(
            FOOTPRINT,
            format!("operator CPU at steady state, resync {:?}", a.resync),
            cores,
            format!("{:.2} % of a core", cores * 100.0),
        );
    }

    fn idle(&mut self, i: &Idle) {
        self.idle_rows(FOOTPRINT, i, (30.0, 1000));
    }

    /// A fresh operator over converged resources: idle CPU, peak RSS against the goal for its
    /// size (`rss_goal`: MiB at N), its restart pass.
    fn idle_rows(&mut self, section: &'static str, i: &Idle, rss_goal: (f64, usize)) {
        let (rss_goal_mib, goal_n) = rss_goal;
        let n = i.resources;
        // as the JSON shows it (to 0.001 of a core)
        let cores = i.idle_cpu.cores("operator").map_or(f64::NAN, round3);
        self.goal(
            section,
            format!("operator idle CPU, {n} resources, {:?}", i.idle),
            cores,
            format!("{:.3} % of a core", cores * 100.0),
            "<= 1 % of a core",
            cores <= 0.01,
        );
        let peak = mib(i.peak_rss_kib);
        self.goal(
            section,
            format!("operator peak RSS, restart + idle with {n}"),
            peak,
            format!("{peak:.1} MiB (now {:.1})", mib(i.rss_kib_end)),
            format!("<= {rss_goal_mib} MiB at N = {goal_n}"),
            peak <= rss_goal_mib,
        );
        let pass = i.restart_pass_seconds;
        self.info(
            section,
            "restart pass: time / Gets, Sets, status writes",
            pass,
            format!(
                "{pass:.2} s / {:.2}, {}, {} per {n}",
                i.restart_gets as f64 / n as f64,
                i.restart_sets,
                i.status_writes
            ),
        );
    }

    fn pacing(&mut self, p: &Pacing) {
        let (seconds, bound) = (p.seconds, p.bound_seconds);
        self.goal(
            PACING,
            format!(
                "{} resources at Q = {} -> all Ready",
                p.resources, p.quota_rps
            ),
            seconds,
            format!("{seconds:.2} s"),
            format!("<= {bound:.1} s (1.1 x N/Q)"),
            seconds <= bound,
        );
        self.goal(
            PACING,
            "TooManyRequests answered",
            p.too_many_requests as f64,
            format!("{} (of {} Sets)", p.too_many_requests, p.sets),
            "= 0",
            p.too_many_requests == 0,
        );
    }

    fn fairness(&mut self, smoke: bool, f: &Fairness) {
        let s = &f.small_ready_ms;
        let (p50, p95) = (s.percentile(50.0), s.percentile(95.0));
        self.info(
            FAIRNESS,
            format!(
                "quiet namespace: {} resources, create -> Ready p50 / p95",
                f.small
            ),
            p95,
            format!("{p50:.0} / {p95:.0} ms (max {:.0} ms)", s.max()),
        );
        self.asserted(
            smoke,
            FAIRNESS,
            format!(
                "busy namespace's {} still pending when the quiet one was done",
                f.big
            ),
            f.big_pending_at_small_done as f64,
            format!(
                "{} (quiet done at {:.2} s, busy at {:.2} s)",
                f.big_pending_at_small_done, f.small_done_at_seconds, f.big_seconds
            ),
            "> 0 (quiet first)",
            f.small_first(),
        );
        let rate = f.big as f64 / f.big_seconds;
        self.info(
            FAIRNESS,
            format!(
                "busy namespace -> all Ready, write budget {}/s",
                f.write_rps
            ),
            f.big_seconds,
            format!("{:.2} s ({rate:.1} /s)", f.big_seconds),
        );
    }

    fn saturated(&mut self, smoke: bool, s: &Saturated) {
        let (max, mean, bound) = (s.gets_max(), s.gets_mean(), s.gets_bound());
        let window = format!("{:.0} s", s.window_seconds);
        self.asserted(
            smoke,
            SATURATED,
            format!(
                "Gets per second, {} resources, budget {}/s burst {}: max / mean",
                s.resources, s.read_rps, s.burst
            ),
            max as f64,
            format!("{max} / {mean:.2} (over {window})"),
            format!("max <= {bound} (budget + burst)"),
            max as f64 <= bound,
        );
        let (period, expected) = (s.period_metric, s.expected_period(s.resources));
        self.goal(
            SATURATED,
            format!("resync period (metric), configured {:?}", s.resync),
            period,
            format!("{period:.1} s (N / (0.9 x budget) = {expected:.1} s)"),
            "= N / (0.9 x budget)",
            (period - expected).abs() < 0.01,
        );
        self.asserted(
            smoke,
            SATURATED,
            format!("resources that left Ready in {window}"),
            s.left_ready as f64,
            s.left_ready.to_string(),
            "= 0",
            s.left_ready == 0,
        );
        self.info(
            SATURATED,
            format!("passes deferred in {window}"),
            s.deferrals,
            format!("{} ({:.0} /s)", s.deferrals, s.deferrals / s.window_seconds),
        );
        let ready = s.new_created - s.new_not_ready;
        self.asserted(
            smoke,
            SATURATED,
            "new resources created during the saturation: Ready",
            ready as f64,
            format!("{ready} of {}", s.new_created),
            "all",
            s.new_not_ready == 0,
        );
        let l = &s.new_ready_ms;
        let (p50, p95) = if l.len() > 0 {
            (l.percentile(50.0), l.percentile(95.0))
        } else {
            (f64::NAN, f64::NAN)
        };
        self.goal(
            SATURATED,
            "new resources: create -> Ready p50 / p95",
            p95,
            format!("{p50:.0} / {p95:.0} ms"),
            "p95 <= 1 s",
            p95 <= 1000.0,
        );
        let cores = s.cpu.cores("operator").map_or(f64::NAN, round3);
        self.info(
            SATURATED,
            format!("operator CPU over {window}"),
            cores,
            format!("{:.1} % of a core", cores * 100.0),
        );
    }

    pub fn print_table(&self) {
        // phases run in another order than the sections are numbered
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.section);
        let width = |cell: fn(&Row) -> usize, least: usize| {
            self.rows.iter().map(cell).max().unwrap_or(least).max(least)
        };
        let w_fig = width(|r| r.figure.len(), 6);
        let w_val = width(|r| r.shown.len(), 8);
        let w_goal = width(|r| r.goal.len(), 4);
        let mut section = "";
        println!();
        println!(
            "{:<w_fig$}  {:>w_val$}  {:<w_goal$}  met",
            "figure", "measured", "goal"
        );
        println!("{}", "-".repeat(w_fig + w_val + w_goal + 9));
        for r in rows {
            if r.section != section {
                section = r.section;
                println!("[{section}]");
            }
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            println!(
                "{:<w_fig$}  {:>w_val$}  {:<w_goal$}  {met}",
                r.figure, r.shown, r.goal
            );
        }
        println!();
    }

    fn rows_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|r| {
                    json!({
                        "section": r.section,
                        "figure": r.figure,
                        "value": r.value,
                        "shown": r.shown,
                        "goal": if r.goal.is_empty() { Value::Null } else { r.goal.clone().into() },
                        "met": r.met,
                    })
                })
                .collect(),
        )
    }

    /// The JSON report: the run, its options, the rows, every phase's figures in detail and
    /// the failed smoke assertions.
    pub fn to_json(&self, run: &Run, o: &Opts, m: &Measurements) -> Value {
        let mut report = json!({
            "mode": run.mode,
            "started_at": run.started_at.to_string(),
            "wall_seconds": round3(run.wall_seconds),
            "machine": run.machine.to_json(),
            "options": {
                "n": o.n, "pacing_n": o.pacing_n, "quota_rps": o.quota,
                "latency_samples": o.latency_samples, "startup_samples": o.startup_samples,
                "idle_seconds": o.idle.as_secs_f64(), "resync_seconds": o.resync.as_secs_f64(),
                "idle_resync_seconds": o.idle_resync.as_secs_f64(), "ceiling_calls": o.ceiling_calls,
                "ceiling_concurrency": o.ceiling_concurrency, "create_concurrency": o.create_concurrency,
                "saturated_n": o.saturated_n,
                "saturated_resync_seconds": o.saturated_resync.as_secs_f64(),
                "saturated_read_rps": o.saturated_read_rps, "saturated_burst": o.saturated_burst,
                "saturated_window_seconds": o.saturated_window.as_secs_f64(),
                "saturated_new": o.saturated_new,
                "fairness_big": o.fairness_big, "fairness_small": o.fairness_small,
                "fairness_write_rps": o.fairness_write_rps, "scale_n": o.scale_n,
                "ratio_pairs": o.ratio_pairs,
                "phases": o.phases.iter().map(|p| p.name()).collect::<Vec<_>>(),
                "operator_binary": env!("CARGO_BIN_EXE_cognito-mfa-operator"),
                "operator_log_level": LOG_LEVEL,
            },
            "goals": self.rows_json(),
            "smoke_assertion_failures": self.failures,
        });
        let sections = report.as_object_mut().expect("an object");
        let mut section = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                sections.insert(key.to_owned(), value);
            }
        };
        section("ceiling", m.sdk_ceiling.as_ref().map(sdk_ceiling_json));
        section(
            "apiserver_ceiling",
            m.apiserver_ceiling.as_ref().map(apiserver_ceiling_json),
        );
        section("latency", m.latency.as_ref().map(latency_json));
        section("startup", m.startup.as_ref().map(startup_json));
        section(
            "convergence",
            m.convergence
                .as_ref()
                .map(|c| with_pairs(convergence_json(c), c, &m.convergence_more_pairs)),
        );
        section("accounting", m.accounting.as_ref().map(accounting_json));
        if let (Some(i), Some(c)) = (&m.idle, &m.convergence) {
            section("idle", Some(idle_json(i, c)));
        }
        section("pacing", m.pacing.as_ref().map(pacing_json));
        section("fairness", m.fairness.as_ref().map(fairness_json));
        section("saturated", m.saturated.as_ref().map(saturated_json));
        section(
            "scale",
            m.scale.as_ref().map(|s| {
                json!({
                    "apiserver_ceiling": apiserver_ceiling_json(&s.apiserver),
                    "convergence": with_pairs(convergence_json(&s.convergence), &s.convergence, &s.more_pairs),
                    "idle": idle_json(&s.idle, &s.convergence),
                })
            }),
        );
        report
    }
}

/// The highest of the pairs' operators' peak RSS, MiB.
fn peak_rss_mib(first: &Convergence, more: &[Pair]) -> f64 {
    convergence::all(first, more)
        .map(|c| mib(c.peak_rss_kib))
        .fold(f64::NAN, f64::max)
}

/// The API server's writes: (table label, JSON key, measurement).
fn apiserver_writes(c: &ApiServerCeiling) -> [(&'static str, &'static str, &WriteRate); 4] {
    [
        ("API server: create (the user's)", "create", &c.create),
        (
            "API server: status apply (SSA)",
            "status_apply",
            &c.status_apply,
        ),
        (
            "API server: status merge patch",
            "status_merge_patch",
            &c.status_merge_patch,
        ),
        ("API server: event create", "event_create", &c.event_create),
    ]
}

/// The API server's CPU per object written, ms, from its CPU seconds as the JSON shows them.
fn apiserver_ms_each(c: &ApiServerCeiling, w: &WriteRate) -> f64 {
    w.cpu.cpu_seconds("apiserver").map_or(0.0, round3) * 1000.0 / c.objects as f64
}

fn sdk_ceiling_json(c: &SdkCeiling) -> Value {
    let mut out = serde_json::Map::new();
    for run in &c.runs {
        let key = format!(
            "{}_{}",
            run.operation.to_lowercase(),
            if run.concurrency == 1 {
                "sequential"
            } else {
                "concurrent"
            }
        );
        out.insert(
            key,
            json!({
                "calls": run.calls,
                "concurrency": run.concurrency,
                "seconds": round3(run.seconds),
                "calls_per_second": round3(run.calls_per_second),
                "latency_ms_p50": round3(run.latency_ms.percentile(50.0)),
                "latency_ms_p95": round3(run.latency_ms.percentile(95.0)),
                "cpu": run.cpu.to_json(),
            }),
        );
    }
    Value::Object(out)
}

fn apiserver_ceiling_json(c: &ApiServerCeiling) -> Value {
    let mut rows = serde_json::Map::new();
    for (_, key, w) in apiserver_writes(c) {
        rows.insert(
            key.into(),
            json!({"objects": c.objects, "concurrency": w.concurrency,
                   "per_second": round3(w.per_second),
                   "apiserver_cpu_ms_each": round3(apiserver_ms_each(c, w)),
                   "cpu": w.cpu.to_json()}),
        );
    }
    rows.insert(
        "bound_resources_per_second".into(),
        round3(c.bound()).into(),
    );
    Value::Object(rows)
}

fn latency_json(l: &Latency) -> Value {
    json!({
        "namespace": l.namespace,
        "samples_ms": l.samples_ms.rounded(),
        "p50_ms": round3(l.samples_ms.percentile(50.0)),
        "p95_ms": round3(l.samples_ms.percentile(95.0)),
    })
}

fn startup_json(s: &Startup) -> Value {
    json!({
        "operator_rss_mib_one_resource": s.rss_one_resource.to_json(),
        "samples_ms": s.samples_ms.rounded(),
        "median_ms": round3(s.samples_ms.percentile(50.0)),
        "max_ms": round3(s.samples_ms.max()),
        "poll_interval_ms": POLL_INTERVAL_MS,
    })
}

fn convergence_json(c: &Convergence) -> Value {
    json!({
        "namespace": c.namespace,
        "resources": c.resources,
        "create_concurrency": c.create_concurrency,
        "creates_sent_seconds": round3(c.creates_sent_seconds),
        "seconds": round3(c.seconds),
        "resources_per_second": round3(c.resources_per_second()),
        "set_ceiling_concurrent_per_second": round3(c.set_ceiling),
        "ratio_to_set_ceiling": round3(c.ratio_to_set_ceiling()),
        "apiserver_bound_per_second": round3(c.apiserver_bound),
        "ratio_to_apiserver_bound": round3(c.ratio_to_apiserver_bound()),
        "reconciles": c.reconciles,
        "mean_reconcile_ms": round3(c.mean_reconcile_ms()),
        "cpu": c.cpu.to_json(),
        "operator_peak_rss_mib": round3(mib(c.peak_rss_kib)),
        "operator_rss_mib_at_convergence": c.rss.to_json(),
    })
}

/// A convergence's JSON with the more pairs after it and the median ratio over them all.
fn with_pairs(mut json: Value, first: &Convergence, more: &[Pair]) -> Value {
    let median_ratio = median(convergence::ratios(first, more));
    json["ratio_to_apiserver_bound_median"] = json!(round3(median_ratio));
    json["more_pairs"] = more
        .iter()
        .map(|p| {
            json!({
                "apiserver_ceiling": apiserver_ceiling_json(&p.apiserver),
                "convergence": convergence_json(&p.convergence),
            })
        })
        .collect();
    json
}

fn accounting_json(a: &Accounting) -> Value {
    let off: Vec<Value> = a
        .resources_off_gets
        .iter()
        .map(|r| json!({"name": r.name, "pool": r.pool, "gets": r.gets}))
        .collect();
    json!({
        "resync_seconds": a.resync.as_secs_f64(),
        "resync_periods": PERIODS,
        "get_window_seconds_after_ready": round3(a.window_seconds),
        "emulator_calls_total": {
            "SetUserPoolMfaConfig": a.emulator_sets,
            "GetUserPoolMfaConfig": a.emulator_gets,
        },
        "operator_metric_calls_total": {
            "SetUserPoolMfaConfig": a.operator_metric_sets,
            "GetUserPoolMfaConfig": a.operator_metric_gets,
        },
        "sets_per_resource": a.sets_per_resource(),
        "gets_before_first_set": a.gets_before_first_set,
        "status_writes_convergence": a.status_writes_convergence,
        "status_writes_per_resource_convergence":
            round3(a.status_writes_convergence as f64 / a.resources as f64),
        "cognito_writes_steady_state": a.sets_steady,
        "gets_in_windows": a.gets_in_windows,
        "gets_per_resource_per_resync": a.gets_per_resource_per_resync(),
        "resources_with_other_than_k_gets": off,
        "status_writes_steady_state": a.status_writes_steady,
        "steady_state_cpu": a.steady_cpu.to_json(),
        "operator_peak_rss_mib_end": round3(mib(a.peak_rss_kib_end)),
    })
}

fn idle_json(i: &Idle, c: &Convergence) -> Value {
    json!({
        "namespace": i.namespace,
        "resources": i.resources,
        "resync_seconds": i.resync.as_secs_f64(),
        "restart_pass_seconds": round3(i.restart_pass_seconds),
        "restart_gets": i.restart_gets,
        "restart_sets": i.restart_sets,
        "restart_and_idle_status_writes": i.status_writes,
        "idle_seconds": i.idle.as_secs_f64(),
        "idle_cpu": i.idle_cpu.to_json(),
        "operator_idle_cpu_fraction_of_core": i.idle_cpu.cores("operator").map_or(f64::NAN, round3),
        "operator_peak_rss_mib": round3(mib(i.peak_rss_kib)),
        "operator_rss_mib_end": round3(mib(i.rss_kib_end)),
        "operator_rss_mib_idle_end": i.rss_end.to_json(),
        "convergence_operator_peak_rss_mib": round3(mib(c.peak_rss_kib)),
    })
}

fn pacing_json(p: &Pacing) -> Value {
    let q = p.quota_rps;
    json!({
        "namespace": p.namespace,
        "resources": p.resources,
        "quota_rps": q,
        "limiter": {"COGNITO_WRITE_RPS": q, "COGNITO_READ_RPS": q, "COGNITO_BURST": 1},
        "seconds": round3(p.seconds),
        "bound_seconds": round3(p.bound_seconds),
        "too_many_requests": p.too_many_requests,
        "sets": p.sets,
        "gets": p.gets,
    })
}

fn fairness_json(f: &Fairness) -> Value {
    let s = &f.small_ready_ms;
    json!({
        "busy_namespace": f.big_namespace,
        "quiet_namespace": f.small_namespace,
        "busy_resources": f.big,
        "quiet_resources": f.small,
        "operator": {"WATCH_NAMESPACE": "", "SHARD_SELECTOR": f.shard_selector},
        "limiter": {"COGNITO_WRITE_RPS": f.write_rps, "COGNITO_BURST": fairness::BURST},
        "headstart_seconds": fairness::HEADSTART.as_secs_f64(),
        "busy_creates_sent_seconds": round3(f.big_creates_sent_seconds),
        "busy_ready_when_quiet_started": f.big_ready_at_small_start,
        "quiet_ready_ms": s.rounded(),
        "quiet_ready_ms_p50": round3(s.percentile(50.0)),
        "quiet_ready_ms_p95": round3(s.percentile(95.0)),
        "quiet_seconds": round3(f.small_seconds),
        "quiet_done_at_seconds": round3(f.small_done_at_seconds),
        "busy_pending_when_quiet_done": f.big_pending_at_small_done,
        "busy_seconds": round3(f.big_seconds),
        "deferrals": {"busy": f.big_deferrals, "quiet": f.small_deferrals},
        "sets": f.sets,
    })
}

fn saturated_json(s: &Saturated) -> Value {
    let l = &s.new_ready_ms;
    let (p50, p95) = if l.len() > 0 {
        (round3(l.percentile(50.0)), round3(l.percentile(95.0)))
    } else {
        (f64::NAN, f64::NAN)
    };
    let all = s.resources + s.new_created;
    json!({
        "namespace": s.namespace,
        "resources": s.resources,
        "resync_seconds": s.resync.as_secs_f64(),
        "limiter": {"COGNITO_READ_RPS": s.read_rps, "COGNITO_BURST": s.burst},
        "converge_seconds": round3(s.converge_seconds),
        "window_seconds": round3(s.window_seconds),
        "gets_per_second": s.gets_per_second,
        "gets_per_second_max": s.gets_max(),
        "gets_per_second_mean": round3(s.gets_mean()),
        "gets_per_second_bound": s.gets_bound(),
        "sets_in_window": s.sets,
        "errors_in_window": s.errors,
        "resync_period_seconds_metric": round3(s.period_metric),
        "resync_period_seconds_expected": round3(s.expected_period(s.resources)),
        "resync_period_seconds_metric_end": round3(s.period_metric_end),
        "resync_period_seconds_expected_end": round3(s.expected_period(all)),
        "left_ready_in_window": s.left_ready,
        "left_ready_names": s.left_ready_names,
        "deferrals_in_window": s.deferrals,
        "new_resources": s.new_created,
        "new_not_ready": s.new_not_ready,
        "new_ready_ms": l.rounded(),
        "new_ready_ms_p50": p50,
        "new_ready_ms_p95": p95,
        "cpu": s.cpu.to_json(),
    })
}
