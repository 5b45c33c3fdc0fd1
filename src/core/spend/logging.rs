//! `enable_usage_logging`: Bedrock's model invocation logging into a CloudWatch Logs group of this project,
//! every data-delivery flag off, so a record keeps who called which model with how many tokens and never a
//! prompt or an answer. Plan (pure, from what exists) then apply; an account whose logging already goes
//! elsewhere is not overwritten.

use aws_sdk_bedrock::types::{CloudWatchConfig, LoggingConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result, found},
    domain::plan::{ChangeStatus, Plan, changes_to_confirm},
};

/// The log group of this project's invocation logs.
pub const LOG_GROUP: &str = "bedrock-provisioner/model-invocations";
/// The stream Bedrock writes to.
pub const LOG_STREAM: &str = "aws/bedrock/modelinvocations";
/// The role Bedrock assumes to write them.
pub const ROLE_NAME: &str = "BedrockProvisionerInvocationLogging";
/// Default retention: 400 days, so the same month of last year is still there.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// The retentions CloudWatch Logs accepts (`PutRetentionPolicy`, botocore `logs` `Days`).
pub const RETENTIONS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Input of `enable_usage_logging`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableUsageLoggingInput {
    /// Days the log group keeps records (default 400); one of CloudWatch Logs' retentions.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Only report what would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to change the account.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// Result of `enable_usage_logging`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UsageLoggingReport {
    /// `created`, `updated`, `unchanged` or `planned`.
    pub status: ChangeStatus,
    /// What changed (or would), in order.
    pub changes: Vec<String>,
    /// The region logged (logging is configured per account and region).
    pub region: String,
    /// The log group.
    pub log_group: String,
    /// The role Bedrock writes with.
    pub role_arn: String,
    /// Days the group keeps records.
    pub retention_days: u32,
    /// Always false: no prompt, answer, image or embedding is delivered.
    pub stores_prompts_or_answers: bool,
    /// What this call created: the log group's name and the role's ARN when they did not exist (empty
    /// for a dry run).
    pub created: Vec<String>,
}

/// What exists now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Current {
    /// The group's retention when it exists (`Some(None)`: kept forever).
    pub group: Option<Option<u32>>,
    /// The role's trust policy and inline policy, when the role exists.
    pub role: Option<(serde_json::Value, Option<serde_json::Value>)>,
    /// The account's logging configuration in the region.
    pub config: Option<Configured>,
}

/// The logging configuration, as far as the plan needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configured {
    /// Its CloudWatch group, if any.
    pub log_group: Option<String>,
    /// Its CloudWatch role, if any.
    pub role_arn: Option<String>,
    /// Its S3 bucket, if any.
    pub bucket: Option<String>,
    /// Whether any data-delivery flag is on.
    pub delivers_data: bool,
}

/// One step of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the log group.
    CreateLogGroup,
    /// Set its retention.
    SetRetention,
    /// Create the role with its trust policy.
    CreateRole,
    /// Replace the role's trust policy.
    UpdateTrust,
    /// Put the role's inline policy.
    PutRolePolicy,
    /// Put the logging configuration.
    PutConfiguration,
}

/// What the account needs, for the plan.
#[derive(Debug)]
pub struct Wanted {
    /// The retention.
    pub retention: u32,
    /// The role's trust policy.
    pub trust: serde_json::Value,
    /// The role's inline policy.
    pub policy: serde_json::Value,
    /// The role's ARN.
    pub role_arn: String,
}

/// The steps that take `current` to `wanted`, each with why; refused when logging goes elsewhere.
pub fn plan(current: &Current, wanted: &Wanted, region: &str) -> Result<Vec<(Step, String)>> {
    if let Some(config) = &current.config
        && config.log_group.as_deref() != Some(LOG_GROUP)
    {
        return Err(elsewhere(config, region));
    }
    let mut steps = Vec::new();
    match current.group {
        None => steps.push((
            Step::CreateLogGroup,
            format!("create the log group {LOG_GROUP}"),
        )),
        Some(days) if days == Some(wanted.retention) => {}
        Some(_) => {}
    }
    if current.group.flatten() != Some(wanted.retention) {
        steps.push((
            Step::SetRetention,
            format!("keep records {} days", wanted.retention),
        ));
    }
    match &current.role {
        None => steps.push((Step::CreateRole, format!("create the role {ROLE_NAME}, trusted by bedrock.amazonaws.com for this account only"))),
        Some((trust, _)) if *trust != wanted.trust => steps.push((Step::UpdateTrust, format!("set the trust policy of {ROLE_NAME}"))),
        Some(_) => {}
    }
    if current.role.as_ref().and_then(|(_, p)| p.as_ref()) != Some(&wanted.policy) {
        steps.push((
            Step::PutRolePolicy,
            format!("let {ROLE_NAME} write to {LOG_GROUP} only"),
        ));
    }
    let configured = current.config.as_ref().is_some_and(|c| {
        c.role_arn.as_deref() == Some(wanted.role_arn.as_str())
            && !c.delivers_data
            && c.bucket.is_none()
    });
    if !configured {
        steps.push((Step::PutConfiguration, format!("log every model invocation in {region} to {LOG_GROUP}, with every data-delivery flag off (no prompt or answer stored)")));
    }
    Ok(steps)
}

