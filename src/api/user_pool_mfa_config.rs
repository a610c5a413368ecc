//! The `UserPoolMfaConfig` custom resource (`cognitoidp.operators.dev/v1alpha1`).
//!
//! Doc comments here become the CRD's field documentation (`kubectl explain`), and the
//! `x_kube(validation)` rules become its CEL admission rules. `crate::logic::validation` checks
//! the same rules again in the operator, because a cluster may still run an older CRD.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
#[allow(unused_imports)] // used inside x_kube attributes
use kube::core::{ListMerge, Rule};
use kube::runtime::reflector::ObjectRef;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Conditions;

/// Finalizer present only while `deletionPolicy` is `Reset` or `Restore`.
pub const RESET_FINALIZER: &str = "cognitoidp.operators.dev/reset-mfa";
/// Setting this annotation to a new value (e.g. the time) asks for a pass now; the status echoes
/// the value it handled in `lastHandledReconcileAt` (Flux's `requestedAt` pattern).
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.cognitoidp.operators.dev/requestedAt";
/// The placeholder Cognito replaces with the one-time code.
pub const CODE_PLACEHOLDER: &str = "{####}";

/// Desired MFA configuration of an existing Amazon Cognito user pool.
///
/// The operator keeps the pool's MFA configuration (SetUserPoolMfaConfig) equal to this spec,
/// corrects drift at every resync, and reports in `status.conditions` whether the pool matches.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "cognitoidp.operators.dev",
    version = "v1alpha1",
    kind = "UserPoolMfaConfig",
    plural = "userpoolmfaconfigs",
    shortname = "upmfa",
    category = "cognito",
    namespaced,
    doc = "Keeps the MFA configuration of an existing Amazon Cognito user pool equal to its spec.",
    status = "UserPoolMfaConfigStatus",
    derive = "PartialEq",
    annotation("argocd.argoproj.io/sync-wave", "-1"),
    printcolumn = r#"{"name":"Pool","type":"string","jsonPath":".spec.userPoolId"}"#,
    printcolumn = r#"{"name":"MFA","type":"string","jsonPath":".spec.mfaConfiguration"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Policy","type":"string","priority":1,"jsonPath":".spec.managementPolicy"}"#,
    printcolumn = r#"{"name":"Live","type":"string","priority":1,"jsonPath":".status.liveConfiguration.mfaConfiguration"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[x_kube(
    validation = Rule::new("self.mfaConfiguration == 'OFF' || (has(self.softwareTokenMfaConfiguration) && self.softwareTokenMfaConfiguration.enabled) || has(self.smsMfaConfiguration) || has(self.emailMfaConfiguration)")
        .message("mfaConfiguration ON or OPTIONAL needs an enabled factor: softwareTokenMfaConfiguration.enabled, smsMfaConfiguration or emailMfaConfiguration (webAuthnConfiguration is not an MFA factor)")
        .field_path(".mfaConfiguration"),
    validation = Rule::new("self.mfaConfiguration != 'OFF' || !((has(self.softwareTokenMfaConfiguration) && self.softwareTokenMfaConfiguration.enabled) || has(self.smsMfaConfiguration) || has(self.emailMfaConfiguration))")
        .message("mfaConfiguration OFF cannot be combined with an enabled factor: remove smsMfaConfiguration and emailMfaConfiguration and set softwareTokenMfaConfiguration.enabled to false")
        .field_path(".mfaConfiguration"),
    validation = Rule::new("!has(self.deletionPolicy) || self.deletionPolicy == 'Retain' || !has(self.managementPolicy) || self.managementPolicy != 'Observe'")
        .message("deletionPolicy Reset or Restore writes to Cognito and needs managementPolicy Manage")
        .field_path(".deletionPolicy")
)]
#[serde(rename_all = "camelCase")]
pub struct UserPoolMfaConfigSpec {
    /// ID of the existing Cognito user pool, e.g. `us-east-1_AbCdEf123`. The part before `_` is
    /// the pool's AWS region, which the operator calls. Immutable: create another resource for
    /// another pool.
    #[schemars(length(min = 1, max = 55), regex(pattern = r"^[\w-]+_[0-9a-zA-Z]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("is immutable: create another UserPoolMfaConfig for another pool"))]
    pub user_pool_id: String,

    /// The MFA configuration the pool must have.
    #[serde(flatten)]
    pub mfa: MfaSettings,

