//! The audit log: one JSON line per call of a mutating tool, over MCP or from the command line (to a file
//! when configured, and to stderr at info level): time, AWS caller, client, tool, sanitized arguments,
//! outcome, resources changed. Only allow-listed identifier fields of a result are copied, so a key value
//! can never reach it.

use std::{io::Write, path::Path, sync::Mutex};

use aws_smithy_types::{DateTime, date_time::Format};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{core::Provisioner, mode::AccessMode};

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
    /// The structured result of a successful call (or a failure's error data).
    pub result: Option<&'a Value>,
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
        let outcome = match call.outcome {
            Outcome::Ok => partial(call.result).unwrap_or(Outcome::Ok),
            other => other,
        };
        let caller = if reached_aws {
            core.caller().await.ok().cloned()
        } else {
            core.known_caller().cloned()
        };
        let account = caller.as_ref().map(|c| c.account.clone());
        let caller = caller.map(|c| c.arn);
        let dry_run = call.arguments["dry_run"].as_bool().unwrap_or(false);
        let mut effects = if dry_run {
            Effects::default()
        } else {
            effects(call.tool, call.result)
        };
        let accounts = by_account(&mut effects, account.as_deref());
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

/// What a call created and deleted, read from its result the way each tool reports it (ids only).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Created by the call, or left behind by its failure.
    pub created: Vec<String>,
    /// Deleted by the call.
    pub deleted: Vec<String>,
    /// For the fleet tools: (account, id, created) of each, by the account the result names.
    pub placed: Vec<(Option<String>, String, bool)>,
}

impl Effects {
    /// Record `id` as created (`true`) or deleted in `account` (the call's own when `None`).
    fn place(&mut self, account: &Value, id: Option<String>, created: bool) {
        let Some(id) = id else { return };
        let account = account.as_str().map(str::to_owned);
        if created {
            self.created.push(id.clone());
        } else {
            self.deleted.push(id.clone());
        }
        self.placed.push((account, id, created));
    }
}

