//! The one error type of the core. Every variant carries what a user needs to fix the problem, and
//! [`Error::remediation`] says it in words. No variant ever holds a secret.

/// Everything that can go wrong in a core operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input failed validation; no AWS call was made.
    #[error("invalid `{field}`: {rule}")]
    InvalidInput {
        /// The input field at fault, as named in the tool's schema.
        field: String,
        /// The rule it broke, in words.
        rule: String,
    },

    /// A new key was created but could not be handed off, and deleting it again failed too: it exists, unused.
    #[error(
        "the new key {credential_id} could not be delivered ({delivery}), and deleting it again failed \
         ({cleanup}): the key exists, unused"
    )]
    OrphanedKey {
        /// The orphaned credential's id.
        credential_id: String,
        /// Why the hand-off failed.
        delivery: String,
        /// Why deleting it failed.
        cleanup: String,
    },

    /// An input refused after reading AWS (the policy does not exist, the secret is not the tool's, two
    /// active keys and none named): AWS was called, so the answer must not claim otherwise.
    #[error("invalid `{field}`: {rule}")]
    Refused {
        /// The input field at fault, as named in the tool's schema.
        field: String,
        /// Why, in words.
        rule: String,
    },

    /// An IAM user with the derived name exists but carries no `managed-by=bedrock-provisioner` tag.
    #[error(
        "IAM user `{user_name}` already exists and was not created by bedrock-provisioner \
         (it has no `managed-by=bedrock-provisioner` tag); nothing was changed"
    )]
    ForeignUser {
        /// The IAM user name.
        user_name: String,
    },

    /// The AWS principal is not allowed to perform an action.
    #[error("AWS denied `{action}` to the caller: {message}")]
    AccessDenied {
        /// The IAM action, e.g. `iam:CreateUser`.
        action: &'static str,
        /// AWS's own message.
        message: String,
    },

    /// AWS kept throttling an action after the SDK's retries.
    #[error("AWS throttled `{action}` and retries did not get through: {message}")]
    Throttled {
        /// The IAM action.
        action: &'static str,
        /// AWS's own message.
        message: String,
    },

    /// No credentials could be found, or AWS rejected them as invalid or expired.
    #[error("AWS credentials are missing or invalid: {detail}")]
    Credentials {
        /// What the SDK reported.
        detail: String,
    },

    /// AWS (or the configured endpoint) could not be reached, or did not answer in time.
    #[error("could not complete `{action}`: {detail}")]
    Unreachable {
        /// The IAM action.
        action: &'static str,
        /// What the SDK reported.
        detail: String,
    },

    /// A resource that must exist does not.
    #[error("{what} does not exist: {message}")]
    NotFound {
        /// Which resource.
        what: String,
        /// AWS's own message.
        message: String,
    },

    /// The user already has IAM's maximum of two Bedrock API keys.
    #[error(
        "`{user_name}` already has two Bedrock API keys ({}), IAM's limit per user",
        credential_ids.join(", ")
    )]
    KeyLimit {
        /// The IAM user.
        user_name: String,
        /// Its existing keys.
        credential_ids: Vec<String>,
    },

    /// The business unit has no user of this project yet.
    #[error("business unit `{business_unit}` has no IAM user `{user_name}`")]
    NotProvisioned {
        /// The business unit.
        business_unit: String,
        /// The user name it would have.
        user_name: String,
    },

    /// A destructive operation was called without `confirm: true`; nothing was changed.
    #[error("confirmation required: {summary}")]
    ConfirmationRequired {
        /// What the operation would do.
        summary: String,
        /// The plan's digest, for applying exactly this plan.
        plan_digest: String,
    },

    /// The plan the user confirmed is no longer what the operation would do (AWS changed since); nothing
    /// was changed.
    #[error("the plan changed since it was confirmed; it now is: {summary}")]
    PlanChanged {
        /// What the operation would do now.
        summary: String,
        /// The new plan's digest.
        plan_digest: String,
    },

    /// Another key operation on the unit holds its lease (another server or CLI, or one that was
    /// interrupted and is finished automatically once the lease expires).
    #[error(
        "another key operation on business unit `{business_unit}` started {started_secs_ago} s ago and has \
         not finished: it is still running elsewhere (another server or CLI), or it was interrupted"
    )]
    InFlight {
        /// The business unit.
        business_unit: String,
        /// How long ago the other operation started.
        started_secs_ago: u64,
        /// When its lease expires and an interrupted operation is finished by the next call.
        retry_after_secs: u64,
    },

    /// The client cancelled the request; work in flight was stopped.
    #[error("cancelled by the client")]
    Cancelled,

    /// Any other error AWS returned.
    #[error("AWS rejected `{action}` with {code}: {message}")]
    Aws {
        /// The IAM action.
        action: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's own message.
        message: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// AWS resources the failure left behind, for the audit record (ids only).
    pub fn resources(&self) -> Vec<String> {
        match self {
            Self::OrphanedKey { credential_id, .. } => vec![credential_id.clone()],
            _ => Vec::new(),
        }
    }

    /// Whether AWS was called before the failure (an input refused after reading AWS included): only an
    /// input refused up front, a missing confirmation and a cancellation made no call.
    pub fn called_aws(&self) -> bool {
        !matches!(
            self,
            Self::InvalidInput { .. } | Self::ConfirmationRequired { .. } | Self::Cancelled
        )
    }

    /// The digest of the plan a refusal for confirmation carries, for confirming exactly that plan.
    pub fn plan_digest(&self) -> Option<&str> {
        match self {
            Self::ConfirmationRequired { plan_digest, .. }
            | Self::PlanChanged { plan_digest, .. } => Some(plan_digest),
            _ => None,
        }
    }

    /// Shorthand for [`Error::Refused`]: an input found wrong only by reading AWS.
    pub fn refused(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Refused {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// A stable, machine-readable name for the kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } | Self::Refused { .. } => "invalid_input",
            Self::OrphanedKey { .. } => "orphaned_key",
            Self::ForeignUser { .. } => "foreign_user",
            Self::AccessDenied { .. } => "access_denied",
            Self::Throttled { .. } => "throttled",
            Self::Credentials { .. } => "credentials",
            Self::Unreachable { .. } => "unreachable",
            Self::NotFound { .. } => "not_found",
            Self::KeyLimit { .. } => "key_limit",
            Self::NotProvisioned { .. } => "not_provisioned",
            Self::ConfirmationRequired { .. } => "confirmation_required",
            Self::PlanChanged { .. } => "plan_changed",
            Self::InFlight { .. } => "in_flight",
            Self::Cancelled => "cancelled",
            Self::Aws { .. } => "aws_error",
        }
    }

    /// What the user should do about it, naming operations and arguments in the caller's `dialect`.
    pub fn remediation(&self, dialect: &dyn Dialect) -> String {
        let d = dialect;
        let again = d.again();
        match self {
            Self::InvalidInput { field, .. } => {
                format!(
                    "Correct {} and {again}. Nothing was sent to AWS.",
                    d.field(field)
                )
            }
            Self::OrphanedKey { credential_id, .. } => format!(
                "Delete the unused key {credential_id} ({} with {} and {}, or `aws iam \
                 delete-service-specific-credential`), fix the hand-off target, and {again}.",
                d.operation("revoke_key"),
                d.argument("credential_id", credential_id),
                d.argument("action", "delete")
            ),
            Self::Refused { field, .. } => format!(
                "Correct {} and {again}. AWS was only read to check it; nothing was changed.",
                d.field(field)
            ),
            Self::ForeignUser { .. } => format!(
                "bedrock-provisioner changes only users it manages. Choose another business unit name, \
                 or run {} with {} to let bedrock-provisioner manage this user (it adds its tags and \
                 attaches the Bedrock policy; it removes nothing).",
                d.operation("provision_user"),
                d.argument("adopt", "true")
            ),
            Self::AccessDenied { action, .. } => format!(
                "The AWS principal this server runs as lacks `{action}`. Ask an administrator to \
                 attach a policy with the statement \
                 {{\"Effect\": \"Allow\", \"Action\": \"{action}\", \"Resource\": \"*\"}} \
                 (scope the resource down where possible), or run the server with the credentials \
                 of a principal that has it (e.g. AWS_PROFILE=admin). Calls that succeeded before \
                 this one are kept; running the same request again resumes where it stopped."
            ),
            Self::Throttled { .. } => format!(
                "Wait a minute and {again} (the request is idempotent), or raise the retry budget \
                 with --max-attempts / BEDROCK_PROVISIONER_MAX_ATTEMPTS."
            ),
            Self::Credentials { .. } => "Give the server AWS credentials: run `aws configure` or \
                `aws sso login --profile NAME` and set AWS_PROFILE=NAME, or set AWS_ACCESS_KEY_ID \
                and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) in the \
                server's environment (the `env` block of .mcp.json). Check with \
                `aws sts get-caller-identity`."
                .to_owned(),
            Self::Unreachable { .. } => format!(
                "Check network access to AWS (proxy, VPC endpoints), the region (AWS_REGION), and \
                 AWS_ENDPOINT_URL if one is set; then {again}."
            ),
            Self::NotFound { .. } => {
                "Check the name or ARN; create the resource first if it should exist.".to_owned()
            }
            Self::KeyLimit { .. } => format!(
                "Use {} to replace a key without downtime (it removes expired or inactive keys first, \
                 or replaces the key you name), or {} with {} to free a slot.",
                d.operation("rotate_key"),
                d.operation("revoke_key"),
                d.argument("action", "delete")
            ),
            Self::NotProvisioned { business_unit, .. } => format!(
                "Provision it first with {} ({}), or check the spelling with {}.",
                d.operation("provision_user"),
                d.argument("business_unit", business_unit),
                d.operation("list_business_units")
            ),
            Self::ConfirmationRequired { plan_digest, .. } => format!(
                "Nothing was changed. Show the user what will happen ({again} with {} for the full \
                 plan), and once they agree, {again} with {} (the change applied is then this plan, \
                 or none).",
                d.argument("dry_run", "true"),
                d.confirm_plan(plan_digest)
            ),
            Self::PlanChanged { plan_digest, .. } => format!(
                "Nothing was changed: AWS changed since the user agreed. Show them this new plan, and \
                 once they agree, {again} with {}.",
                d.confirm_plan(plan_digest)
            ),
            Self::InFlight {
                retry_after_secs, ..
            } => format!(
                "Nothing was changed. Wait and {again}: in {retry_after_secs} s at the latest, an \
                 interrupted operation is finished by the next call (keys it never handed off are \
                 deleted, a handed-off key is kept)."
            ),
            Self::Cancelled => format!("Nothing more was started; {again} to run it to the end."),
            Self::Aws { .. } => format!(
                "Read AWS's message above; fix the cause and {again} (the request is idempotent). \
                 If it persists, check the AWS Health Dashboard."
            ),
        }
    }
}

