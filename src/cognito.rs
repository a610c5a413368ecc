//! Every call to Amazon Cognito: one SDK client per region and caller, and conversion between
//! the SDK's types and `MfaSettings`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    EmailMfaConfigType, SmsConfigurationType, SmsMfaConfigType, SoftwareTokenMfaConfigType,
    UserPoolMfaType, UserVerificationType, WebAuthnConfigurationType,
    WebAuthnFactorConfigurationType,
};
use futures::future::BoxFuture;

use crate::api::{
    AwsIdentity, EmailMfaConfig, FactorConfiguration, MfaMode, MfaSettings, SmsConfiguration,
    SmsMfaConfig, SoftwareTokenMfaConfig, UserVerification, WebAuthnConfig,
};
use crate::logic::errors::{self, ErrorKind};
use crate::logic::partitions::partition_of;
use crate::logic::validation::pool_region;

/// The two operations, as named in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    SetUserPoolMfaConfig,
    GetUserPoolMfaConfig,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::SetUserPoolMfaConfig => "SetUserPoolMfaConfig",
            Operation::GetUserPoolMfaConfig => "GetUserPoolMfaConfig",
        }
    }
}

/// A failed Cognito call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_deref().unwrap_or("error"))]
pub struct CallError {
    pub kind: ErrorKind,
    /// The service's error code, when the service answered.
    pub code: Option<String>,
    /// The service's message, or a description of the local failure.
    pub message: String,
}

/// Set's and Get's outputs carry the same five fields under the same names.
macro_rules! settings_from {
    ($out:expr) => {
        from_sdk(
            $out.mfa_configuration(),
            $out.software_token_mfa_configuration(),
            $out.sms_mfa_configuration(),
            $out.email_mfa_configuration(),
            $out.web_authn_configuration(),
        )
    };
}

/// Who a call is made as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The operator's own credentials (the SDK's default chain).
    Operator,
    /// A role assumed for one resource: the session is named after it and tagged with its
    /// namespace and name, so CloudTrail shows which resource asked.
    Role {
        identity: AwsIdentity,
        namespace: String,
        name: String,
    },
}

impl Caller {
    /// The budget account: the role's account, or `operator` for the operator's own.
    pub fn account(&self) -> &str {
        match self {
            Caller::Operator => "operator",
            Caller::Role { identity, .. } => identity.account(),
        }
    }
}

/// STS RoleSessionName: 2 to 64 characters of `[\w+=,.@-]`.
fn session_name(namespace: &str, name: &str) -> String {
    format!("upmfa.{namespace}.{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

/// Cognito clients, one per region and caller; assumed-role clients cache their credentials
/// until shortly before they expire (the SDK's identity cache).
pub struct Cognito {
    base: SdkConfig,
    /// `base` with half of its timeouts, for AssumeRole (see `from_loader`).
    sts: SdkConfig,
    clients: Mutex<HashMap<(Caller, String), Client>>,
}

/// The Cognito calls a pass makes. `Cognito` makes them through the SDK; the controller's fast
/// tests put a fake in its place.
pub trait MfaCalls: Send + Sync {
    fn get<'a>(
        &'a self,
        pool_id: &'a str,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<MfaSettings, CallError>>;
    fn set<'a>(
        &'a self,
        pool_id: &'a str,
        caller: &'a Caller,
        settings: &'a MfaSettings,
    ) -> BoxFuture<'a, Result<MfaSettings, CallError>>;
    /// The partition of the operator's own credentials.
    fn partition(&self) -> Option<&'static str>;
    /// Drops what is kept for a deleted resource (its assumed-role sessions).
    fn forget(&self, namespace: &str, name: &str);
}

impl MfaCalls for Cognito {
    fn get<'a>(
        &'a self,
        pool_id: &'a str,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<MfaSettings, CallError>> {
        Box::pin(Cognito::get(self, pool_id, caller))
    }

    fn set<'a>(
        &'a self,
        pool_id: &'a str,
        caller: &'a Caller,
        settings: &'a MfaSettings,
    ) -> BoxFuture<'a, Result<MfaSettings, CallError>> {
        Box::pin(Cognito::set(self, pool_id, caller, settings))
    }

    fn partition(&self) -> Option<&'static str> {
        Cognito::partition(self)
    }

    fn forget(&self, namespace: &str, name: &str) {
        Cognito::forget(self, namespace, name)
    }
}

