//! `serve`: MCP over stdio, or over streamable HTTP until SIGTERM/SIGINT.

use std::{process::ExitCode, sync::Arc};

use clap::Args;

use super::setup::Context;
use crate::{
    core::domain::secret::Secret,
    mcp::{
        self, ProvisionerServer,
        http::{self, HttpOptions},
    },
    mode::AccessMode,
    operations::Toolset,
};

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which tools to expose: read-only tools only, plus creating, or plus destructive tools
    /// [default: the config file's mode, else read-only].
    #[arg(long, env = "BEDROCK_PROVISIONER_MODE", value_enum)]
    pub mode: Option<crate::mode::AccessMode>,
    /// Which toolsets to offer, comma-separated: units, keys, costs, fleet, diagnose, or all (fewer tools
    /// cost an agent less context) [default: all].
    #[arg(long, env = "BEDROCK_PROVISIONER_TOOLSETS", value_name = "LIST", value_parser = toolset_list)]
    pub toolsets: Option<Toolsets>,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Also enforce the spend caps every INTERVAL (e.g. 5m) in this process (admin mode only).
    #[arg(long, value_name = "INTERVAL", value_parser = super::spend::parse_interval)]
    pub enforce_every: Option<std::time::Duration>,
}

/// The toolsets `--toolsets` names.
#[derive(Clone, Debug)]
pub struct Toolsets(pub Vec<Toolset>);

fn toolset_list(list: &str) -> Result<Toolsets, String> {
    crate::operations::parse_toolsets(list).map(Toolsets)
}

/// Streamable HTTP instead of stdio.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Serve MCP over streamable HTTP at ADDR (path /mcp) instead of stdio, e.g. 127.0.0.1:8808. A
    /// non-loopback address requires a bearer token.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// File holding the bearer token clients must send (else BEDROCK_PROVISIONER_HTTP_TOKEN).
    #[arg(long, requires = "http")]
    pub http_token_file: Option<std::path::PathBuf>,
    /// Extra accepted Host header (hostname or host:port); repeatable.
    #[arg(long = "allowed-host", requires = "http")]
    pub allowed_hosts: Vec<String>,
    /// Extra accepted browser Origin (scheme://host:port); repeatable.
    #[arg(long = "allowed-origin", requires = "http")]
    pub allowed_origins: Vec<String>,
    /// Serve admin-mode tools over HTTP without a bearer token (loopback only): any local process or
    /// browser page that reaches the port could delete users and keys.
    #[arg(long, requires = "http")]
    pub allow_unauthenticated_admin: bool,
}

/// Serve in the mode the flag, the environment or the file names.
pub async fn serve(mut context: Context, args: ServeArgs) -> ExitCode {
    let mode = context.mode(args.mode);
    let toolsets = args
        .toolsets
        .clone()
        .map_or_else(|| Toolset::ALL.to_vec(), |list| list.0);
    let audit = Arc::new(std::mem::take(&mut context.audit));
    if let Some(every) = args.enforce_every {
        if mode != AccessMode::Admin {
            eprintln!(
                "error: --enforce-every attaches and lifts spend-cap denies: it needs --mode admin"
            );
            return ExitCode::FAILURE;
        }
        tokio::spawn(super::spend::enforce_in_background(
            context.core.clone(),
            audit.clone(),
            every,
        ));
    }
    if let Some(addr) = args.http.http {
        return serve_http(context, audit, (mode, toolsets), addr, &args.http).await;
    }
    tracing::info!(mode = mode.as_str(), "serving MCP over stdio");
    let server = ProvisionerServer::with_toolsets(context.core, mode, &toolsets)
        .with_shared_audit_log(audit);
    match mcp::serve_stdio(server).await {
        Ok(()) => {
            tracing::info!("the MCP client closed stdin; the server stops");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "MCP server stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// The HTTP options from the flags; refuses what `http::check_options` refuses.
fn options(
    mode: AccessMode,
    addr: std::net::SocketAddr,
    args: &HttpArgs,
) -> Result<HttpOptions, String> {
    let options = HttpOptions {
        token: token(args)?,
        allowed_hosts: args.allowed_hosts.clone(),
        allowed_origins: args.allowed_origins.clone(),
        admin: mode == AccessMode::Admin,
        allow_unauthenticated_admin: args.allow_unauthenticated_admin,
        limits: http::Limits::default(),
    };
    http::check_options(addr, &options).map_err(|error| error.to_string())?;
    if options.admin && options.token.is_none() {
        eprintln!(
            "warning: serving admin-mode tools over HTTP without a bearer token (--allow-unauthenticated-admin): \
             any local process or browser page that reaches {addr} can delete users and keys"
        );
    }
    Ok(options)
}

async fn serve_http(
    context: Context,
    audit: Arc<crate::audit::AuditLog>,
    (mode, toolsets): (AccessMode, Vec<Toolset>),
    addr: std::net::SocketAddr,
    args: &HttpArgs,
) -> ExitCode {
    let started = async {
        let options = options(mode, addr, args)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
        let shutdown = http::shutdown_on_signal()
            .map_err(|error| format!("cannot install signal handlers: {error}"))?;
        Ok::<_, String>((options, listener, shutdown))
    };
    let (options, listener, shutdown) = match started.await {
        Ok(started) => started,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(bound) = listener.local_addr() {
        eprintln!("listening on http://{bound}{}", http::MCP_PATH);
    }
    let core = context.core;
    let factory = move || {
        ProvisionerServer::with_toolsets(core.clone(), mode, &toolsets)
            .with_shared_audit_log(audit.clone())
    };
    match http::serve_http(listener, factory, options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The token from the file or the environment (never from the command line, where `ps` shows it). Both
/// sources are treated alike: trimmed, and a blank one is an error (not "no token").
fn token(args: &HttpArgs) -> Result<Option<Secret>, String> {
    let (source, raw) = if let Some(path) = &args.http_token_file {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| format!("--http-token-file {}: {e}", path.display()))?;
        (format!("--http-token-file {}", path.display()), raw)
    } else {
        match std::env::var("BEDROCK_PROVISIONER_HTTP_TOKEN") {
            Ok(raw) => ("BEDROCK_PROVISIONER_HTTP_TOKEN".to_owned(), raw),
            Err(_) => return Ok(None),
        }
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(format!(
            "{source} is blank: give a token of at least {} characters, or unset it to serve \
             loopback without one",
            http::MIN_TOKEN_CHARS
        ));
    }
    Ok(Some(Secret::new(token)))
}