fn elsewhere(config: &Configured, region: &str) -> Error {
    let target = match (&config.log_group, &config.bucket) {
        (Some(group), Some(bucket)) => format!("the log group {group} and the S3 bucket {bucket}"),
        (Some(group), None) => format!("the log group {group}"),
        (None, Some(bucket)) => format!("the S3 bucket {bucket}"),
        (None, None) => "a destination this tool cannot read".to_owned(),
    };
    let reading = if config.log_group.is_some() {
        "query_usage and enforce_spend_caps already read usage from that group as it is; nothing needs to change."
    } else {
        "query_usage reads CloudWatch Logs only: add a CloudWatch destination to the existing configuration (the console's Settings page) to use it."
    };
    Error::refused(
        "region",
        format!(
            "model invocation logging in {region} already goes to {target}; it is not overwritten. {reading}"
        ),
    )
}

/// The role's trust policy: Bedrock, on behalf of this account only.
pub fn trust_policy(partition: &str, account: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": format!("arn:{partition}:bedrock:*:{account}:*")}
        }
    }]})
}

/// The role's inline policy: write to this project's invocation stream, nothing else.
pub fn role_policy(partition: &str, account: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!("arn:{partition}:logs:*:{account}:log-group:{LOG_GROUP}:log-stream:{LOG_STREAM}")
    }]})
}

impl EnableUsageLoggingInput {
    /// The retention, checked before any AWS call.
    pub fn retention(&self) -> Result<u32> {
        let days = self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        if RETENTIONS.contains(&days) {
            Ok(days)
        } else {
            Err(Error::invalid(
                "retention_days",
                format!("must be one of CloudWatch Logs' retentions: {RETENTIONS:?}"),
            ))
        }
    }
}

/// An `enable_usage_logging` plan: what the account needs and the steps to it.
#[derive(Debug)]
pub struct LoggingPlan {
    wanted: Wanted,
    steps: Vec<(Step, String)>,
    configured: bool,
    /// `unchanged`, or `planned` until applied.
    report: UsageLoggingReport,
}

impl Plan for LoggingPlan {
    type Report = UsageLoggingReport;

    fn confirmation(&self) -> Option<String> {
        let report = &self.report;
        changes_to_confirm("enable_usage_logging", report.status, &report.changes)
    }

    fn render(self) -> UsageLoggingReport {
        self.report
    }
}

impl Provisioner {
    /// The plan of turning on invocation logging for usage accounting (refused when logging already
    /// goes elsewhere).
    pub async fn plan_usage_logging(&self, input: &EnableUsageLoggingInput) -> Result<LoggingPlan> {
        let retention = input.retention()?;
        let caller = self.caller().await?.clone();
        let region = self.clients().await.region.clone();
        let wanted = Wanted {
            retention,
            trust: trust_policy(&caller.partition, &caller.account),
            policy: role_policy(&caller.partition, &caller.account),
            role_arn: format!(
                "arn:{}:iam::{}:role{}{ROLE_NAME}",
                caller.partition,
                caller.account,
                self.settings().iam_path
            ),
        };
        let current = self.logging_current().await?;
        let steps = plan(&current, &wanted, &region)?;
        let report = UsageLoggingReport {
            status: if steps.is_empty() {
                ChangeStatus::Unchanged
            } else {
                ChangeStatus::Planned
            },
            changes: steps.iter().map(|(_, why)| why.clone()).collect(),
            region,
            log_group: LOG_GROUP.to_owned(),
            role_arn: wanted.role_arn.clone(),
            retention_days: retention,
            stores_prompts_or_answers: false,
            created: Vec::new(),
        };
        Ok(LoggingPlan {
            wanted,
            steps,
            configured: current.config.is_some(),
            report,
        })
    }

    /// Apply a logging plan, step by step; the report names what was created.
    pub async fn apply_usage_logging(&self, plan: LoggingPlan) -> Result<UsageLoggingReport> {
        let LoggingPlan {
            wanted,
            steps,
            configured,
            mut report,
        } = plan;
        if report.status == ChangeStatus::Unchanged {
            return Ok(report);
        }
        for (step, _) in &steps {
            self.logging_step(step, &wanted).await?;
            match step {
                Step::CreateLogGroup => report.created.push(LOG_GROUP.to_owned()),
                Step::CreateRole => report.created.push(wanted.role_arn.clone()),
                _ => {}
            }
        }
        report.status = if configured {
            ChangeStatus::Updated
        } else {
            ChangeStatus::Created
        };
        Ok(report)
    }

