//! Credentials of a role in another account that renew themselves. A role session lasts an hour by
//! default, and a chained one (the caller itself on a role or SSO) at most an hour, so a fleet run that
//! outlives it must assume the role again: this provider is what the SDK's identity cache calls whenever
//! its credentials near their expiry. Each session carries the operator as `SourceIdentity`, so CloudTrail
//! in the member account says who ran the tool; a role whose trust policy does not allow
//! `sts:SetSourceIdentity` is assumed without it (said once in the log).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use aws_credential_types::{
    Credentials,
    provider::{self, ProvideCredentials, error::CredentialsError, future},
};

use crate::core::{aws::sdk_error, domain::error::Error};

/// The session name every assumed role carries (CloudTrail shows it).
pub const SESSION_NAME: &str = "bedrock-provisioner";

/// Assumes `role_arn` with the caller's credentials, again each time it is asked.
#[derive(Clone, Debug)]
pub struct RoleSession {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    source_identity: Option<String>,
    /// Set once the role refused `SourceIdentity`: later sessions go without it.
    without_identity: Arc<AtomicBool>,
}

impl RoleSession {
    /// A session of `role_arn`, assumed through `sts`, naming `operator` (the caller's ARN) as its source.
    pub fn new(sts: aws_sdk_sts::Client, role_arn: &str, operator: &str) -> Self {
        Self {
            sts,
            role_arn: role_arn.to_owned(),
            source_identity: source_identity(operator),
            without_identity: Arc::default(),
        }
    }

    /// Assume the role once: with the source identity unless the role refused it.
    pub async fn assume(&self) -> Result<Credentials, Error> {
        let identity = self
            .source_identity
            .clone()
            .filter(|_| !self.without_identity.load(Ordering::Relaxed));
        match self.assume_with(identity.clone()).await {
            Err(Error::AccessDenied { message, .. }) if identity.is_some() => {
                tracing::warn!(role = %self.role_arn, %message, "the role's trust policy does not allow sts:SetSourceIdentity; assuming it without a source identity (allow it so CloudTrail names the operator)");
                self.without_identity.store(true, Ordering::Relaxed);
                self.assume_with(None).await
            }
            other => other,
        }
    }

    async fn assume_with(&self, identity: Option<String>) -> Result<Credentials, Error> {
        let assumed = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(SESSION_NAME)
            .set_source_identity(identity)
            .send()
            .await
            .map_err(|e| sdk_error("sts:AssumeRole", e))?;
        let session = assumed.credentials.ok_or_else(|| Error::Aws {
            action: "sts:AssumeRole",
            code: "EmptyResponse".to_owned(),
            message: "AWS returned no credentials".to_owned(),
        })?;
        Ok(Credentials::new(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token().to_owned()),
            std::time::SystemTime::try_from(*session.expiration()).ok(),
            "assume-role",
        ))
    }
}

impl ProvideCredentials for RoleSession {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.assume()
                .await
                .map_err(|e| CredentialsError::provider_error(e.to_string()))
        })
    }
}

/// The operator named in `SourceIdentity` (2-64 of `[\w+=,.@-]`): the caller's user or session name, the
/// last part of its ARN (`…:user/jane`, `…:assumed-role/Admin/jane@example.com`).
pub fn source_identity(operator_arn: &str) -> Option<String> {
    let name = operator_arn.rsplit(['/', ':']).next().unwrap_or_default();
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))
        .take(64)
        .collect();
    (name.len() >= 2).then_some(name)
}

/// The shared provider of `session`.
pub fn shared(session: RoleSession) -> provider::SharedCredentialsProvider {
    provider::SharedCredentialsProvider::new(session)
}

#[cfg(test)]
mod tests {
    use super::source_identity;

    #[test]
    fn the_operator_is_the_last_part_of_the_callers_arn() {
        assert_eq!(
            source_identity("arn:aws:sts::111122223333:assumed-role/Admin/jane@example.com")
                .as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            source_identity("arn:aws:iam::111122223333:user/ops/ci-bot").as_deref(),
            Some("ci-bot")
        );
        assert_eq!(
            source_identity("arn:aws:iam::111122223333:root").as_deref(),
            Some("root")
        );
        assert_eq!(source_identity("x").as_deref(), None);
        assert_eq!(
            source_identity(&format!("a/{}", "n".repeat(100))).map(|s| s.len()),
            Some(64)
        );
    }
}