/// How an adapter names the operations and arguments a remediation points at: the core says what to do,
/// the adapter how its user does it (an agent passes `confirm: true`, a command line `--yes`).
pub trait Dialect {
    /// An operation, e.g. `` `provision_user` `` or `` `provision-user` ``.
    fn operation(&self, name: &str) -> String;
    /// An input field, e.g. `` `credential_age_days` `` or `` `--credential-age-days` ``.
    fn field(&self, name: &str) -> String;
    /// An argument with its value, e.g. `` `confirm: true` `` or `` `--yes` ``.
    fn argument(&self, name: &str, value: &str) -> String;
    /// How to try again: "call again", "run the command again".
    fn again(&self) -> &'static str;
    /// How to confirm the plan with this digest and no other, e.g. `` `confirm: true` and
    /// `plan_digest: "…"` `` or `` `--yes --plan-digest …` ``.
    fn confirm_plan(&self, digest: &str) -> String;
}

/// The tools' own names: `provision_user`, `confirm: true`. What an MCP client is told, and what reports
/// shared by every adapter (diagnose's fixes) say.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolDialect;

impl Dialect for ToolDialect {
    fn operation(&self, name: &str) -> String {
        format!("`{name}`")
    }

    fn field(&self, name: &str) -> String {
        format!("`{name}`")
    }

    fn argument(&self, name: &str, value: &str) -> String {
        match value {
            "true" | "false" => format!("`{name}: {value}`"),
            _ => format!("`{name}: \"{value}\"`"),
        }
    }

    fn again(&self) -> &'static str {
        "call again"
    }

    fn confirm_plan(&self, digest: &str) -> String {
        format!("`confirm: true` and `plan_digest: \"{digest}\"`")
    }
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A read whose [`Error::NotFound`] means "absent": `Ok(None)` then, other errors unchanged.
pub fn found<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_input_refused_before_aws_claims_nothing_was_sent() {
        assert!(
            Error::invalid("region", "x")
                .remediation(&ToolDialect)
                .contains("Nothing was sent to AWS")
        );
        let refused = Error::refused("policy.arn", "no such policy");
        assert!(
            !refused
                .remediation(&ToolDialect)
                .contains("Nothing was sent")
        );
        assert_eq!(refused.kind(), "invalid_input");
        assert_eq!(refused.to_string(), "invalid `policy.arn`: no such policy");
    }
}