    /// `Manage` (default) writes the spec to Cognito and corrects drift. `Observe` only reads the
    /// pool and reports whether it matches; it never writes to Cognito.
    #[serde(default)]
    pub management_policy: ManagementPolicy,

    /// What deleting this resource does to the pool. `Retain` (default) leaves the pool as it is.
    /// `Reset` turns the pool's MFA OFF, with no factor configured, before the resource goes away.
    /// `Restore` puts back the configuration the pool had before this resource first wrote to
    /// it, which the operator reads once, before that write, into `status.originalConfiguration`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// The MFA settings of a user pool, as SetUserPoolMfaConfig takes them. Used for the desired
/// configuration (spec) and for the live configuration read from Cognito (status).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MfaSettings {
    /// `OFF`: MFA is not used. `ON`: every user must sign in with an MFA factor. `OPTIONAL`: MFA
    /// is required only for users who have set up a factor.
    pub mfa_configuration: MfaMode,

    /// Time-based one-time passwords from an authenticator app (TOTP). Absent means disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_token_mfa_configuration: Option<SoftwareTokenMfaConfig>,

    /// SMS text message codes. Present means SMS MFA is enabled; absent means disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Boxed, like email: every cached resource holds two of these settings (spec and status),
    // and most use neither factor.
    pub sms_mfa_configuration: Option<Box<SmsMfaConfig>>,

    /// Email codes. Present means email MFA is enabled; absent means disabled. Needs a pool on the
    /// Essentials or Plus feature plan that sends email through Amazon SES.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_mfa_configuration: Option<Box<EmailMfaConfig>>,

    /// Passkey (WebAuthn) settings. Not an MFA factor: it does not satisfy ON or OPTIONAL. Needs
    /// the Essentials feature plan or higher. Absent means the service defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_authn_configuration: Option<WebAuthnConfig>,
}

/// MFA mode of the pool.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum MfaMode {
    /// MFA is not used.
    #[default]
    Off,
    /// MFA is required for every user.
    On,
    /// MFA is required for users who have a factor set up.
    Optional,
}

impl MfaMode {
    /// The value as Cognito spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Off => "OFF",
            MfaMode::On => "ON",
            MfaMode::Optional => "OPTIONAL",
        }
    }
}

/// TOTP (authenticator app) MFA.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SoftwareTokenMfaConfig {
    /// Whether TOTP MFA is enabled.
    #[serde(default)]
    pub enabled: bool,
}

/// SMS MFA: the message template and the SNS sending role.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SmsMfaConfig {
    /// Text of the SMS message; must contain the code placeholder `{####}`. When left out the
    /// service default is used and not compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6, max = 140))]
    #[x_kube(validation = Rule::new("self.contains('{####}')").message("must contain the code placeholder {####}"))]
    pub sms_authentication_message: Option<String>,

    /// How Cognito sends SMS messages through Amazon SNS.
    pub sms_configuration: SmsConfiguration,
}

/// The IAM role Cognito assumes to publish SMS messages through Amazon SNS.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SmsConfiguration {
    /// ARN of the IAM role that Cognito assumes to publish through SNS, e.g.
    /// `arn:aws:iam::123456789012:role/cognito-sms`. The operator needs `iam:PassRole` on it.
    /// Stricter than the API, which takes any ARN: only an IAM role can be assumed, so anything
    /// else is refused here instead of failing later at Cognito.
    #[schemars(
        length(min = 20, max = 2048),
        regex(pattern = r"^arn:[\w+=/,.@-]+:iam::[0-9]{12}:role/[\w+=/,.@-]+$")
    )]
    pub sns_caller_arn: String,

    /// External ID that the role's trust policy expects from Cognito. Left out: not compared.
    /// At most 1224 characters: the API would take more, but IAM's `sts:ExternalId` condition
    /// cannot hold more, so a longer one could never match the trust policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1224))]
    pub external_id: Option<String>,

    /// AWS region of the SNS endpoint used to send SMS. Left out: the service default, not
    /// compared. The API checks only the length (5 to 32); the pattern of a region code is
    /// checked too, so a typo is refused at admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 5, max = 32),
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    )]
    pub sns_region: Option<String>,
}

/// Email MFA: the message template.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EmailMfaConfig {
    /// Body of the email; must contain the code placeholder `{####}`. When left out the service
    /// default is used and not compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6, max = 20000))]
    #[x_kube(validation = Rule::new("self.contains('{####}')").message("must contain the code placeholder {####}"))]
    pub message: Option<String>,

    /// Subject of the email, 1 to 140 characters (the service's documented limit; the API model
    /// states none). When left out the service default is used and not compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 140))]
    pub subject: Option<String>,
}

