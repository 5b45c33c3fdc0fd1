//! Logging: to stderr only (stdout is the MCP channel), level from `RUST_LOG`, under a ceiling that keeps
//! secrets out of logs whatever `RUST_LOG` says.

use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{FilterExt, LevelFilter, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
};

/// Default filter when `RUST_LOG` is not set.
/// The credential chain warns with a `Debug` dump of every provider it tried; the `credentials` check
/// and every error already say what is missing, in one sentence.
const DEFAULT_FILTER: &str =
    "bedrock_provisioner=info,audit=info,aws_config::meta::credentials::chain=error,warn";

/// Targets that log secrets above a level, and the most they may log. `RUST_LOG` cannot lift these caps,
/// and no other environment variable switches redaction off:
/// - `rmcp` logs whole MCP messages at debug/trace, and results carry freshly created API keys;
/// - the AWS SDK's orchestrator logs whole requests (bearer `Authorization` headers, `PutSecretValue`
///   bodies) at trace, and whole response bodies (`ServiceCredentialSecret`) once `LOG_SENSITIVE_BODIES=true`;
/// - SigV4 logs canonical requests, session tokens included, at trace.
const SECRET_BEARING_TARGETS: [(&str, LevelFilter); 4] = [
    ("rmcp", LevelFilter::INFO),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_sigv4", LevelFilter::DEBUG),
];

/// The ceiling applied on top of `RUST_LOG`.
pub fn ceiling() -> Targets {
    SECRET_BEARING_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, (target, level)| targets.with_target(*target, *level),
    )
}

/// Install the global subscriber.
pub fn init() {
    let from_env =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(from_env.and(ceiling()));
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn secret_bearing_targets_are_capped_and_the_rest_is_free() {
        let ceiling = ceiling();
        assert!(ceiling.would_enable("rmcp::service", &Level::INFO));
        assert!(!ceiling.would_enable("rmcp::service", &Level::DEBUG));
        assert!(ceiling.would_enable("bedrock_provisioner::core", &Level::TRACE));
        assert!(ceiling.would_enable("aws_smithy_runtime", &Level::DEBUG));
        assert!(!ceiling.would_enable(
            "aws_smithy_runtime::client::orchestrator::http",
            &Level::TRACE
        ));
        assert!(!ceiling.would_enable("aws_sigv4::http_request", &Level::TRACE));
    }
}
