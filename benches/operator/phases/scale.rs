//! Step 9/9 (table section 9): the convergence and idle phases again at `--scale-n` resources
//! (10,000): first the API server's bound for as many resources' writes (1b's measurement at
//! this size, so that the bound and the convergence have as many objects stored),
//! then cold convergence (pools pre-created, limiter off, resync `--idle-resync`, the
//! operator's default 10 min, so that no resync read falls within the convergence as none does
//! at `--n` with `--resync`) against that bound, the operator's CPU per 1,000 resources beside
//! the convergence phase's at `--n`, its peak RSS, then a fresh operator over them all: its
//! start-up pass and its idle CPU; then the more pairs of bound and convergence the ratio goal is
//! judged on.

use kube::Client;

use super::apiserver_ceiling::{self, ApiServerCeiling};
use super::convergence::{self, Convergence, Pair};
use super::idle::{self, Idle};
use crate::options::Opts;
use test_kit::Env;

const PREFIX: &str = "bench-scale";

pub struct Scale {
    pub apiserver: ApiServerCeiling,
    pub convergence: Convergence,
    pub idle: Idle,
    pub more_pairs: Vec<Pair>,
}

pub async fn run(env: &Env, client: &Client, o: &Opts, set_ceiling: f64) -> Scale {
    eprintln!(
        "bench: [9/9] scale: {} resources at once, limiter off, then a restart and {:?} idle",
        o.scale_n, o.idle
    );
    let apiserver = apiserver_ceiling::run(env, client, o, o.scale_n).await;
    let (convergence, fleet, running) = convergence::converge(
        env,
        client,
        o,
        o.scale_n,
        o.idle_resync,
        PREFIX,
        (set_ceiling, apiserver.bound()),
    )
    .await;
    drop(running); // its operator stops: the idle measurement has one of its own
    let idle = idle::run(env, client, o, &fleet).await;
    let more_pairs =
        convergence::more_pairs(env, client, o, fleet, o.idle_resync, PREFIX, set_ceiling).await;
    Scale {
        apiserver,
        convergence,
        idle,
        more_pairs,
    }
}
