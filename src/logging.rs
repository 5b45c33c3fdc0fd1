//! Logging: to stderr only (stdout is the MCP channel), level from `RUST_LOG`, under a ceiling that keeps
//! secrets out of logs whatever `RUST_LOG` says.

use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{FilterExt, LevelFilter, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
};

/// Default filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "bedrock_provisioner=info,audit=info,warn";

/// Targets that log whole protocol messages at debug/trace: MCP results carry freshly created API keys,
/// so these are capped at `info`. `RUST_LOG` cannot lift the cap.
const SECRET_BEARING_TARGETS: [&str; 1] = ["rmcp"];

/// The ceiling applied on top of `RUST_LOG`.
pub fn ceiling() -> Targets {
    SECRET_BEARING_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, target| targets.with_target(*target, LevelFilter::INFO),
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
    fn rmcp_is_capped_at_info_and_the_rest_is_free() {
        let ceiling = ceiling();
        assert!(ceiling.would_enable("rmcp::service", &Level::INFO));
        assert!(!ceiling.would_enable("rmcp::service", &Level::DEBUG));
        assert!(ceiling.would_enable("bedrock_provisioner::core", &Level::TRACE));
        assert!(ceiling.would_enable("aws_smithy_runtime", &Level::TRACE));
    }
}