impl Cognito {
    /// Loads the SDK's default configuration: credentials from the default chain (environment,
    /// web identity / IRSA, EKS Pod Identity, profiles) and the standard endpoint override
    /// variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`).
    pub async fn from_env(timeout: Duration) -> Self {
        Self::from_loader(aws_config::defaults(BehaviorVersion::latest()), timeout).await
    }

    /// Like `from_env`, on a loader the caller has already adjusted (endpoint, credentials).
    pub async fn from_loader(loader: aws_config::ConfigLoader, timeout: Duration) -> Self {
        // With the SDK's retries off an operation is one attempt: an attempt timeout as well
        // would race the operation timeout, and the two messages would make one repeated
        // timeout look like a new error each time (a status write and an event per flip).
        let timeouts = |timeout: Duration| {
            TimeoutConfig::builder()
                .connect_timeout(timeout.min(Duration::from_secs(3)))
                .operation_timeout(timeout)
                .build()
        };
        let region =
            aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
        let base = loader
            .region(region)
            .timeout_config(timeouts(timeout))
            // Retries are the controller's job: it backs off per error kind, and the SDK's
            // own retries would hide calls from pacing and from the call accounting.
            .retry_config(RetryConfig::disabled())
            .load()
            .await;
        // A call's timeout also covers assuming its role. STS gets half of it, so a hung STS
        // fails as a credentials problem (with the other half left) instead of as a timeout
        // of Cognito.
        let sts = base
            .to_builder()
            .timeout_config(timeouts(timeout / 2))
            .build();
        Self {
            base,
            sts,
            clients: Mutex::default(),
        }
    }

    async fn client(&self, pool_id: &str, caller: &Caller) -> Result<Client, CallError> {
        let region = pool_region(pool_id).ok_or_else(|| CallError {
            kind: ErrorKind::InvalidParameter,
            code: None,
            message: format!("pool ID {pool_id:?} does not start with an AWS region"),
        })?;
        Ok(self.region_client(region, caller).await)
    }

    async fn region_client(&self, region: &str, caller: &Caller) -> Client {
        let key = (caller.clone(), region.to_owned());
        if let Some(client) = self.clients.lock().expect("client cache lock").get(&key) {
            return client.clone();
        }
        let mut config = aws_sdk_cognitoidentityprovider::config::Builder::from(&self.base)
            .region(Region::new(region.to_owned()));
        if let Caller::Role {
            identity,
            namespace,
            name,
        } = caller
        {
            let mut role = AssumeRoleProvider::builder(&identity.role_arn)
                .session_name(session_name(namespace, name))
                .tags([
                    ("kubernetes-namespace", namespace.as_str()),
                    ("kubernetes-name", name.as_str()),
                ])
                .configure(&self.sts);
            if let Some(id) = &identity.external_id {
                role = role.external_id(id);
            }
            config = config.credentials_provider(role.build().await);
        }
        let client = Client::from_conf(config.build());
        let mut clients = self.clients.lock().expect("client cache lock");
        clients.entry(key).or_insert(client).clone()
    }

