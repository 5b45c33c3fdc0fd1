//! AWS access: the one place that builds SDK configuration and clients, and that turns SDK errors
//! into core [`Error`]s with remediation.

pub(crate) mod bedrock;
pub mod billing;
#[cfg(test)]
pub(crate) mod fake_aws;
pub(crate) mod iam;
pub(crate) mod memo;
pub mod role_session;
pub mod simulation;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, meta::region::RegionProviderChain, retry::RetryConfig};
use aws_credential_types::Credentials;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::{auth::AuthSchemeId, result::SdkError};
use aws_smithy_types::timeout::TimeoutConfig;

use crate::core::domain::error::Error;

/// The region used when neither `AWS_REGION` nor the profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The region of the Price List API's endpoint used for every region's prices.
pub const PRICING_REGION: &str = "us-east-1";

/// How to reach AWS. Everything not set here comes from the standard chain (environment, profiles, SSO).
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// Region override; otherwise `AWS_REGION`, then the profile, then [`DEFAULT_REGION`].
    pub region: Option<String>,
    /// Endpoint override (an emulator); otherwise `AWS_ENDPOINT_URL` when set, else AWS.
    pub endpoint_url: Option<String>,
    /// Total attempts per call in the SDK's standard retry mode (1 = no retry).
    pub max_attempts: u32,
    /// Initial backoff of the standard retry mode.
    pub initial_backoff: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one whole operation, retries included.
    pub operation_timeout: Duration,
    /// Fixed credentials instead of the chain: for embedding and tests. Never logged.
    pub static_credentials: Option<Credentials>,
    /// A credentials provider instead of the chain (a role session that renews itself); wins over
    /// `static_credentials`. The SDK's identity cache calls it again before its credentials expire.
    pub credentials_provider: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// The clock the SDK signs with and judges credential expiry by (default: the system's); tests move
    /// it with the emulator's.
    pub time_source: Option<aws_smithy_async::time::SharedTimeSource>,
    /// The SDK's adaptive retry mode (client-side rate limiting after throttling), for runs that make many
    /// calls at once (fleets); otherwise the standard mode.
    pub adaptive_retry: bool,
    /// The HTTP client every SDK client sends with: the SDK's default when `None` (the core's unit tests
    /// put a fake AWS here).
    pub http_client: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(60),
            static_credentials: None,
            credentials_provider: None,
            time_source: None,
            adaptive_retry: false,
            http_client: None,
        }
    }
}

/// The SDK clients the core uses, all built from one [`aws_config::SdkConfig`].
#[derive(Clone, Debug)]
pub struct AwsClients {
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// STS.
    pub sts: aws_sdk_sts::Client,
    /// Bedrock control plane, pinned to SigV4.
    pub bedrock: aws_sdk_bedrock::Client,
    /// Cost Explorer.
    pub cost_explorer: aws_sdk_costexplorer::Client,
    /// AWS Budgets.
    pub budgets: aws_sdk_budgets::Client,
    /// Service Quotas (Bedrock's throughput quotas).
    pub service_quotas: aws_sdk_servicequotas::Client,
    /// Secrets Manager (key hand-off).
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    /// CloudWatch Logs (Bedrock's model invocation logs: usage within minutes).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The Price List API, whose endpoint is in `us-east-1` whatever the region in effect.
    pub pricing: aws_sdk_pricing::Client,
    /// The configuration the clients were built from (credentials for signing short-term keys).
    pub config: aws_config::SdkConfig,
    /// The region in effect.
    pub region: String,
}

impl AwsClients {
    /// Load the configuration from the standard chain plus `settings`, and build the clients.
    pub async fn load(settings: &AwsSettings) -> Self {
        let config = Self::loader(settings).load().await;
        Self::from_config(&config)
    }

    /// The SDK configuration loader with `settings` applied: the standard chain, the retry and timeout
    /// settings, and the overrides.
    pub(crate) fn loader(settings: &AwsSettings) -> aws_config::ConfigLoader {
        let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
            .or_default_provider()
            .or_else(Region::from_static(DEFAULT_REGION));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(
                if settings.adaptive_retry {
                    RetryConfig::adaptive()
                } else {
                    RetryConfig::standard()
                }
                .with_max_attempts(settings.max_attempts.max(1))
                .with_initial_backoff(settings.initial_backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.connect_timeout)
                    .operation_timeout(settings.operation_timeout)
                    .build(),
            );
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(clock) = &settings.time_source {
            loader = loader.time_source(clock.clone());
        }
        if let Some(client) = &settings.http_client {
            loader = loader.http_client(client.clone());
        }
        if let Some(provider) = &settings.credentials_provider {
            loader = loader.credentials_provider(provider.clone());
        } else if let Some(credentials) = &settings.static_credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        loader
    }

    /// A Bedrock control-plane client for another region (SigV4, same credentials and retry settings).
    pub fn bedrock_in(&self, region: &str) -> aws_sdk_bedrock::Client {
        let config = aws_sdk_bedrock::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .auth_scheme_preference([AuthSchemeId::new("sigv4")])
            .build();
        aws_sdk_bedrock::Client::from_conf(config)
    }

