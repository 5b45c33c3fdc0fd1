//! AWS_BEARER_TOKEN_BEDROCK set in the environment switches the SDK's Bedrock clients to bearer auth; the
//! server's control-plane clients must stay on SigV4. This binary holds a single test because it sets a
//! process-wide environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use bedrock_provisioner::core::AwsClients;
use common::Account;

#[tokio::test]
async fn bedrock_control_plane_stays_on_sigv4_with_a_bearer_token_in_the_environment() {
    // SAFETY: the only test of this binary, run before any other thread reads the environment.
    unsafe { std::env::set_var("AWS_BEARER_TOKEN_BEDROCK", "ABSKjunkjunkjunk") };
    let account = Account::new();
    let clients = AwsClients::load(&account.settings().aws).await;
    let models = clients
        .bedrock
        .list_foundation_models()
        .by_provider("Anthropic")
        .send()
        .await
        .unwrap();
    assert!(!models.model_summaries().is_empty());
    clients.iam.list_users().send().await.unwrap();
    clients.sts.get_caller_identity().send().await.unwrap();
    let requests = account.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r["auth"] == "sigv4"),
        "{requests:?}"
    );

    // The counterfactual: a Bedrock client built the SDK's default way goes bearer, which is what the
    // pinning prevents (and what makes this test able to fail).
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(common::emulator().endpoint())
        .credentials_provider(account.credentials())
        .load()
        .await;
    let _ = aws_sdk_bedrock::Client::new(&config)
        .list_foundation_models()
        .send()
        .await;
    let log = common::emulator().control("GET", "requests", "");
    let bearer = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["auth"] == "bearer")
        .count();
    assert_eq!(
        bearer, 1,
        "the default SDK client should have used the bearer token"
    );
}
