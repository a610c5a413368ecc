//! Normalisation and comparison of MFA configurations.
//!
//! Cognito reports a disabled factor by leaving its block out, and some fields take a service
//! default when the request leaves them out. Desired and live configurations are compared only
//! after normalising both, and fields the spec leaves to the service are not compared.

use crate::api::{FactorConfiguration, MfaMode, MfaSettings, UserVerification, WebAuthnConfig};

/// The canonical form: a disabled TOTP block and an all-default WebAuthn block are absent.
pub fn normalise(mut s: MfaSettings) -> MfaSettings {
    if s.software_token_mfa_configuration
        .as_ref()
        .is_some_and(|t| !t.enabled)
    {
        s.software_token_mfa_configuration = None;
    }
    s.web_authn_configuration = s.web_authn_configuration.and_then(|w| {
        let w = WebAuthnConfig {
            relying_party_id: w.relying_party_id,
            user_verification: Some(w.user_verification.unwrap_or_default()),
            factor_configuration: Some(w.factor_configuration.unwrap_or_default()),
        };
        let default = w.relying_party_id.is_none()
            && w.user_verification == Some(UserVerification::default())
            && w.factor_configuration == Some(FactorConfiguration::default());
        (!default).then_some(w)
    });
    s
}

/// The configuration a `Reset` deletion leaves: MFA off, no factor configured.
pub fn reset() -> MfaSettings {
    MfaSettings {
        mfa_configuration: MfaMode::Off,
        ..Default::default()
    }
}

/// Fields (spec paths) where `live` differs from `desired`; empty when the pool matches.
/// Optional fields that `desired` leaves out take the service default and are not compared.
pub fn diff(desired: &MfaSettings, live: &MfaSettings) -> Vec<&'static str> {
    let (d, l) = (normalise(desired.clone()), normalise(live.clone()));
    let mut out = Vec::new();
    let mut cmp = |field, same: bool| {
        if !same {
            out.push(field);
        }
    };
    // A field the spec leaves out is "whatever the service chose".
    fn unset_or_eq<T: PartialEq>(d: &Option<T>, l: &Option<T>) -> bool {
        d.is_none() || d == l
    }

    cmp(
        "mfaConfiguration",
        d.mfa_configuration == l.mfa_configuration,
    );
    cmp(
        "softwareTokenMfaConfiguration",
        d.software_token_mfa_configuration == l.software_token_mfa_configuration,
    );
    match (&d.sms_mfa_configuration, &l.sms_mfa_configuration) {
        (Some(ds), Some(ls)) => {
            let (dc, lc) = (&ds.sms_configuration, &ls.sms_configuration);
            cmp(
                "smsMfaConfiguration.smsAuthenticationMessage",
                unset_or_eq(
                    &ds.sms_authentication_message,
                    &ls.sms_authentication_message,
                ),
            );
            cmp(
                "smsMfaConfiguration.smsConfiguration.snsCallerArn",
                dc.sns_caller_arn == lc.sns_caller_arn,
            );
            cmp(
                "smsMfaConfiguration.smsConfiguration.externalId",
                unset_or_eq(&dc.external_id, &lc.external_id),
            );
            cmp(
                "smsMfaConfiguration.smsConfiguration.snsRegion",
                unset_or_eq(&dc.sns_region, &lc.sns_region),
            );
        }
        (ds, ls) => cmp("smsMfaConfiguration", ds.is_none() && ls.is_none()),
    }
    match (&d.email_mfa_configuration, &l.email_mfa_configuration) {
        (Some(de), Some(le)) => {
            cmp(
                "emailMfaConfiguration.message",
                unset_or_eq(&de.message, &le.message),
            );
            cmp(
                "emailMfaConfiguration.subject",
                unset_or_eq(&de.subject, &le.subject),
            );
        }
        (de, le) => cmp("emailMfaConfiguration", de.is_none() && le.is_none()),
    }
    let (dw, lw) = (
        d.web_authn_configuration.unwrap_or_else(default_web_authn),
        l.web_authn_configuration.unwrap_or_else(default_web_authn),
    );
    cmp(
        "webAuthnConfiguration.relyingPartyId",
        unset_or_eq(&dw.relying_party_id, &lw.relying_party_id),
    );
    cmp(
        "webAuthnConfiguration.userVerification",
        dw.user_verification == lw.user_verification,
    );
    cmp(
        "webAuthnConfiguration.factorConfiguration",
        dw.factor_configuration == lw.factor_configuration,
    );
    out
}