    /// The partition of the operator's own credentials: that of its configured region.
    pub fn partition(&self) -> Option<&'static str> {
        self.base.region().and_then(|r| partition_of(r.as_ref()))
    }

    /// Drops the clients of a resource's assumed-role sessions (it was deleted).
    pub fn forget(&self, namespace: &str, name: &str) {
        self.clients.lock().expect("client cache lock").retain(|(caller, _), _| {
            !matches!(caller, Caller::Role { namespace: n, name: m, .. } if n == namespace && m == name)
        });
    }

    /// SetUserPoolMfaConfig with the complete configuration; returns what is now in force.
    pub async fn set(
        &self,
        pool_id: &str,
        caller: &Caller,
        s: &MfaSettings,
    ) -> Result<MfaSettings, CallError> {
        let out = self
            .client(pool_id, caller)
            .await?
            .set_user_pool_mfa_config()
            .user_pool_id(pool_id)
            .mfa_configuration(UserPoolMfaType::from(s.mfa_configuration.as_str()))
            .set_software_token_mfa_configuration(s.software_token_mfa_configuration.as_ref().map(
                |t| {
                    SoftwareTokenMfaConfigType::builder()
                        .enabled(t.enabled)
                        .build()
                },
            ))
            .set_sms_mfa_configuration(s.sms_mfa_configuration.as_deref().map(to_sdk_sms))
            .set_email_mfa_configuration(s.email_mfa_configuration.as_ref().map(|e| {
                EmailMfaConfigType::builder()
                    .set_message(e.message.clone())
                    .set_subject(e.subject.clone())
                    .build()
            }))
            .set_web_authn_configuration(s.web_authn_configuration.as_ref().map(|w| {
                WebAuthnConfigurationType::builder()
                    .set_relying_party_id(w.relying_party_id.clone())
                    .set_user_verification(w.user_verification.map(|u| match u {
                        UserVerification::Required => UserVerificationType::Required,
                        UserVerification::Preferred => UserVerificationType::Preferred,
                    }))
                    .set_factor_configuration(w.factor_configuration.map(|f| match f {
                        FactorConfiguration::SingleFactor => {
                            WebAuthnFactorConfigurationType::SingleFactor
                        }
                        FactorConfiguration::MultiFactorWithUserVerification => {
                            WebAuthnFactorConfigurationType::MultiFactorWithUserVerification
                        }
                    }))
                    .build()
            }))
            .send()
            .await
            .map_err(|e| classify(e, caller))?;
        Ok(settings_from!(out))
    }

    /// GetUserPoolMfaConfig.
    pub async fn get(&self, pool_id: &str, caller: &Caller) -> Result<MfaSettings, CallError> {
        let out = self
            .client(pool_id, caller)
            .await?
            .get_user_pool_mfa_config()
            .user_pool_id(pool_id)
            .send()
            .await
            .map_err(|e| classify(e, caller))?;
        Ok(settings_from!(out))
    }

    /// ListUserPools of one region, every page: `(pool ID, pool name)` in the service's order.
    /// The operator never lists; `export --all-in-region` does, with the caller's credentials.
    pub async fn list_pools(
        &self,
        region: &str,
        caller: &Caller,
    ) -> Result<Vec<(String, String)>, CallError> {
        if partition_of(region).is_none() {
            return Err(CallError {
                kind: ErrorKind::InvalidParameter,
                code: None,
                message: format!("{region:?} is not a region of any AWS partition"),
            });
        }
        let client = self.region_client(region, caller).await;
        let mut pools = Vec::new();
        let mut token = None;
        loop {
            let out = client
                .list_user_pools()
                .max_results(60) // the service's maximum
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(e, caller))?;
            pools.extend(out.user_pools().iter().filter_map(|p| {
                Some((p.id()?.to_owned(), p.name().unwrap_or_default().to_owned()))
            }));
            token = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(pools);
            }
        }
    }
}

fn to_sdk_sms(s: &SmsMfaConfig) -> SmsMfaConfigType {
    let c = &s.sms_configuration;
    SmsMfaConfigType::builder()
        .set_sms_authentication_message(s.sms_authentication_message.clone())
        .sms_configuration(
            SmsConfigurationType::builder()
                .sns_caller_arn(&c.sns_caller_arn)
                .set_external_id(c.external_id.clone())
                .set_sns_region(c.sns_region.clone())
                .build(),
        )
        .build()
}

