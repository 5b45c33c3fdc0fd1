//! The audit log: one JSON line per call of a mutating tool, over MCP or from the command line (to a file
//! when configured, and to stderr at info level): time, AWS caller, client, tool, sanitized arguments,
//! outcome, resources changed. Only allow-listed identifier fields of a result are copied, so a key value
//! can never reach it.

use std::{io::Write, path::Path, sync::Mutex};

use aws_smithy_types::{DateTime, date_time::Format};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{core::Provisioner, mode::AccessMode};

mod effects;

pub use effects::{Audited, Effects, Placed, collect, offer};

/// Result fields that name a resource (never a secret).
const RESOURCE_FIELDS: &[&str] = &[
    "user_arn",
    "policy_arn",
    "credential_id",
    "old_credential_id",
    "deleted_credential_ids",
    "secret_arn",
    "path",
    "budget_name",
    "resource_ids",
];
/// Argument names whose values are never recorded.
const SECRET_ARGUMENTS: &[&str] = &["api_key", "key", "token", "secret"];

/// One audit record.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// When the call finished (RFC 3339).
    pub time: String,
    /// The AWS principal the server acted as, or `unknown` when it could not be determined.
    pub caller_arn: &'a str,
    /// The AWS account the call ran against (the caller's), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The MCP client's name and version, as it announced them, or `cli <version>` for a command.
    pub client: String,
    /// The tool.
    pub tool: &'a str,
    /// The arguments, with secret-looking values replaced.
    pub arguments: Value,
    /// How the call ended.
    pub outcome: Outcome,
    /// Whether it was a dry run (nothing changed).
    pub dry_run: bool,
    /// Identifiers of the resources the call named in its result (each once, ids only).
    pub resources: Vec<String>,
    /// Of those, the ones the call created (a failure's leftovers included).
    pub created: Vec<String>,
    /// Of those, the ones the call deleted.
    pub deleted: Vec<String>,
    /// For the fleet tools, which span accounts: `created` and `deleted` again, by the account each
    /// resource is in (a unit moved between accounts is created in one and deleted in the other).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountEffects>,
    /// How a destructive change was confirmed: `argument` (`confirm: true`, `--yes`) or `elicitation`
    /// (the user answered the client's question); absent when none was needed or given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<&'static str>,
    /// The client's address, for MCP over HTTP: the connection that sent the call (over HTTP+SSE, the one
    /// that POSTed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Over HTTP+SSE, the address of the connection that opened the session's event stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_peer: Option<String>,
}

/// What a call created and deleted in one account.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountEffects {
    /// The account.
    pub account: String,
    /// Created there (a failure's leftovers included).
    pub created: Vec<String>,
    /// Deleted there.
    pub deleted: Vec<String>,
}

/// How a call ended, as both adapters record it: `ok`, `error:<kind>` (the core error's kind),
/// `refused:mode <mode>` (a tool the server's mode does not offer), `pending` (waiting for the user's
/// answer) or `protocol_error:<code>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed with a core error of this kind.
    Error(String),
    /// The server's mode does not offer the tool.
    RefusedMode(AccessMode),
    /// It waits for the user's answer.
    Pending,
    /// The request broke the protocol (JSON-RPC error code).
    ProtocolError(i32),
    /// A fleet run or sweep ended, but some of its units failed.
    Partial {
        /// Units that failed.
        failed: usize,
        /// Units in the run.
        total: usize,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Error(kind) => write!(f, "error:{kind}"),
            Self::RefusedMode(mode) => write!(f, "refused:mode {}", mode.as_str()),
            Self::Pending => f.write_str("pending"),
            Self::ProtocolError(code) => write!(f, "protocol_error:{code}"),
            Self::Partial { failed, total } => {
                write!(f, "partial:{failed} of {total} units failed")
            }
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A finished call of a mutating tool, as the audit log receives it.
#[derive(Debug)]
pub struct Call<'a> {
    /// Who called: the MCP client's name and version, or `cli <version>`.
    pub client: String,
    /// The tool (or the command's tool name).
    pub tool: &'a str,
    /// The arguments, already passed through [`sanitize`].
    pub arguments: Value,
    /// How the call ended.
    pub outcome: Outcome,
    /// The structured result of a successful call (or a failure's error data): the ids it names.
    pub result: Option<&'a Value>,
    /// What the call created and deleted, from its typed report or error.
    pub effects: Effects,
    /// Whether the user confirmed through the client's elicitation (else an argument confirmed, if any).
    pub elicited: bool,
    /// The client's address, for MCP over HTTP (over HTTP+SSE, the POSTing connection's).
    pub peer: Option<String>,
    /// Over HTTP+SSE, the address that opened the session's event stream.
    pub stream_peer: Option<String>,
}