    async fn logging_step(&self, step: &Step, wanted: &Wanted) -> Result<()> {
        let clients = self.clients().await;
        let (logs, iam) = (&clients.logs, &clients.iam);
        match step {
            Step::CreateLogGroup => ignore_exists(logs.create_log_group().log_group_name(LOG_GROUP).send().await.map_err(|e| sdk_error("logs:CreateLogGroup", e)))?,
            Step::SetRetention => {
                logs.put_retention_policy()
                    .log_group_name(LOG_GROUP)
                    .retention_in_days(i32::try_from(wanted.retention).unwrap_or(400))
                    .send()
                    .await
                    .map_err(|e| sdk_error("logs:PutRetentionPolicy", e))?;
            }
            Step::CreateRole => ignore_exists(
                iam.create_role()
                    .role_name(ROLE_NAME)
                    .path(&self.settings().iam_path)
                    .assume_role_policy_document(wanted.trust.to_string())
                    .description("Bedrock writes model invocation logs (no prompts or answers) for bedrock-provisioner")
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:CreateRole", e)),
            )?,
            Step::UpdateTrust => {
                iam.update_assume_role_policy()
                    .role_name(ROLE_NAME)
                    .policy_document(wanted.trust.to_string())
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:UpdateAssumeRolePolicy", e))?;
            }
            Step::PutRolePolicy => {
                iam.put_role_policy()
                    .role_name(ROLE_NAME)
                    .policy_name("write-invocation-logs")
                    .policy_document(wanted.policy.to_string())
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:PutRolePolicy", e))?;
            }
            Step::PutConfiguration => self.put_logging(&wanted.role_arn).await?,
        }
        Ok(())
    }

    /// Put the configuration; a role IAM has not yet propagated to Bedrock is retried.
    async fn put_logging(&self, role_arn: &str) -> Result<()> {
        let config = LoggingConfig::builder()
            .cloud_watch_config(
                CloudWatchConfig::builder()
                    .log_group_name(LOG_GROUP)
                    .role_arn(role_arn)
                    .build()
                    .map_err(|e| Error::refused("region", e.to_string()))?,
            )
            .text_data_delivery_enabled(false)
            .image_data_delivery_enabled(false)
            .embedding_data_delivery_enabled(false)
            .video_data_delivery_enabled(false)
            .audio_data_delivery_enabled(false)
            .build();
        let bedrock = &self.clients().await.bedrock;
        self.retry_while_propagating(|| async {
            bedrock
                .put_model_invocation_logging_configuration()
                .logging_config(config.clone())
                .send()
                .await
                .map_err(
                    |e| match sdk_error("bedrock:PutModelInvocationLoggingConfiguration", e) {
                        // Bedrock cannot assume a role IAM has not propagated yet: wait for it as for a user.
                        Error::Aws {
                            action,
                            code,
                            message,
                        } if code == "ValidationException"
                            && message.to_ascii_lowercase().contains("role") =>
                        {
                            Error::NotFound {
                                what: action.to_owned(),
                                message,
                            }
                        }
                        other => other,
                    },
                )
        })
        .await?;
        Ok(())
    }

    /// The log group, its role and the configuration as they are.
    async fn logging_current(&self) -> Result<Current> {
        let clients = self.clients().await;
        let group = self.log_group_retention(LOG_GROUP).await?;
        let role = found(
            clients
                .iam
                .get_role()
                .role_name(ROLE_NAME)
                .send()
                .await
                .map_err(|e| sdk_error("iam:GetRole", e)),
        )?;
        let role = match role.and_then(|r| r.role) {
            Some(role) => {
                let trust = role
                    .assume_role_policy_document()
                    .and_then(crate::core::domain::policy::parse_returned_document)
                    .unwrap_or_default();
                let inline = found(
                    clients
                        .iam
                        .get_role_policy()
                        .role_name(ROLE_NAME)
                        .policy_name("write-invocation-logs")
                        .send()
                        .await
                        .map_err(|e| sdk_error("iam:GetRolePolicy", e)),
                )?
                .and_then(|p| {
                    crate::core::domain::policy::parse_returned_document(p.policy_document())
                });
                Some((trust, inline))
            }
            None => None,
        };
        Ok(Current {
            group,
            role,
            config: self.logging_configuration().await?,
        })
    }

