//! `kubectl upmfa`: the kubectl plugin of cognito-mfa-operator. On PATH as `kubectl-upmfa`, it
//! runs the operator binary's `validate`, `diff` and `export` commands.

use std::process::ExitCode;

use clap::Parser;
use cognito_mfa_operator::tools::{Plugin, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    run(Plugin::parse().command).await
}