fn default_web_authn() -> WebAuthnConfig {
    WebAuthnConfig {
        relying_party_id: None,
        user_verification: Some(UserVerification::default()),
        factor_configuration: Some(FactorConfiguration::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::*;

    fn s(yaml: &str) -> MfaSettings {
        serde_saphyr::from_str(yaml).expect("test settings parse")
    }

    #[test]
    fn absent_equals_disabled() {
        let off = s("mfaConfiguration: 'OFF'");
        for same in [
            "mfaConfiguration: 'OFF'\nsoftwareTokenMfaConfiguration: {enabled: false}",
            "mfaConfiguration: 'OFF'\nwebAuthnConfiguration: {}",
            "mfaConfiguration: 'OFF'\nwebAuthnConfiguration: {userVerification: preferred, factorConfiguration: SINGLE_FACTOR}",
        ] {
            assert_eq!(normalise(s(same)), off, "{same}");
            assert_eq!(diff(&off, &s(same)), Vec::<&str>::new(), "{same}");
            assert_eq!(diff(&s(same), &off), Vec::<&str>::new(), "{same}");
        }
    }

    #[test]
    fn normalise_fills_web_authn_defaults_and_is_idempotent() {
        let w = normalise(s(
            "mfaConfiguration: 'OFF'\nwebAuthnConfiguration: {relyingPartyId: a.example}",
        ));
        let cfg = w.web_authn_configuration.clone().unwrap();
        assert_eq!(cfg.user_verification, Some(UserVerification::Preferred));
        assert_eq!(
            cfg.factor_configuration,
            Some(FactorConfiguration::SingleFactor)
        );
        assert_eq!(normalise(w.clone()), w);
    }

    #[test]
    fn each_difference_is_named() {
        let sms = "smsMfaConfiguration: {smsAuthenticationMessage: 'Code {####}', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/a', externalId: e, snsRegion: us-east-1}}";
        let desired = s(&format!(
            "mfaConfiguration: 'ON'\nsoftwareTokenMfaConfiguration: {{enabled: true}}\n{sms}\nemailMfaConfiguration: {{message: 'M {{####}}', subject: S}}\nwebAuthnConfiguration: {{relyingPartyId: rp, userVerification: required, factorConfiguration: MULTI_FACTOR_WITH_USER_VERIFICATION}}"
        ));
        assert!(diff(&desired, &desired).is_empty());
        type Change = fn(&mut MfaSettings);
        let cases: &[(&str, Change)] = &[
            ("mfaConfiguration", |m| {
                m.mfa_configuration = MfaMode::Optional
            }),
            ("softwareTokenMfaConfiguration", |m| {
                m.software_token_mfa_configuration = None
            }),
            ("smsMfaConfiguration", |m| m.sms_mfa_configuration = None),
            ("smsMfaConfiguration.smsAuthenticationMessage", |m| {
                m.sms_mfa_configuration
                    .as_mut()
                    .unwrap()
                    .sms_authentication_message = Some("X {####}".into())
            }),
            ("smsMfaConfiguration.smsConfiguration.snsCallerArn", |m| {
                m.sms_mfa_configuration
                    .as_mut()
                    .unwrap()
                    .sms_configuration
                    .sns_caller_arn = "arn:aws:iam::123456789012:role/b".into()
            }),
            ("smsMfaConfiguration.smsConfiguration.externalId", |m| {
                m.sms_mfa_configuration
                    .as_mut()
                    .unwrap()
                    .sms_configuration
                    .external_id = None
            }),
            ("smsMfaConfiguration.smsConfiguration.snsRegion", |m| {
                m.sms_mfa_configuration
                    .as_mut()
                    .unwrap()
                    .sms_configuration
                    .sns_region = Some("eu-west-1".into())
            }),
            ("emailMfaConfiguration", |m| {
                m.email_mfa_configuration = None
            }),
            ("emailMfaConfiguration.message", |m| {
                m.email_mfa_configuration.as_mut().unwrap().message = Some("other {####}".into())
            }),
            ("emailMfaConfiguration.subject", |m| {
                m.email_mfa_configuration.as_mut().unwrap().subject = None
            }),
            ("webAuthnConfiguration.relyingPartyId", |m| {
                m.web_authn_configuration.as_mut().unwrap().relying_party_id = Some("other".into())
            }),
            ("webAuthnConfiguration.userVerification", |m| {
                m.web_authn_configuration
                    .as_mut()
                    .unwrap()
                    .user_verification = None
            }),
            ("webAuthnConfiguration.factorConfiguration", |m| {
                m.web_authn_configuration
                    .as_mut()
                    .unwrap()
                    .factor_configuration = None
            }),
        ];
        for (field, change) in cases {
            let mut live = desired.clone();
            change(&mut live);
            assert_eq!(diff(&desired, &live), vec![*field]);
        }
        // A factor present only in live is drift too.
        assert_eq!(
            diff(&s("mfaConfiguration: 'OFF'"), &desired),
            [
                "mfaConfiguration",
                "softwareTokenMfaConfiguration",
                "smsMfaConfiguration",
                "emailMfaConfiguration",
                "webAuthnConfiguration.userVerification",
                "webAuthnConfiguration.factorConfiguration"
            ]
        );
    }

    #[test]
    fn fields_left_to_the_service_are_not_compared() {
        let desired = s(
            "mfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/a'}}\nemailMfaConfiguration: {}\nwebAuthnConfiguration: {userVerification: required}",
        );
        let live = s(
            "mfaConfiguration: 'ON'\nsmsMfaConfiguration: {smsAuthenticationMessage: 'Default {####}', smsConfiguration: {snsCallerArn: 'arn:aws:iam::123456789012:role/a', snsRegion: us-east-1, externalId: x}}\nemailMfaConfiguration: {message: 'Default {####}', subject: Default}\nwebAuthnConfiguration: {relyingPartyId: pool.example, userVerification: required}",
        );
        assert!(diff(&desired, &live).is_empty());
    }

    #[test]
    fn reset_is_off_without_factors() {
        // Every field, as a spec that says only "MFA off" has them.
        assert_eq!(reset(), s("mfaConfiguration: 'OFF'"));
    }
}
