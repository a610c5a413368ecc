//! Kubernetes operator that keeps Amazon Cognito user pool MFA configuration equal to a
//! declared `UserPoolMfaConfig`.
pub mod api;
pub mod logic;
