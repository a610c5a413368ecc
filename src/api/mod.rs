//! The custom resources of `cognitoidp.operators.dev/v1alpha1`: `UserPoolMfaConfig` (what a
//! tenant wants of a pool) and `UserPoolAccessPolicy` (what the platform team allows).

mod conditions;
mod user_pool_access_policy;
mod user_pool_mfa_config;

use kube::CustomResourceExt;

pub use conditions::*;
pub use user_pool_access_policy::*;
pub use user_pool_mfa_config::*;

/// API group of the custom resources.
pub const GROUP: &str = "cognitoidp.operators.dev";

/// Every CRD as (file name in `crds/`, YAML).
pub fn crds() -> Vec<(String, String)> {
    [UserPoolMfaConfig::crd(), UserPoolAccessPolicy::crd()]
        .into_iter()
        .map(|crd| {
            let file = format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default());
            let yaml = serde_saphyr::to_string(&crd).expect("a CRD serialises to YAML");
            (file, yaml)
        })
        .collect()
}