/// The fleet tools' effects by account (`caller`'s for an entry that names none), accounts sorted; empty
/// for the other tools.
fn by_account(effects: &mut Effects, caller: Option<&str>) -> Vec<AccountEffects> {
    let mut accounts: std::collections::BTreeMap<String, AccountEffects> = Default::default();
    for (account, id, created) in effects.placed.drain(..) {
        let account = account
            .or_else(|| caller.map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned());
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

/// What a fleet tool created and deleted: a sweep's new and replaced keys; an apply's users, keys and
/// budgets, and the users `prune` removed.
fn fleet_effects(result: &Value, effects: &mut Effects) {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let each = |key: &str| result[key].as_array().into_iter().flatten();
    for unit in each("units") {
        let account = &unit["account"];
        if unit["error"].is_null() && !unit["new_key"].is_null() {
            effects.place(account, text(&unit["new_key"]), true);
            // A sweep names every key its rotation deleted; older reports only the replaced one.
            match unit["deleted"].as_array().filter(|d| !d.is_empty()) {
                Some(deleted) => {
                    for id in deleted {
                        effects.place(account, text(id), false);
                    }
                }
                None => effects.place(account, text(&unit["replaced"]), false),
            }
        }
        for id in unit["created"].as_array().into_iter().flatten() {
            effects.place(account, text(id), true);
        }
    }
    for absent in each("absent").filter(|_| result["plan"] == false) {
        if absent["removes"] == true && absent["error"].is_null() {
            effects.place(&absent["account"], text(&absent["user_name"]), false);
        }
        // A removal that failed after deleting the unit's secret or budget still deleted them.
        for id in absent["deleted_with"].as_array().into_iter().flatten() {
            effects.place(&absent["account"], text(id), false);
        }
    }
}

/// The [`Effects`] of a finished (not dry-run) call of `tool`.
pub fn effects(tool: &str, result: Option<&Value>) -> Effects {
    let Some(result) = result else {
        return Effects::default();
    };
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let mut effects = Effects {
        created: strings(&result["resource_ids"]),
        ..Effects::default()
    };
    match tool {
        "provision_user" => {
            for change in result["resources"].as_array().into_iter().flatten() {
                if change["status"] == "created" && change["resource"] != "policy_attachment" {
                    effects.created.extend(text(&change["id"]));
                }
            }
        }
        "create_api_key" => effects.created.extend(text(&result["credential_id"])),
        "rotate_key" => {
            effects
                .created
                .extend(text(&result["new_key"]["credential_id"]));
            effects.deleted = strings(&result["deleted_credential_ids"]);
        }
        "revoke_key" if result["outcome"] == "deleted" => {
            effects.deleted.extend(text(&result["credential_id"]));
        }
        "deprovision_user" => {
            for step in result["steps"].as_array().into_iter().flatten() {
                let deletes = step["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("delete"));
                if deletes && step["status"] == "done" {
                    effects.deleted.extend(text(&step["resource"]));
                }
            }
        }
        "sweep_keys" | "apply_fleet" => fleet_effects(result, &mut effects),
        "create_budget_alert" if result["status"] == "created" => {
            effects.created.extend(text(&result["budget_name"]));
        }
        "enforce_spend_caps" if result["dry_run"] != true => cap_effects(result, &mut effects),
        _ => {}
    }
    effects
}

/// A fleet run's or sweep's result with failed units: `partial`, not `ok`.
fn partial(result: Option<&Value>) -> Option<Outcome> {
    let units = result?["units"].as_array()?;
    let failed = units.iter().filter(|u| u["error"].is_string()).count();
    (failed > 0).then_some(Outcome::Partial {
        failed,
        total: units.len(),
    })
}

/// Every attach (created) and lift (deleted) of a spend-cap deny, by unit.
fn cap_effects(result: &Value, effects: &mut Effects) {
    for unit in result["units"].as_array().into_iter().flatten() {
        let name = format!(
            "spend-cap-deny:{}",
            unit["business_unit"].as_str().unwrap_or_default()
        );
        match unit["action"].as_str() {
            Some("capped") => effects.created.push(name),
            Some("lifted") => effects.deleted.push(name),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_run_with_failed_units_is_partial_not_ok() {
        let swept = json!({"units": [{"business_unit": "a", "error": null}, {"business_unit": "b", "error": "throttled"}]});
        let outcome = partial(Some(&swept)).unwrap();
        assert_eq!(outcome.to_string(), "partial:1 of 2 units failed");
        assert!(partial(Some(&json!({"units": [{"error": null}]}))).is_none());
        assert!(partial(Some(&json!({"credential_id": "ACCA1"}))).is_none());
    }

    #[test]
    fn fleet_effects_are_told_apart_by_account() {
        let applied = json!({"plan": false,
            "units": [{"business_unit": "mv", "account": "222", "error": null,
                       "created": ["mv-bedrock-user", "ACCANEW"]},
                      {"business_unit": "stay", "error": null, "created": []}],
            "absent": [{"business_unit": "mv", "account": "111", "user_name": "mv-bedrock-user",
                        "removes": true, "error": null}]});
        let mut effects = effects("apply_fleet", Some(&applied));
        assert_eq!(effects.created, ["mv-bedrock-user", "ACCANEW"]);
        assert_eq!(effects.deleted, ["mv-bedrock-user"]);
        let accounts = by_account(&mut effects, Some("111"));
        assert_eq!(
            accounts,
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
        let mut single = effects_of_rotation();
        assert!(
            by_account(&mut single, Some("111")).is_empty(),
            "only the fleet tools"
        );
    }

    fn effects_of_rotation() -> Effects {
        effects(
            "rotate_key",
            Some(&json!({"new_key": {"credential_id": "ACCANEW"}, "deleted_credential_ids": []})),
        )
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
    fn created_and_deleted_are_told_apart_without_kinds_or_composite_ids() {
        let provisioned = json!({"user_arn": "arn:u", "resources": [
            {"resource": "managed_policy", "id": "arn:p", "status": "unchanged"},
            {"resource": "iam_user", "id": "u", "status": "created"},
            {"resource": "user_tags", "id": "u", "status": "created"},
            {"resource": "policy_attachment", "id": "u <- arn:p", "status": "created"}]});
        assert_eq!(
            effects("provision_user", Some(&provisioned)).created,
            ["u", "u"]
        );
        assert_eq!(resources(Some(&provisioned)), ["arn:u"]);
        let rotated = json!({"new_key": {"credential_id": "ACCANEW"}, "old_credential_id": "ACCAOLD",
                             "deleted_credential_ids": ["ACCAOLD"]});
        assert_eq!(
            effects("rotate_key", Some(&rotated)),
            Effects {
                created: vec!["ACCANEW".into()],
                deleted: vec!["ACCAOLD".into()],
                placed: Vec::new(),
            }
        );
        assert_eq!(
            resources(Some(&rotated)),
            ["ACCANEW", "ACCAOLD"],
            "each id once, sorted"
        );
        let orphan = json!({"kind": "orphaned_key", "resource_ids": ["ACCAORPHAN"]});
        assert_eq!(
            effects("create_api_key", Some(&orphan)).created,
            ["ACCAORPHAN"]
        );
    }
}