/// Where audit records go.
#[derive(Debug, Default)]
pub struct AuditLog {
    file: Option<Mutex<std::fs::File>>,
}

impl AuditLog {
    /// Append to `path` (created with mode 0600 when missing).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        Ok(Self {
            file: Some(Mutex::new(options.open(path)?)),
        })
    }

    /// Record a finished call, naming the AWS caller. The caller is looked up (one `GetCallerIdentity`, once
    /// per server) for every call that reached AWS, failed ones included: only an input refused before any
    /// AWS call, a call the mode does not offer, and a protocol fault are recorded without looking it up.
    pub async fn record_call(&self, core: &Provisioner, call: Call<'_>) {
        let reached_aws = reached_aws(&call);
        let outcome = match (call.outcome, call.effects.failed_units) {
            (Outcome::Ok, Some((failed, total))) => Outcome::Partial { failed, total },
            (other, _) => other,
        };
        let caller = if reached_aws {
            core.caller().await.ok().cloned()
        } else {
            core.known_caller().cloned()
        };
        let account = caller.as_ref().map(|c| c.account.clone());
        let caller = caller.map(|c| c.arn);
        let dry_run = call.arguments["dry_run"].as_bool().unwrap_or(false);
        let effects = if dry_run {
            Effects::default()
        } else {
            call.effects
        };
        let accounts = by_account(effects.placed);
        let confirmed_by = match (call.elicited, call.arguments["confirm"].as_bool()) {
            (true, _) => Some("elicitation"),
            (false, Some(true)) => Some("argument"),
            _ => None,
        };
        let mut resources = resources(call.result);
        for id in effects.created.iter().chain(&effects.deleted) {
            if !resources.contains(id) {
                resources.push(id.clone());
            }
        }
        self.record(&AuditRecord {
            time: now(),
            caller_arn: caller.as_deref().unwrap_or("unknown"),
            account,
            client: call.client,
            tool: call.tool,
            dry_run,
            arguments: call.arguments,
            outcome,
            resources,
            created: effects.created,
            deleted: effects.deleted,
            accounts,
            confirmed_by,
            peer: call.peer,
            stream_peer: call.stream_peer,
        });
    }

    /// Write one record.
    fn record(&self, record: &AuditRecord<'_>) {
        let line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "could not encode an audit record");
                return;
            }
        };
        tracing::info!(target: "audit", "{line}");
        if let Some(file) = &self.file {
            let mut file = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(error) = writeln!(file, "{line}").and_then(|()| file.flush()) {
                tracing::error!(%error, "could not write the audit log");
            }
        }
    }
}

/// Whether the call reached AWS (so its caller is looked up): a failure's data says whether AWS was called
/// (an input refused after reading AWS was); else its kind tells.
fn reached_aws(call: &Call<'_>) -> bool {
    let called_aws = call.result.is_some_and(|r| r["called_aws"] == true);
    match &call.outcome {
        Outcome::Ok | Outcome::Partial { .. } => true,
        Outcome::Error(kind) => {
            called_aws
                || !matches!(
                    kind.as_str(),
                    "invalid_input" | "confirmation_required" | "cancelled"
                )
        }
        Outcome::RefusedMode(_) | Outcome::Pending | Outcome::ProtocolError(_) => false,
    }
}

/// The current time for a record.
fn now() -> String {
    DateTime::from(std::time::SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// Arguments with secret-looking values replaced by `[redacted]`.
pub fn sanitize(arguments: Option<&Map<String, Value>>) -> Value {
    fn clean(key: &str, value: &Value) -> Value {
        match value {
            Value::String(s)
                if SECRET_ARGUMENTS.contains(&key)
                    || s.starts_with("ABSK")
                    || s.starts_with("bedrock-api-key-") =>
            {
                Value::String("[redacted]".to_owned())
            }
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), clean(k, v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| clean(key, v)).collect()),
            other => other.clone(),
        }
    }
    arguments.map_or(Value::Null, |map| clean("", &Value::Object(map.clone())))
}

/// Identifiers of resources named in a structured result (allow-listed fields only), sorted, each once.
pub fn resources(result: Option<&Value>) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::String(s) if RESOURCE_FIELDS.contains(&key.as_str()) => {
                            out.push(s.clone());
                        }
                        Value::Array(items) if RESOURCE_FIELDS.contains(&key.as_str()) => {
                            out.extend(items.iter().filter_map(|v| v.as_str().map(str::to_owned)))
                        }
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(value) = result {
        walk(value, &mut out);
    }
    // Sorted, each once: the same record whatever order the result's map keeps its keys in.
    out.sort();
    out.dedup();
    out
}