/// Passkey (WebAuthn) settings of the pool.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebAuthnConfig {
    /// Relying party ID: the domain passkeys are bound to, e.g. `auth.example.com`, 1 to 127
    /// characters. Left out: the pool's own domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 127))]
    pub relying_party_id: Option<String>,

    /// Whether authenticators must verify the user (PIN, biometrics). Default `preferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<UserVerification>,

    /// Whether a passkey alone signs a user in (`SINGLE_FACTOR`, default) or only together with
    /// user verification (`MULTI_FACTOR_WITH_USER_VERIFICATION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_configuration: Option<FactorConfiguration>,
}

/// WebAuthn user verification requirement.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    /// The authenticator must verify the user.
    Required,
    /// The authenticator verifies the user when it can.
    #[default]
    Preferred,
}

/// How passkeys count at sign-in.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FactorConfiguration {
    /// A passkey alone signs the user in.
    #[default]
    SingleFactor,
    /// A passkey signs the user in only with user verification.
    MultiFactorWithUserVerification,
}

/// Whether the operator writes to Cognito.
#[derive(
    JsonSchema,
    Deserialize,
    Serialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
)]
pub enum ManagementPolicy {
    /// Write the spec to Cognito and correct drift.
    #[default]
    Manage,
    /// Read and report only; never write to Cognito.
    Observe,
}

/// What deleting the resource does to the pool.
#[derive(
    JsonSchema,
    Deserialize,
    Serialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
)]
pub enum DeletionPolicy {
    /// Leave the pool's MFA configuration as it is.
    #[default]
    Retain,
    /// Turn the pool's MFA OFF, with no factor configured, before the resource goes away.
    Reset,
    /// Put back the configuration the pool had before this resource first wrote to it.
    Restore,
}

/// Observed state of a `UserPoolMfaConfig`.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserPoolMfaConfigStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready` is `True` when the pool's MFA configuration matches the spec; otherwise its reason
    /// says what stands in the way (see the README for every reason).
    #[serde(default)]
    #[schemars(with = "Vec<Condition>")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Conditions,

    /// The pool's MFA configuration as Cognito last returned it (after a write or a read),
    /// normalised: disabled factors are absent. It has the spec's shape without the spec's
    /// rules: Cognito may hold values that the spec would refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "live_configuration_schema")]
    pub live_configuration: Option<MfaSettings>,

    /// With `deletionPolicy: Restore`: the pool's configuration as read before this resource
    /// first wrote to it, which deletion puts back. Recorded once, then kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "live_configuration_schema")]
    // Boxed: absent from most resources, and every cached resource would reserve its size.
    pub original_configuration: Option<Box<MfaSettings>>,

    /// The AWS identity of the last Cognito call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<CallerIdentity>,

    /// When Cognito last took or confirmed the desired configuration after a change. Resyncs that
    /// find nothing to do leave it alone, so a steady state causes no status writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// The value of the `reconcile.cognitoidp.operators.dev/requestedAt` annotation that the
    /// last pass handled: when it equals the annotation, the requested pass has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// The AWS identity a call was made with (never a secret).
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CallerIdentity {
    /// The IAM role assumed for the call; absent when the operator's own credentials were used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The AWS account of that role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The UserPoolAccessPolicies that permitted the call (empty when enforcement is off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
}

/// An object of any fields: the status records what Cognito returned, which the spec's length
/// limits and CEL rules must not reject.
fn live_configuration_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
        "description": "The pool's MFA configuration as Cognito last returned it, normalised (disabled factors are absent), in the spec's field names.",
    })
}

impl UserPoolMfaConfig {
    /// A reference to this resource by namespace and name only: the controller's queue and the
    /// claims index hold one per resource, and the UID and version `ObjectRef::from_obj` also
    /// copies would be two more strings each (references compare without them).
    pub fn reference(&self) -> ObjectRef<Self> {
        let name = ObjectRef::new(self.metadata.name.as_deref().unwrap_or_default());
        match &self.metadata.namespace {
            Some(ns) => name.within(ns),
            None => name,
        }
    }
}

impl UserPoolMfaConfigStatus {
    /// The `Ready` condition, if any.
    pub fn ready(&self) -> Option<&Condition> {
        self.conditions.ready()
    }
}
