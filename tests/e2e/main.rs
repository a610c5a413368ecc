//! End-to-end suite: the real operator binary against a real Kubernetes API server and the
//! Cognito emulator, driven as a user would (kubectl, the Kubernetes API) and checked by what
//! happened (status, emulator state, counted calls).
//!
//! The environment, the operator process and the waits come from the test kit (`tests/kit`).
//! Locally the environment comes from `tests/env/up`. Against any cluster, set
//! `E2E_KUBECONFIG` (its kubeconfig) and `E2E_COGNITO_ENDPOINT` (the emulator's URL).

mod access;
mod admission;
mod failures;
mod health;
mod lifecycle;
mod pacing;
mod process;
mod rbac;
mod restarts;
mod shards;
