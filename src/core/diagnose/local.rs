//! Local checks: a project's `.mcp.json` (`mcp_config`), and the server's `environment` (Bedrock key
//! variables that surprise, clock skew against AWS's `Date` header).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::BeforeDeserializationInterceptorContextRef},
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::{DateTime, config_bag::ConfigBag, date_time::Format};
use serde_json::Value;

use super::{CheckId, CheckResult, Request};
use crate::core::{Provisioner, aws::sdk_error, keys::inspect::inspect_key};

/// Clock skew above which SigV4 requests fail (AWS allows 5 minutes).
const MAX_SKEW_SECONDS: i64 = 300;
/// Skew worth a warning.
const WARN_SKEW_SECONDS: i64 = 60;

pub(super) async fn check_mcp_config(request: &Request) -> CheckResult {
    let id = CheckId::McpConfig;
    let Some(dir) = &request.project_dir else {
        return CheckResult::skipped(id, "no project_dir given");
    };
    let path = dir.join(".mcp.json");
    let config = match read_mcp_json(&path).await {
        Ok(config) => config,
        Err(result) => return result,
    };
    let Some(servers) = config.get("mcpServers").and_then(Value::as_object) else {
        return CheckResult::fail(id, "no `mcpServers` object")
            .fix("Put the server under {\"mcpServers\": {\"bedrock-provisioner\": {\"command\": ..., \"args\": [\"serve\"]}}}.");
    };
    let Some((name, server)) = servers.iter().find(|(name, server)| {
        name.contains("bedrock-provisioner")
            || server
                .get("command")
                .and_then(Value::as_str)
                .is_some_and(|c| c.contains("bedrock-provisioner"))
    }) else {
        return CheckResult::fail(id, "no bedrock-provisioner server is configured")
            .evidence(format!("servers: {}", servers.keys().cloned().collect::<Vec<_>>().join(", ")))
            .fix("Add {\"bedrock-provisioner\": {\"command\": \"bedrock-provisioner\", \"args\": [\"serve\", \"--mode\", \"provision\"]}} under mcpServers.");
    };
    let command = server
        .get("command")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let args: Vec<&str> = server
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut findings = launch_findings(command, &args, dir);
    findings.extend(env_findings(server.get("env").and_then(Value::as_object)));
    let ran = format!(
        "server `{name}` in {} runs `{command} {}`",
        path.display(),
        args.join(" ")
    );
    verdict(id, name, ran, findings)
}

/// The project's `.mcp.json`, or the failed check saying why it cannot be used.
async fn read_mcp_json(path: &Path) -> Result<Value, CheckResult> {
    let id = CheckId::McpConfig;
    let text = tokio::fs::read_to_string(path).await.map_err(|error| {
        CheckResult::fail(id, format!("cannot read {}: {error}", path.display()))
            .fix(format!("Create {} from mcp.json.example in the bedrock-provisioner repository (claude mcp add works too).", path.display()))
    })?;
    serde_json::from_str(&text).map_err(|error| {
        CheckResult::fail(id, format!("{} is not valid JSON: {error}", path.display()))
            .fix("Fix the JSON at that line and column (a trailing comma or a missing quote is the usual cause); `python -m json.tool .mcp.json` shows it.")
    })
}

/// What the check found about one part of the server's entry.
enum Finding {
    /// A fact worth showing.
    Evidence(String),
    /// A problem: `blocking` ones fail the check, others warn.
    Problem {
        blocking: bool,
        summary: String,
        fix: String,
    },
}

fn problem(blocking: bool, summary: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding::Problem {
        blocking,
        summary: summary.into(),
        fix: fix.into(),
    }
}

/// Whether the server's command resolves and its arguments start with `serve`.
fn launch_findings(command: &str, args: &[&str], dir: &Path) -> Vec<Finding> {
    let mut findings = vec![match resolve_command(command, dir) {
        Some(found) => Finding::Evidence(format!("command resolves to {}", found.display())),
        None => problem(
            true,
            format!("command `{command}` does not resolve to an executable"),
            "Set `command` to the binary's absolute path (e.g. ~/.cargo/bin/bedrock-provisioner after `cargo install --path .`), or put it on the PATH Claude Code starts with.",
        ),
    }];
    if args.first() != Some(&"serve") {
        findings.push(problem(
            true,
            format!("args {args:?} do not start with `serve`"),
            "Set \"args\": [\"serve\"] (add \"--mode\", \"provision\" to allow creating users and keys).",
        ));
    }
    findings
}