    /// A bedrock-runtime client for `region` that authenticates with a Bedrock API key (bearer auth),
    /// for proving that the key works. The key stays in the client; it is never logged.
    pub fn bedrock_runtime_with_key(
        &self,
        region: &str,
        key: &crate::core::domain::secret::Secret,
    ) -> aws_sdk_bedrockruntime::Client {
        let config = aws_sdk_bedrockruntime::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .bearer_token(aws_sdk_bedrockruntime::config::Token::new(
                key.expose(),
                None,
            ))
            .auth_scheme_preference([AuthSchemeId::new("httpBearerAuth")])
            .build();
        aws_sdk_bedrockruntime::Client::from_conf(config)
    }

    /// Build the clients from an existing SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        // The SDK switches Bedrock clients to bearer auth when AWS_BEARER_TOKEN_BEDROCK is set. That
        // token is a data-plane key for invoking models; control-plane calls must stay on SigV4.
        let bedrock = aws_sdk_bedrock::config::Builder::from(config)
            .auth_scheme_preference([AuthSchemeId::new("sigv4")])
            .build();
        Self {
            iam: aws_sdk_iam::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            bedrock: aws_sdk_bedrock::Client::from_conf(bedrock),
            cost_explorer: aws_sdk_costexplorer::Client::new(config),
            secrets_manager: aws_sdk_secretsmanager::Client::new(config),
            budgets: aws_sdk_budgets::Client::new(config),
            service_quotas: aws_sdk_servicequotas::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            pricing: aws_sdk_pricing::Client::from_conf(
                aws_sdk_pricing::config::Builder::from(config)
                    .region(Region::from_static(PRICING_REGION))
                    .build(),
            ),
            config: config.clone(),
            region: config
                .region()
                .map_or_else(|| DEFAULT_REGION.to_owned(), ToString::to_string),
        }
    }
}

/// Error codes AWS uses for a denied action.
const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
];
/// Error codes AWS uses for throttling.
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];
/// Error codes AWS uses for credentials it does not accept.
const BAD_CREDENTIALS: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
];

/// Turn an SDK error of the call `action` (e.g. `iam:CreateUser`) into a core [`Error`].
pub fn sdk_error<E, R>(action: &'static str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let mut message = service.err().message().unwrap_or_default().to_owned();
            // AWS support asks for the request id; it is the one thing worth adding to AWS's sentence.
            if let Some(id) = service.err().meta().extra("aws_request_id") {
                message.push_str(&format!(" (request id {id})"));
            }
            service_error(action, code, message)
        }
        SdkError::TimeoutError(_) => Error::Unreachable {
            action,
            detail: "the operation timed out (raise --operation-timeout if AWS is slow)".to_owned(),
        },
        _ => {
            let detail = error_chain(&error);
            if detail.to_ascii_lowercase().contains("credential") {
                Error::Credentials { detail }
            } else {
                Error::Unreachable { action, detail }
            }
        }
    }
}

/// Whether `code` is how the service of `action` says "slow down". Cost Explorer throttles with
/// `LimitExceededException` (HTTP 400); elsewhere that code means a quota, not a rate.
fn is_throttling(action: &str, code: &str) -> bool {
    THROTTLED.contains(&code) || (action.starts_with("ce:") && code == "LimitExceededException")
}

/// An error and its causes as one line of their messages (`dispatch failure: … : request forbidden`),
/// without the `Debug` dump of the SDK's error types that `DisplayErrorContext` appends.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// Classify an AWS error code returned for `action`.
pub fn service_error(action: &'static str, code: String, message: String) -> Error {
    if ACCESS_DENIED.contains(&code.as_str()) {
        Error::AccessDenied { action, message }
    } else if is_throttling(action, &code) {
        Error::Throttled { action, message }
    } else if BAD_CREDENTIALS.contains(&code.as_str()) {
        Error::Credentials {
            detail: format!("{code}: {message}"),
        }
    } else if [
        "NoSuchEntity",
        "ResourceNotFoundException",
        "NotFoundException",
    ]
    .contains(&code.as_str())
    {
        Error::NotFound {
            what: action.to_owned(),
            message,
        }
    } else {
        Error::Aws {
            action,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_are_one_line_of_messages_without_debug_dumps() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("request forbidden: IMDS is disabled")]
        struct Inner;
        let line = error_chain(&Outer(Inner));
        assert_eq!(
            line,
            "dispatch failure: request forbidden: IMDS is disabled"
        );
    }

    #[test]
    fn codes_are_classified() {
        let denied = service_error("iam:CreateUser", "AccessDenied".into(), "no".into());
        assert!(matches!(
            denied,
            Error::AccessDenied {
                action: "iam:CreateUser",
                ..
            }
        ));
        assert!(
            denied
                .remediation(&crate::core::ToolDialect)
                .contains("iam:CreateUser")
        );
        assert!(matches!(
            service_error("iam:GetUser", "Throttling".into(), String::new()),
            Error::Throttled { .. }
        ));
        assert!(matches!(
            service_error(
                "ce:GetCostAndUsage",
                "LimitExceededException".into(),
                String::new()
            ),
            Error::Throttled { .. }
        ));
        assert!(matches!(
            service_error(
                "secretsmanager:CreateSecret",
                "LimitExceededException".into(),
                String::new()
            ),
            Error::Aws { .. }
        ));
        assert!(matches!(
            service_error(
                "sts:GetCallerIdentity",
                "ExpiredToken".into(),
                String::new()
            ),
            Error::Credentials { .. }
        ));
        assert!(matches!(
            service_error("iam:GetUser", "NoSuchEntity".into(), String::new()),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            service_error("iam:GetUser", "ServiceFailure".into(), String::new()),
            Error::Aws { .. }
        ));
    }
}
