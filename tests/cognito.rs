//! The Cognito client through the real AWS SDK against the emulator over HTTP: round trips of
//! every factor, the service's rules, and every error kind classified.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};
use cognito_mfa_operator::api::MfaSettings;
use cognito_mfa_operator::cognito::{Caller, Cognito};
use cognito_mfa_operator::logic::drift::{diff, normalise, reset};
use cognito_mfa_operator::logic::errors::ErrorKind;
use serde_json::json;
use test_kit::Emulator;

async fn client(endpoint: &str, timeout: Duration) -> Cognito {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"));
    Cognito::from_loader(loader, timeout).await
}

fn settings(v: serde_json::Value) -> MfaSettings {
    serde_json::from_value(v).unwrap()
}

fn everything() -> MfaSettings {
    settings(json!({
        "mfaConfiguration": "ON",
        "softwareTokenMfaConfiguration": {"enabled": true},
        "smsMfaConfiguration": {
            "smsAuthenticationMessage": "Your code is {####}",
            "smsConfiguration": {"snsCallerArn": "arn:aws:iam::123456789012:role/cognito-sms", "externalId": "ext-1", "snsRegion": "us-east-1"}
        },
        "emailMfaConfiguration": {"message": "Your sign-in code is {####}", "subject": "Sign-in code"},
        "webAuthnConfiguration": {"relyingPartyId": "auth.example.com", "userVerification": "required", "factorConfiguration": "MULTI_FACTOR_WITH_USER_VERIFICATION"}
    }))
}

#[tokio::test]
async fn every_factor_round_trips() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(10)).await;
    let pool = emu.create_pool("us-east-1");

    let desired = everything();
    let echoed = cognito
        .set(&pool, &Caller::Operator, &desired)
        .await
        .unwrap();
    assert_eq!(
        diff(&desired, &echoed),
        Vec::<&str>::new(),
        "Set echoes what is in force"
    );
    let read = cognito.get(&pool, &Caller::Operator).await.unwrap();
    assert_eq!(normalise(read), normalise(desired.clone()));
    let held = emu.mfa(&pool);
    assert_eq!(held["EmailMfaConfiguration"]["Subject"], "Sign-in code");
    assert_eq!(
        held["WebAuthnConfiguration"]["RelyingPartyId"],
        "auth.example.com"
    );
    assert_eq!(emu.calls(&pool, "SetUserPoolMfaConfig"), 1);
    assert_eq!(emu.calls(&pool, "GetUserPoolMfaConfig"), 1);
}

#[tokio::test]
async fn set_replaces_the_whole_configuration() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(10)).await;
    let pool = emu.create_pool("eu-west-1");
    cognito
        .set(&pool, &Caller::Operator, &everything())
        .await
        .unwrap();

    let totp_only = settings(
        json!({"mfaConfiguration": "OPTIONAL", "softwareTokenMfaConfiguration": {"enabled": true}}),
    );
    cognito
        .set(&pool, &Caller::Operator, &totp_only)
        .await
        .unwrap();
    assert_eq!(
        normalise(cognito.get(&pool, &Caller::Operator).await.unwrap()),
        totp_only
    );

    cognito
        .set(&pool, &Caller::Operator, &reset())
        .await
        .unwrap();
    assert_eq!(
        normalise(cognito.get(&pool, &Caller::Operator).await.unwrap()),
        reset()
    );
}

