//! The `UserPoolAccessPolicy` custom resource (`cognitoidp.operators.dev/v1alpha1`,
//! cluster-scoped): what the platform team lets each namespace do with which pools.
//!
//! Tenants write `UserPoolMfaConfig`s; only cluster admins write these. A `UserPoolMfaConfig`
//! that no policy permits makes no Cognito call at all. `crate::logic::access` decides.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
#[allow(unused_imports)] // used inside x_kube attributes
use kube::core::Rule;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DeletionPolicy, ManagementPolicy, MfaMode};

/// Which namespaces may claim which Cognito user pools, with which AWS identity, and the MFA
/// the pools must keep at least.
///
/// A `UserPoolMfaConfig` in namespace N for pool P is permitted when a policy selects N in
/// `namespaces` and covers P in `userPools`. Every policy that permits it applies its limits
/// (`allowedManagementPolicies`, `allowedDeletionPolicies`, `identity`), and every policy that
/// covers P applies its `mfaFloor`, whichever namespaces it selects.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "cognitoidp.operators.dev",
    version = "v1alpha1",
    kind = "UserPoolAccessPolicy",
    plural = "userpoolaccesspolicies",
    shortname = "upap",
    category = "cognito",
    doc = "Lets namespaces claim Cognito user pools: with which AWS identity, which policies, and which MFA floor.",
    derive = "PartialEq",
    annotation("argocd.argoproj.io/sync-wave", "-1"),
    printcolumn = r#"{"name":"Pools","type":"string","jsonPath":".spec.userPools"}"#,
    printcolumn = r#"{"name":"Role","type":"string","jsonPath":".spec.identity.roleArn"}"#,
    printcolumn = r#"{"name":"Floor","type":"string","jsonPath":".spec.mfaFloor.mfaConfiguration"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct UserPoolAccessPolicySpec {
    /// The namespaces this policy lets claim the pools: those named in `names` and those whose
    /// labels match `selector` (an empty selector `{}` selects every namespace). Left out, the
    /// policy permits no namespace and only sets its `mfaFloor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<NamespaceSelector>,

    /// The pools this policy covers: exact pool IDs (`eu-west-1_AbC123`) or patterns in which
    /// `*` stands for any run of characters (`eu-west-1_*`, `*`).
    #[schemars(
        length(min = 1),
        inner(length(min = 1, max = 55), regex(pattern = r"^[\w*-]+$"))
    )]
    pub user_pools: Vec<String>,

    /// The AWS identity the operator calls these pools with for the namespaces this policy
    /// permits. Left out, the operator's own credentials are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AwsIdentity>,

    /// The `managementPolicy` values permitted resources may use. Left out: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_management_policies: Option<Vec<ManagementPolicy>>,

    /// The `deletionPolicy` values permitted resources may use. Left out: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_deletion_policies: Option<Vec<DeletionPolicy>>,

    /// The least MFA the covered pools may have. A `Manage` spec below it is refused with the
    /// reason `BelowMfaFloor`, and `deletionPolicy: Reset` does not turn MFA off on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_floor: Option<MfaFloor>,
}

/// Namespaces by name and/or by labels.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.names) || has(self.selector)").message("name namespaces in names, select them with selector, or leave namespaces out for a floor-only policy"),
    validation = Rule::new("!has(self.selector) || !has(self.selector.matchExpressions) || self.selector.matchExpressions.all(e, (e.operator in ['In', 'NotIn'] && has(e.values) && size(e.values) > 0) || (e.operator in ['Exists', 'DoesNotExist'] && (!has(e.values) || size(e.values) == 0)))").message("selector.matchExpressions: operator must be In or NotIn with values, or Exists or DoesNotExist without").field_path(".selector")
)]
pub struct NamespaceSelector {
    /// Namespaces by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,

    /// Namespaces whose labels match; `{}` matches every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// An IAM role the operator assumes (STS AssumeRole) to call the covered pools.
#[derive(
    KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub struct AwsIdentity {
    /// ARN of the role, e.g. `arn:aws:iam::222222222222:role/cognito-mfa`. Its trust policy must
    /// let the operator's own role call `sts:AssumeRole` and `sts:TagSession`: each session is
    /// named after the resource and tagged `kubernetes-namespace` and `kubernetes-name`.
    #[schemars(
        length(min = 20, max = 2048),
        regex(pattern = r"^arn:[\w+=/,.@-]+:iam::[0-9]{12}:role/[\w+=/,.@-]+$")
    )]
    pub role_arn: String,

    /// The external ID the role's trust policy requires (STS allows 2 to 1224 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/-]+$"))]
    pub external_id: Option<String>,
}

impl AwsIdentity {
    /// The 12-digit account of the role.
    pub fn account(&self) -> &str {
        self.role_arn.split(':').nth(4).unwrap_or_default()
    }
}

/// The least MFA a pool may have.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.mfaConfiguration != 'OFF'").message("a floor of OFF allows everything: use OPTIONAL or ON").field_path(".mfaConfiguration")
)]
pub struct MfaFloor {
    /// `ON`: the pool must require MFA. `OPTIONAL`: the pool must offer MFA at least (`ON` or
    /// `OPTIONAL`).
    pub mfa_configuration: MfaMode,

    /// Factors the spec must enable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_factors: Vec<MfaFactor>,
}

/// An MFA factor.
#[derive(
    JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum MfaFactor {
    /// Authenticator app codes (`softwareTokenMfaConfiguration.enabled: true`).
    Totp,
    /// SMS codes (`smsMfaConfiguration`).
    Sms,
    /// Email codes (`emailMfaConfiguration`).
    Email,
}

impl MfaFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaFactor::Totp => "TOTP",
            MfaFactor::Sms => "SMS",
            MfaFactor::Email => "EMAIL",
        }
    }
}