/// Secrets, keys and regions in the server's `env` block.
fn env_findings(env: Option<&serde_json::Map<String, Value>>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (key, value) in env.into_iter().flatten() {
        let value = value.as_str().unwrap_or_default();
        let expanded = value.starts_with("${");
        match key.as_str() {
            "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN" if !expanded => findings.push(problem(
                false,
                format!("{key} is written into .mcp.json"),
                "Do not commit secrets: use \"AWS_PROFILE\" (or ${VAR} expansion) instead of literal keys.",
            )),
            "AWS_BEARER_TOKEN_BEDROCK" => findings.push(problem(
                false,
                "AWS_BEARER_TOKEN_BEDROCK is set for the server",
                "The server does not need a Bedrock API key (it uses IAM credentials); remove it from its env so the key is not stored in the project.",
            )),
            "AWS_BEDROCK_API_KEY" => findings.push(problem(
                false,
                "AWS_BEDROCK_API_KEY is not read by any AWS SDK",
                "Remove it; clients read AWS_BEARER_TOKEN_BEDROCK.",
            )),
            "AWS_REGION" if crate::core::domain::names::parse_region("env", value).is_err() && !expanded => {
                findings.push(problem(
                    true,
                    format!("AWS_REGION `{value}` is not a region code"),
                    "Use a region code such as us-east-1.",
                ));
            }
            _ => {}
        }
    }
    findings
}

/// Fail on the first blocking problem, else warn on the first other one, else pass with `ran`; every
/// finding is shown.
fn verdict(id: CheckId, name: &str, ran: String, findings: Vec<Finding>) -> CheckResult {
    let first = |wanted: bool| {
        findings.iter().find_map(|f| match f {
            Finding::Problem {
                blocking, summary, ..
            } if *blocking == wanted => Some(summary.clone()),
            _ => None,
        })
    };
    let mut result = match (first(true), first(false)) {
        (Some(summary), _) => CheckResult::fail(id, format!("server `{name}`: {summary}")),
        (None, Some(summary)) => CheckResult::warn(id, format!("server `{name}`: {summary}")),
        (None, None) => CheckResult::pass(id, ran),
    };
    for finding in findings {
        result = match finding {
            Finding::Evidence(line) => result.evidence(line),
            Finding::Problem { summary, fix, .. } => result.evidence(summary).fix(fix),
        };
    }
    result
}

/// The executable a command names: a path (relative to the project) or a name on PATH.
fn resolve_command(command: &str, project: &Path) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                m.is_file()
            }
        })
    };
    let expanded = command
        .strip_prefix("~/")
        .and_then(|rest| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(rest)))
        .unwrap_or_else(|| PathBuf::from(command));
    if expanded.components().count() > 1 {
        let path = if expanded.is_absolute() {
            expanded
        } else {
            project.join(expanded)
        };
        return executable(&path).then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(command))
        .find(|p| executable(p))
}

/// What the server's own environment holds that would surprise a user (names only; a key is inspected,
/// never shown).
pub(crate) fn environment_findings(
    get: impl Fn(&str) -> Option<String>,
) -> Vec<(bool, String, String)> {
    let mut findings = Vec::new();
    if let Some(value) = get("AWS_BEARER_TOKEN_BEDROCK").filter(|v| !v.is_empty()) {
        let report = inspect_key(&value, DateTime::from(std::time::SystemTime::now()).secs());
        let kind = report.kind.map_or("unknown", |k| match k {
            crate::core::keys::inspect::KeyKind::LongTerm => "a long-term key",
            crate::core::keys::inspect::KeyKind::ShortTerm => "a short-term key",
            crate::core::keys::inspect::KeyKind::Unrecognized => "not a valid key",
        });
        findings.push((
            false,
            format!("AWS_BEARER_TOKEN_BEDROCK is set in this environment ({kind})"),
            "AWS SDKs and Claude Code in this environment call Bedrock with that key instead of your IAM credentials (this server ignores it for its own calls). Unset it unless that is intended.".to_owned(),
        ));
        for problem in report.problems {
            findings.push((
                true,
                format!("AWS_BEARER_TOKEN_BEDROCK: {problem}"),
                problem,
            ));
        }
    }
    if get("AWS_BEDROCK_API_KEY").is_some() {
        findings.push((
            false,
            "AWS_BEDROCK_API_KEY is set, but no AWS SDK reads it".to_owned(),
            "Rename it to AWS_BEARER_TOKEN_BEDROCK (the variable the SDKs and Claude Code read)."
                .to_owned(),
        ));
    }
    if get("CLAUDE_CODE_USE_BEDROCK").is_some_and(|v| v != "1") {
        findings.push((
            false,
            "CLAUDE_CODE_USE_BEDROCK is set but not to 1".to_owned(),
            "Set CLAUDE_CODE_USE_BEDROCK=1 for Claude Code to use Bedrock.".to_owned(),
        ));
    }
    findings
}

