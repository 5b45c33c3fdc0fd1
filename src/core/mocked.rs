//! The core against mocked SDK clients (`aws-smithy-mocks`, the SDK team's interceptor-based mocks): what
//! needs no emulator, with the defaults users get (settings, retry mode and attempts, backoff), in
//! milliseconds. The SDK's own retry loop runs; only its sleeps return at once, each recorded. The
//! emulator stays for the contracts and the fault, crash and concurrency matrices.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_config::Region;
use aws_credential_types::Credentials;
use aws_sdk_iam::{
    operation::{
        get_user::GetUserOutput,
        list_service_specific_credentials::ListServiceSpecificCredentialsOutput,
        update_service_specific_credential::UpdateServiceSpecificCredentialOutput,
    },
    types::{ServiceSpecificCredentialMetadata, StatusType, Tag, User},
};
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::{
    client::interceptors::SharedInterceptor,
    http::{Response, StatusCode},
};
use aws_smithy_types::{DateTime, body::SdkBody};

use super::{
    Provisioner, Settings,
    aws::AwsClients,
    keys::{RevokeAction, RevokeKeyInput},
};

const KEY: &str = "ACCAEXAMPLEEXAMPLE0001";

/// The SDK's sleeps: a retry's backoff returns at once and is recorded; a timeout's (30 s and more) never
/// fires, since every mocked call answers at once.
#[derive(Clone, Debug, Default)]
struct NoWait(Arc<Mutex<Vec<Duration>>>);

impl AsyncSleep for NoWait {
    fn sleep(&self, duration: Duration) -> Sleep {
        if duration >= Duration::from_secs(30) {
            return Sleep::new(std::future::pending());
        }
        self.0.lock().unwrap().push(duration);
        Sleep::new(std::future::ready(()))
    }
}

impl NoWait {
    /// The backoffs waited between attempts (the SDK's fixed 100 ms polls left out).
    fn backoffs(&self) -> Vec<Duration> {
        let waits = self.0.lock().unwrap();
        waits
            .iter()
            .copied()
            .filter(|w| *w != Duration::from_millis(100))
            .collect()
    }
}

/// A provisioner with the default settings whose every AWS call is answered by `rules`.
async fn provisioner(rules: &[&Rule]) -> (Provisioner, NoWait) {
    let settings = Settings::default();
    let waits = NoWait::default();
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |interceptor, rule| interceptor.with_rule(rule),
    );
    let config = AwsClients::loader(&settings.aws)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDMOCK", "mock", None, None, "mock"))
        .http_client(create_mock_http_client())
        .sleep_impl(SharedAsyncSleep::new(waits.clone()))
        .load()
        .await;
    let mocks = SharedInterceptor::new(interceptor);
    macro_rules! mocked {
        ($service:ident) => {
            $service::Client::from_conf(
                $service::config::Builder::from(&config)
                    .interceptor(mocks.clone())
                    .build(),
            )
        };
    }
    let clients = AwsClients {
        iam: mocked!(aws_sdk_iam),
        sts: mocked!(aws_sdk_sts),
        bedrock: mocked!(aws_sdk_bedrock),
        cost_explorer: mocked!(aws_sdk_costexplorer),
        budgets: mocked!(aws_sdk_budgets),
        service_quotas: mocked!(aws_sdk_servicequotas),
        secrets_manager: mocked!(aws_sdk_secretsmanager),
        logs: mocked!(aws_sdk_cloudwatchlogs),
        pricing: mocked!(aws_sdk_pricing),
        config: config.clone(),
        region: "us-east-1".to_owned(),
    };
    (Provisioner::with_clients(settings, clients), waits)
}

/// IAM's answer to a throttled call (query protocol: HTTP 400, code `Throttling`).
fn throttled() -> Response {
    let body = "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
                <Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";
    Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
}

/// The unit `unit`'s managed user and its one active key.
fn unit_with_a_key() -> (Rule, Rule) {
    let user = mock!(aws_sdk_iam::Client::get_user).then_output(|| {
        let user = User::builder()
            .path("/bedrock-provisioner/")
            .user_name("unit-bedrock-user")
            .user_id("AIDAMOCK")
            .arn("arn:aws:iam::111122223333:user/bedrock-provisioner/unit-bedrock-user")
            .create_date(DateTime::from_secs(1_700_000_000))
            .tags(
                Tag::builder()
                    .key("managed-by")
                    .value("bedrock-provisioner")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        GetUserOutput::builder().user(user).build()
    });
    let keys = mock!(aws_sdk_iam::Client::list_service_specific_credentials).then_output(|| {
        let key = ServiceSpecificCredentialMetadata::builder()
            .user_name("unit-bedrock-user")
            .status(StatusType::Active)
            .service_user_name("unit-bedrock-user-at-111122223333")
            .create_date(DateTime::from_secs(1_700_000_000))
            .service_specific_credential_id(KEY)
            .service_name("bedrock.amazonaws.com")
            .build()
            .unwrap();
        ListServiceSpecificCredentialsOutput::builder()
            .service_specific_credentials(key)
            .build()
    });
    (user, keys)
}

fn deactivate() -> RevokeKeyInput {
    RevokeKeyInput {
        business_unit: "unit".to_owned(),
        credential_id: KEY.to_owned(),
        action: RevokeAction::Deactivate,
        dry_run: false,
        confirm: true,
        plan_digest: None,
    }
}

/// Two throttled answers cost two backoffs, not the call: the default retry mode gets through.
#[tokio::test]
async fn throttled_calls_are_retried_with_backoff_under_the_default_settings() {
    let (user, keys) = unit_with_a_key();
    let update = mock!(aws_sdk_iam::Client::update_service_specific_credential)
        .sequence()
        .http_response(throttled)
        .times(2)
        .output(|| UpdateServiceSpecificCredentialOutput::builder().build())
        .build();
    let (core, waits) = provisioner(&[&user, &keys, &update]).await;
    let report = core.revoke_key(&deactivate()).await.unwrap();
    assert_eq!(report.outcome, "deactivated");
    assert_eq!(
        update.num_calls(),
        3,
        "two throttled attempts, then the one that passed"
    );
    let backoffs = waits.backoffs();
    assert_eq!(backoffs.len(), 2, "{backoffs:?}");
    assert!(
        backoffs.iter().all(|w| *w <= Duration::from_secs(20)),
        "{backoffs:?}"
    );
}

/// Throttled past the default attempts: the error is `throttled`, says AWS may have been reached, and the
/// SDK made exactly the configured number of attempts.
#[tokio::test]
async fn throttling_past_the_default_attempts_is_a_throttled_error() {
    let (user, keys) = unit_with_a_key();
    let update = mock!(aws_sdk_iam::Client::update_service_specific_credential)
        .sequence()
        .http_response(throttled)
        .repeatedly()
        .build();
    let (core, _) = provisioner(&[&user, &keys, &update]).await;
    let error = core.revoke_key(&deactivate()).await.unwrap_err();
    assert_eq!(error.kind(), "throttled", "{error}");
    assert!(error.called_aws());
    assert_eq!(
        update.num_calls(),
        Settings::default().aws.max_attempts as usize
    );
}