#[tokio::test]
async fn the_service_rules_answer_invalid_parameter() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(10)).await;
    let pool = emu.create_pool("us-east-1");
    let role = json!({"snsCallerArn": "arn:aws:iam::123456789012:role/sms"});
    let bad = [
        json!({"mfaConfiguration": "ON"}),
        json!({"mfaConfiguration": "OPTIONAL", "webAuthnConfiguration": {"relyingPartyId": "a.example"}}),
        json!({"mfaConfiguration": "OFF", "softwareTokenMfaConfiguration": {"enabled": true}}),
        json!({"mfaConfiguration": "ON", "smsMfaConfiguration": {"smsAuthenticationMessage": "no placeholder", "smsConfiguration": role}}),
        json!({"mfaConfiguration": "ON", "emailMfaConfiguration": {"message": "no placeholder here"}}),
    ];
    for b in bad {
        let err = cognito
            .set(&pool, &Caller::Operator, &settings(b.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParameter, "{b}: {err}");
        assert!(!err.message.is_empty(), "the service's message is kept");
    }
    assert_eq!(
        normalise(cognito.get(&pool, &Caller::Operator).await.unwrap()),
        reset(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn feature_plan_and_email_sending_are_enforced() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(10)).await;
    let email = settings(
        json!({"mfaConfiguration": "ON", "emailMfaConfiguration": {"message": "Code {####}", "subject": "Code"}}),
    );
    let web_authn = settings(
        json!({"mfaConfiguration": "OFF", "webAuthnConfiguration": {"relyingPartyId": "a.example"}}),
    );

    let lite = emu.create_pool_with("us-east-1", "LITE", "DEVELOPER");
    assert_eq!(
        cognito
            .set(&lite, &Caller::Operator, &email)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::FeatureUnavailableInTier
    );
    assert_eq!(
        cognito
            .set(&lite, &Caller::Operator, &web_authn)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::FeatureUnavailableInTier
    );

    let no_ses = emu.create_pool_with("us-east-1", "ESSENTIALS", "COGNITO_DEFAULT");
    assert_eq!(
        cognito
            .set(&no_ses, &Caller::Operator, &email)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::InvalidParameter
    );
    cognito
        .set(&no_ses, &Caller::Operator, &web_authn)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_error_kind_is_classified_with_code_and_message() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(10)).await;
    let pool = emu.create_pool("us-east-1");
    let errors = test_kit::service_errors();
    assert!(errors.len() >= 10, "the shared table of error codes");
    for e in &errors {
        let code = e.code.as_str();
        for op in ["SetUserPoolMfaConfig", "GetUserPoolMfaConfig"] {
            emu.fault(&pool, op, code, json!({"count": 1}));
            let err = match op {
                "SetUserPoolMfaConfig" => cognito
                    .set(&pool, &Caller::Operator, &reset())
                    .await
                    .unwrap_err(),
                _ => cognito.get(&pool, &Caller::Operator).await.unwrap_err(),
            };
            assert_eq!(
                (format!("{:?}", err.kind), err.code.as_deref()),
                (e.kind.clone(), Some(code)),
                "{op}"
            );
            assert_eq!(err.kind.reason().as_str(), e.reason, "{code}");
            assert_eq!(err.message, format!("injected {code}"));
        }
    }
    // Faults were one-shot: the pool answers again.
    cognito.get(&pool, &Caller::Operator).await.unwrap();
}

#[tokio::test]
async fn a_missing_pool_is_resource_not_found() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(10)).await;
    let err = cognito
        .get("us-east-1_DoesNotExist1", &Caller::Operator)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ResourceNotFound, "{err}");
    let err = cognito
        .set("us-east-1_DoesNotExist1", &Caller::Operator, &reset())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ResourceNotFound, "{err}");
}

#[tokio::test]
async fn a_hung_call_times_out() {
    let emu = Emulator::start();
    let cognito = client(&emu.url, Duration::from_secs(1)).await;
    let pool = emu.create_pool("us-east-1");
    emu.fault(
        &pool,
        "GetUserPoolMfaConfig",
        "Timeout",
        json!({"delaySeconds": 5, "count": 1}),
    );
    let started = std::time::Instant::now();
    let err = cognito.get(&pool, &Caller::Operator).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut at the timeout, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_network_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cognito = client(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).await;
    let err = cognito
        .get("us-east-1_Abc", &Caller::Operator)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network, "{err}");
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no credentials in this test",
        )))
    }
}

#[tokio::test]
async fn missing_credentials_are_reported_as_such() {
    let emu = Emulator::start();
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&emu.url)
        .credentials_provider(NoCredentials);
    let cognito = Cognito::from_loader(loader, Duration::from_secs(5)).await;
    let pool = emu.create_pool("us-east-1");
    let err = cognito.get(&pool, &Caller::Operator).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials, "{err}");
    assert_eq!(
        emu.calls(&pool, "GetUserPoolMfaConfig"),
        0,
        "nothing reached the service"
    );
}