    /// The account's invocation logging configuration in the region, if any.
    pub(crate) async fn logging_configuration(&self) -> Result<Option<Configured>> {
        let out = self
            .clients()
            .await
            .bedrock
            .get_model_invocation_logging_configuration()
            .send()
            .await
            .map_err(|e| sdk_error("bedrock:GetModelInvocationLoggingConfiguration", e))?;
        Ok(out.logging_config().map(|c| Configured {
            log_group: c
                .cloud_watch_config()
                .map(|w| w.log_group_name().to_owned()),
            role_arn: c.cloud_watch_config().map(|w| w.role_arn().to_owned()),
            bucket: c.s3_config().map(|s| s.bucket_name().to_owned()),
            delivers_data: [
                c.text_data_delivery_enabled(),
                c.image_data_delivery_enabled(),
                c.embedding_data_delivery_enabled(),
                c.video_data_delivery_enabled(),
                c.audio_data_delivery_enabled(),
            ]
            .into_iter()
            .any(|f| f == Some(true)),
        }))
    }

    /// The log group usage is read from: the region's invocation logging group.
    pub(crate) async fn usage_log_group(&self) -> Result<String> {
        let region = self.clients().await.region.clone();
        match self
            .logging_configuration()
            .await?
            .and_then(|c| c.log_group)
        {
            Some(group) => Ok(group),
            None => Err(Error::refused(
                "since",
                format!(
                    "model invocation logging is not on in {region}, so there is no usage to read: run enable_usage_logging (admin) first; records appear about a minute after each call"
                ),
            )),
        }
    }

    /// A log group's retention: `None` when the group does not exist, `Some(None)` when it keeps records
    /// forever.
    pub(crate) async fn log_group_retention(&self, name: &str) -> Result<Option<Option<u32>>> {
        let out = self
            .clients()
            .await
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .send()
            .await
            .map_err(|e| sdk_error("logs:DescribeLogGroups", e))?;
        Ok(out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
            .map(|g| g.retention_in_days().and_then(|d| u32::try_from(d).ok())))
    }

    /// How long the group keeps records, when it is limited.
    pub(crate) async fn retention_days(&self, name: &str) -> Result<Option<u32>> {
        Ok(self.log_group_retention(name).await?.flatten())
    }
}

/// An `AlreadyExists` answer (a re-run after a lost answer) is success.
pub(crate) fn ignore_exists<T>(result: Result<T>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(Error::Aws { code, .. })
            if code.contains("AlreadyExists") || code == "EntityAlreadyExists" =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Wanted {
        Wanted {
            retention: 400,
            trust: trust_policy("aws", "111122223333"),
            policy: role_policy("aws", "111122223333"),
            role_arn: format!("arn:aws:iam::111122223333:role/bedrock-provisioner/{ROLE_NAME}"),
        }
    }

    #[test]
    fn a_fresh_account_gets_every_step_and_a_done_one_none() {
        let steps = plan(&Current::default(), &wanted(), "us-east-1").unwrap();
        let kinds: Vec<&Step> = steps.iter().map(|(s, _)| s).collect();
        assert_eq!(
            kinds,
            [
                &Step::CreateLogGroup,
                &Step::SetRetention,
                &Step::CreateRole,
                &Step::PutRolePolicy,
                &Step::PutConfiguration
            ]
        );
        let done = Current {
            group: Some(Some(400)),
            role: Some((wanted().trust, Some(wanted().policy))),
            config: Some(Configured {
                log_group: Some(LOG_GROUP.into()),
                role_arn: Some(wanted().role_arn),
                bucket: None,
                delivers_data: false,
            }),
        };
        assert!(plan(&done, &wanted(), "us-east-1").unwrap().is_empty());
        let mut prompts = done.clone();
        prompts.config.as_mut().unwrap().delivers_data = true;
        assert_eq!(
            plan(&prompts, &wanted(), "us-east-1").unwrap()[0].0,
            Step::PutConfiguration,
            "data delivery is turned off"
        );
    }

    #[test]
    fn logging_that_goes_elsewhere_is_not_overwritten() {
        let elsewhere = Current {
            config: Some(Configured {
                log_group: Some("team/invocations".into()),
                role_arn: None,
                bucket: Some("logs-bucket".into()),
                delivers_data: true,
            }),
            ..Current::default()
        };
        let error = plan(&elsewhere, &wanted(), "eu-west-1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("team/invocations")
                && error.contains("logs-bucket")
                && error.contains("not overwritten"),
            "{error}"
        );
    }

    #[test]
    fn retention_is_one_of_cloudwatchs() {
        let input = |days| EnableUsageLoggingInput {
            retention_days: Some(days),
            ..Default::default()
        };
        assert_eq!(input(400).retention().unwrap(), 400);
        assert!(
            input(399)
                .retention()
                .unwrap_err()
                .to_string()
                .contains("retention_days")
        );
        assert_eq!(EnableUsageLoggingInput::default().retention().unwrap(), 400);
    }
}
