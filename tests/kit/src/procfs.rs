//! CPU time and memory of the operator, the environment's processes, this process and the
//! machine, read from /proc (Linux only, like the local environment).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

/// Rounds to three decimals, the precision of the JSON reports.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Fields of /proc/<pid>/stat after the command name (index 0 is field 3, `state`).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    stat_fields(pid)
        .and_then(|f| Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?))
        .map(|ticks| ticks / clock_ticks())
        .unwrap_or(f64::NAN)
}

/// A `Vm*` line of /proc/<pid>/status, in KiB.
pub fn vm_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Jiffies of all CPUs, from /proc/stat.
#[derive(Clone, Copy)]
struct MachineJiffies {
    busy: f64,
    /// Time the hypervisor gave this machine's CPUs to others (counted in `busy`): on a shared
    /// VM it varies from run to run and slows whatever runs meanwhile.
    steal: f64,
    total: f64,
}

fn machine_jiffies() -> MachineJiffies {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let field = |i: usize| v.get(i).copied().unwrap_or(0.0);
    MachineJiffies {
        busy: total - field(3) - field(4),
        steal: field(7),
        total,
    }
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The processes of the local environment (children of our `tests/env/up`), by role.
fn env_processes() -> Vec<(&'static str, u32)> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let me = std::process::id();
    let Some(up) = children
        .get(&me)
        .into_iter()
        .flatten()
        .copied()
        .find(|p| cmdline(*p).contains("tests/env/up"))
    else {
        return vec![];
    };
    let mut out = vec![];
    let mut todo = vec![up];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            let cmd = cmdline(c);
            let role = if cmd.contains("cognito_emulator.py") || cmd.contains("moto_server") {
                Some("emulator")
            } else if cmd.contains("apiextensions-apiserver") {
                Some("apiserver")
            } else if cmd
                .split_whitespace()
                .next()
                .is_some_and(|b| b.ends_with("/etcd"))
            {
                Some("etcd")
            } else {
                None
            };
            if let Some(role) = role {
                out.push((role, c));
            }
            todo.push(c);
        }
    }
    out
}

/// CPU seconds of the operator, the environment's processes, this process and the machine.
#[derive(Clone)]
pub struct CpuSnapshot {
    at: Instant,
    per: BTreeMap<String, f64>,
    machine: MachineJiffies,
}

/// `operator`: the operator process to include, if one runs.
pub fn cpu_snapshot(operator: Option<u32>) -> CpuSnapshot {
    let mut per = BTreeMap::new();
    if let Some(pid) = operator {
        per.insert("operator".to_owned(), cpu_seconds(pid));
    }
    for (role, pid) in env_processes() {
        *per.entry(role.to_owned()).or_insert(0.0) += cpu_seconds(pid);
    }
    per.insert("bench".to_owned(), cpu_seconds(std::process::id()));
    CpuSnapshot {
        at: Instant::now(),
        per,
        machine: machine_jiffies(),
    }
}

/// CPU seconds per process between two snapshots, with the wall time and the machine's busy
/// jiffies between them.
#[derive(Clone, Debug)]
pub struct CpuDelta {
    wall: f64,
    /// CPU seconds of each process present in both snapshots.
    per: BTreeMap<String, f64>,
    machine_busy: f64,
    machine_steal: f64,
    machine_total: f64,
}

impl CpuDelta {
    pub fn between(a: &CpuSnapshot, b: &CpuSnapshot) -> Self {
        let per = b
            .per
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v - a.per.get(k)?)))
            .collect();
        CpuDelta {
            wall: b.at.duration_since(a.at).as_secs_f64(),
            per,
            machine_busy: b.machine.busy - a.machine.busy,
            machine_steal: b.machine.steal - a.machine.steal,
            machine_total: b.machine.total - a.machine.total,
        }
    }

    /// A process's CPU seconds.
    pub fn cpu_seconds(&self, process: &str) -> Option<f64> {
        self.per.get(process).copied()
    }

    /// A process's cores: CPU seconds per wall second.
    pub fn cores(&self, process: &str) -> Option<f64> {
        self.per.get(process).map(|secs| secs / self.wall)
    }

    fn machine_fraction(&self, jiffies: f64) -> f64 {
        if self.machine_total > 0.0 {
            round3(jiffies / self.machine_total)
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        let per: serde_json::Map<String, Value> = self
            .per
            .iter()
            .map(|(k, secs)| {
                (
                    k.clone(),
                    json!({"cpu_seconds": round3(*secs), "cores": round3(secs / self.wall)}),
                )
            })
            .collect();
        json!({
            "wall_seconds": round3(self.wall),
            "processes": per,
            "machine_busy_fraction": self.machine_fraction(self.machine_busy),
            "machine_steal_fraction": self.machine_fraction(self.machine_steal),
        })
    }
}

/// RSS of a process in MiB, rounded to 0.001 as reported: now, its peak, and the now-split
/// into anonymous and file-backed pages.
#[derive(Clone, Debug)]
pub struct Rss {
    pub vm_hwm: f64,
    pub vm_rss: f64,
    pub rss_anon: f64,
    pub rss_file: f64,
}

impl Rss {
    pub fn of(pid: u32) -> Self {
        let m = |key| round3(mib(vm_kib(pid, key)));
        Rss {
            vm_hwm: m("VmHWM"),
            vm_rss: m("VmRSS"),
            rss_anon: m("RssAnon"),
            rss_file: m("RssFile"),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "VmHWM": self.vm_hwm,
            "VmRSS": self.vm_rss,
            "RssAnon": self.rss_anon,
            "RssFile": self.rss_file,
        })
    }
}

/// The machine the run measured.
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|x| x.1.trim().to_owned())
            })
            .unwrap_or_default();
        let mem_kib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu_model,
            memory_mib: mem_kib / 1024,
            kernel: kernel.trim().to_owned(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "cores": self.cores,
            "cpu_model": self.cpu_model,
            "memory_mib": self.memory_mib,
            "kernel": self.kernel,
        })
    }
}