/// The fleet tools' effects by account, accounts sorted; empty for the other tools.
fn by_account(placed: Vec<Placed>) -> Vec<AccountEffects> {
    let mut accounts: std::collections::BTreeMap<String, AccountEffects> = Default::default();
    for Placed {
        account,
        id,
        created,
    } in placed
    {
        let entry = accounts
            .entry(account.clone())
            .or_insert_with(|| AccountEffects {
                account,
                ..AccountEffects::default()
            });
        if created {
            entry.created.push(id);
        } else {
            entry.deleted.push(id);
        }
    }
    accounts.into_values().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::{fleet::FleetReport, units::provision::ProvisionReport};

    fn moved_unit(failed: bool) -> FleetReport {
        serde_json::from_value(json!({"plan": false, "cancelled": false,
            "units": [{"business_unit": "mv", "account": "222", "line": 3, "changes": [], "drift": [],
                       "created": ["mv-bedrock-user", "ACCANEW"], "error": null},
                      {"business_unit": "stay", "account": "111", "line": 7, "changes": [], "drift": [],
                       "created": [], "error": if failed { json!("throttled") } else { json!(null) }}],
            "absent": [{"business_unit": "mv", "account": "111", "user_name": "mv-bedrock-user",
                        "removes": true, "detail": "", "error": null, "deleted_with": []}]}))
        .unwrap()
    }

    #[test]
    fn fleet_effects_are_told_apart_by_account_and_failed_units_make_it_partial() {
        let effects = moved_unit(false).effects();
        assert_eq!(effects.created, ["mv-bedrock-user", "ACCANEW"]);
        assert_eq!(effects.deleted, ["mv-bedrock-user"]);
        assert_eq!(effects.failed_units, None);
        assert_eq!(
            by_account(effects.placed),
            [
                AccountEffects {
                    account: "111".into(),
                    created: vec![],
                    deleted: vec!["mv-bedrock-user".into()]
                },
                AccountEffects {
                    account: "222".into(),
                    created: vec!["mv-bedrock-user".into(), "ACCANEW".into()],
                    deleted: vec![]
                }
            ]
        );
        assert_eq!(moved_unit(true).effects().failed_units, Some((1, 2)));
        let partial = Outcome::Partial {
            failed: 1,
            total: 2,
        };
        assert_eq!(partial.to_string(), "partial:1 of 2 units failed");
    }

    #[test]
    fn secrets_never_reach_a_record() {
        let args = json!({"business_unit": "x", "api_key": "anything", "nested": {"v": "ABSKzzz"}});
        let clean = sanitize(args.as_object());
        assert_eq!(
            clean,
            json!({"business_unit": "x", "api_key": "[redacted]", "nested": {"v": "[redacted]"}})
        );
        let result = json!({
            "credential_id": "ACCA1",
            "delivery": {"method": "inline", "api_key": "ABSKsecret",
                         "client_settings": {"AWS_BEARER_TOKEN_BEDROCK": "ABSKsecret"}},
            "steps": [{"resource": "u1"}, {"resource": "u2"}],
            "deleted_credential_ids": ["ACCA2"]
        });
        let found = resources(Some(&result));
        assert_eq!(found, ["ACCA1", "ACCA2"]);
    }

    #[test]
    fn created_is_read_from_the_typed_report_without_kinds_or_composite_ids() {
        let provisioned: ProvisionReport = serde_json::from_value(json!({
            "business_unit": "u", "user_name": "u-bedrock-user", "user_arn": "arn:u", "policy_arn": "arn:p",
            "dry_run": false, "changed": true, "warnings": [], "next_steps": [],
            "resources": [
                {"resource": "managed_policy", "id": "arn:p", "status": "unchanged", "detail": ""},
                {"resource": "iam_user", "id": "u", "status": "created", "detail": ""},
                {"resource": "user_tags", "id": "u", "status": "created", "detail": ""},
                {"resource": "policy_attachment", "id": "u <- arn:p", "status": "created", "detail": ""}]}))
        .unwrap();
        assert_eq!(provisioned.effects().created, ["u", "u"]);
        let orphan = crate::core::Error::OrphanedKey {
            credential_id: "ACCAORPHAN".into(),
            delivery: "x".into(),
            cleanup: "y".into(),
        };
        assert_eq!(Effects::of_error(&orphan).created, ["ACCAORPHAN"]);
    }
}