fn from_sdk(
    mode: Option<&UserPoolMfaType>,
    totp: Option<&SoftwareTokenMfaConfigType>,
    sms: Option<&SmsMfaConfigType>,
    email: Option<&EmailMfaConfigType>,
    web_authn: Option<&WebAuthnConfigurationType>,
) -> MfaSettings {
    MfaSettings {
        mfa_configuration: match mode {
            Some(UserPoolMfaType::On) => MfaMode::On,
            Some(UserPoolMfaType::Optional) => MfaMode::Optional,
            _ => MfaMode::Off,
        },
        software_token_mfa_configuration: totp.map(|t| SoftwareTokenMfaConfig {
            enabled: t.enabled(),
        }),
        sms_mfa_configuration: sms.and_then(|s| {
            let c = s.sms_configuration()?;
            Some(Box::new(SmsMfaConfig {
                sms_authentication_message: s.sms_authentication_message().map(str::to_owned),
                sms_configuration: SmsConfiguration {
                    sns_caller_arn: c.sns_caller_arn().to_owned(),
                    external_id: c.external_id().map(str::to_owned),
                    sns_region: c.sns_region().map(str::to_owned),
                },
            }))
        }),
        email_mfa_configuration: email.map(|e| {
            Box::new(EmailMfaConfig {
                message: e.message().map(str::to_owned),
                subject: e.subject().map(str::to_owned),
            })
        }),
        web_authn_configuration: web_authn.map(|w| WebAuthnConfig {
            relying_party_id: w.relying_party_id().map(str::to_owned),
            user_verification: w.user_verification().and_then(|u| match u {
                UserVerificationType::Required => Some(UserVerification::Required),
                UserVerificationType::Preferred => Some(UserVerification::Preferred),
                _ => None,
            }),
            factor_configuration: w.factor_configuration().and_then(|f| match f {
                WebAuthnFactorConfigurationType::SingleFactor => {
                    Some(FactorConfiguration::SingleFactor)
                }
                WebAuthnFactorConfigurationType::MultiFactorWithUserVerification => {
                    Some(FactorConfiguration::MultiFactorWithUserVerification)
                }
                _ => None,
            }),
        }),
    }
}

/// Sorts an SDK failure of a call made as `caller` into an error kind, keeping the service's
/// code and message.
fn classify<E, R>(err: SdkError<E, R>, caller: &Caller) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &err {
        let e = service.err();
        let code = e.code().unwrap_or("Unknown").to_owned();
        return CallError {
            kind: ErrorKind::from_code(&code),
            message: e.message().unwrap_or_default().to_owned(),
            code: Some(code),
        };
    }
    let timed_out = match &err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    let role = match caller {
        Caller::Operator => None,
        Caller::Role { identity, .. } => Some(identity.role_arn.as_str()),
    };
    let (kind, message) =
        errors::local_failure(timed_out, role, &DisplayErrorContext(&err).to_string());
    CallError {
        kind,
        code: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_fit_sts_rules() {
        assert_eq!(session_name("team-a", "prod.mfa"), "upmfa.team-a.prod.mfa");
        assert_eq!(
            session_name(&"n".repeat(63), &"m".repeat(253)),
            format!("upmfa.{}", "n".repeat(58)),
            "cut at 64 characters"
        );
        let fits = "m".repeat(56);
        assert_eq!(
            session_name("a", &fits),
            format!("upmfa.a.{fits}"),
            "64 fit whole"
        );
        assert_eq!(
            session_name("a", &format!("{fits}x")),
            format!("upmfa.a.{fits}"),
            "the 65th is cut"
        );
        assert_eq!(session_name("a", "b:c/d é_+=,@"), "upmfa.a.b-c-d--_+=,@");
    }
}