/// Records the `Date` header of the response it sees.
#[derive(Debug, Default, Clone)]
struct DateHeader(Arc<Mutex<Option<String>>>);

impl Intercept for DateHeader {
    fn name(&self) -> &'static str {
        "DateHeader"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(date.to_owned());
        }
        Ok(())
    }
}

impl Provisioner {
    /// This machine's clock against AWS's `Date` header: problems beyond a minute (failing beyond AWS's five),
    /// and the evidence line.
    async fn clock_skew(&self) -> (Vec<(bool, String, String)>, String) {
        let mut problems = Vec::new();
        let evidence;
        let header = DateHeader::default();
        let answered = self
            .clients()
            .await
            .sts
            .get_caller_identity()
            .customize()
            .interceptor(header.clone())
            .send()
            .await
            .map_err(|e| sdk_error("sts:GetCallerIdentity", e));
        let now = DateTime::from(std::time::SystemTime::now()).secs();
        let date = header
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match date
            .as_deref()
            .map(|d| DateTime::from_str(d, Format::HttpDate))
        {
            Some(Ok(aws_time)) => {
                let skew = now - aws_time.secs();
                evidence = format!("clock skew against AWS: {skew:+} s");
                if skew.abs() > MAX_SKEW_SECONDS {
                    problems.push((true, format!("this machine's clock is {skew:+} s off AWS's; SigV4 requests fail beyond 5 minutes"), "Synchronize the clock (timedatectl set-ntp true, or your OS's time service).".to_owned()));
                } else if skew.abs() > WARN_SKEW_SECONDS {
                    problems.push((
                        false,
                        format!("this machine's clock is {skew:+} s off AWS's"),
                        "Synchronize the clock before it drifts past AWS's 5-minute limit."
                            .to_owned(),
                    ));
                }
            }
            _ => {
                evidence = match answered {
                    Ok(_) => "clock skew: AWS sent no Date header".to_owned(),
                    Err(error) => format!("clock skew not measured: {error}"),
                }
            }
        }
        (problems, evidence)
    }

    pub(super) async fn check_environment(&self) -> CheckResult {
        let id = CheckId::Environment;
        let mut findings = environment_findings(|name| std::env::var(name).ok());
        let (skew, evidence) = self.clock_skew().await;
        findings.extend(skew);
        let failing = findings
            .iter()
            .find(|(blocking, _, _)| *blocking)
            .map(|f| f.1.clone());
        let warning = findings.first().map(|f| f.1.clone());
        let mut result = match (failing, warning) {
            (Some(summary), _) => CheckResult::fail(id, summary),
            (None, Some(summary)) => CheckResult::warn(id, summary),
            (None, None) => CheckResult::pass(
                id,
                "no surprising Bedrock variables; the clock agrees with AWS",
            ),
        };
        result = result.evidence(evidence);
        for (_, summary, fix) in findings {
            result = result.evidence(summary).fix(fix);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_findings_name_variables_never_values() {
        let env = |name: &str| match name {
            "AWS_BEARER_TOKEN_BEDROCK" => Some("bdk_v1_secretvalue".to_owned()),
            "AWS_BEDROCK_API_KEY" => Some("x".to_owned()),
            _ => None,
        };
        let findings = environment_findings(env);
        assert_eq!(findings.len(), 3, "{findings:?}");
        assert!(
            findings
                .iter()
                .any(|f| f.0 && f.1.contains("outdated guide"))
        );
        assert!(
            findings
                .iter()
                .all(|f| !f.1.contains("secretvalue") && !f.2.contains("secretvalue"))
        );
        assert!(environment_findings(|_| None).is_empty());
    }
}
