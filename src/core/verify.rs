//! `verify_access`: prove that a business unit can call Claude, at no cost. With the server's own
//! credentials, `SimulatePrincipalPolicy` for the unit's user on the exact resources a call touches (the
//! inference profile, the foundation model in every destination region, the default project); with a key,
//! one `CountTokens` call authenticated by it (free), or with `invoke` one 1-token `Converse` call.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Caller, Provisioner,
    aws::sdk_error,
    bedrock::{base_model, parse_model_id, suggest_profile},
    error::{Error, Result},
    inspect::{KeyKind, inspect_key},
    names::{BusinessUnit, parse_region},
    secret::Secret,
};

/// Actions a model call needs on the target and the project.
const INVOKE_ACTIONS: [&str; 2] = [
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
];
/// The action a Bedrock API key needs besides the invoke actions (no resource type: `*`).
const BEARER_ACTION: &str = "bedrock:CallWithBearerToken";
/// The action of the free key test.
const COUNT_TOKENS_ACTION: &str = "bedrock:CountTokens";

/// Input of `verify_access`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyAccessInput {
    /// The business unit whose access to prove.
    pub business_unit: String,
    /// A Bedrock API key of the unit to test with one call (never echoed).
    #[serde(default)]
    pub api_key: Option<String>,
    /// A model id or inference profile id (default: a Claude model offered in the region, through the
    /// region's inference profile when it needs one).
    #[serde(default)]
    pub model_id: Option<String>,
    /// The region to prove access in (default: the server's).
    #[serde(default)]
    pub region: Option<String>,
    /// Test the key with one 1-token `Converse` call instead of the free `CountTokens` (costs a fraction of
    /// a cent).
    #[serde(default)]
    pub invoke: bool,
}

/// What the proof concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every needed action is allowed on every resource (and the key worked, when one was given).
    CanCall,
    /// Something is denied: `remediation` says what to change.
    CannotCall,
    /// Could not be proven either way (the simulation was not allowed and no key was tested).
    Unproven,
}

/// One simulated action on one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PermissionCheck {
    /// The IAM action.
    pub action: String,
    /// The resource ARN (`*` for actions without a resource type).
    pub resource: String,
    /// `allowed`, `implicitDeny` or `explicitDeny`, as IAM reports it.
    pub decision: String,
}

/// How the key test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyOutcome {
    /// Bedrock accepted the key and answered.
    Works,
    /// Bedrock refused the key or the call (denied, unknown, inactive or expired key).
    Refused,
    /// The call failed for another reason (network, throttling, a model error).
    Failed,
}

/// The call made with the key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct KeyTest {
    /// `CountTokens` or `Converse`.
    pub call: String,
    /// How it ended.
    pub outcome: KeyOutcome,
    /// What Bedrock answered (never the key).
    pub detail: String,
    /// What the call cost.
    pub cost: String,
}

/// Result of `verify_access`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AccessReport {
    /// The business unit.
    pub business_unit: String,
    /// Its IAM user's ARN.
    pub user_arn: String,
    /// The region proven.
    pub region: String,
    /// The id a client passes as `modelId` (an inference profile id when the model needs one).
    pub model_id: String,
    /// The conclusion.
    pub verdict: Verdict,
    /// One line to relay to the user.
    pub summary: String,
    /// Each simulated action and resource.
    pub permissions: Vec<PermissionCheck>,
    /// The key test, when a key was given.
    pub key_test: Option<KeyTest>,
    /// What to change, step by step (empty when nothing is needed).
    pub remediation: Vec<String>,
    /// Facts worth knowing (model choice, key kind).
    pub notes: Vec<String>,
}

/// What a call would target.
struct Target {
    /// What the client passes as `modelId`.
    invoke_id: String,
    /// The foundation model (what `CountTokens` takes).
    base: String,
    /// The resources `bedrock:InvokeModel` needs: the profile and every destination model, and the project.
    resources: Vec<String>,
    /// The foundation model's ARN in the region (the `CountTokens` resource).
    model_arn: String,
    notes: Vec<String>,
}

/// A validated request.
struct VerifyRequest {
    unit: BusinessUnit,
    key: Option<Secret>,
    model_id: Option<String>,
    region: Option<String>,
    invoke: bool,
}

impl VerifyAccessInput {
    fn validate(&self) -> Result<VerifyRequest> {
        let model_id = match self.model_id.as_deref() {
            Some(raw) => Some(parse_model_id(raw)?),
            None => None,
        };
        let key = match self.api_key.as_deref().map(str::trim) {
            Some("") => return Err(Error::invalid("api_key", "must not be empty when given")),
            Some(key) => Some(Secret::new(key)),
            None => None,
        };
        Ok(VerifyRequest {
            unit: BusinessUnit::parse("business_unit", &self.business_unit)?,
            key,
            model_id,
            region: self
                .region
                .as_deref()
                .map(|r| parse_region("region", r))
                .transpose()?,
            invoke: self.invoke,
        })
    }
}

impl Provisioner {
    /// Prove the business unit can call Claude: simulate its policies on the exact resources, and test a
    /// key when one is given.
    pub async fn verify_access(&self, input: &VerifyAccessInput) -> Result<AccessReport> {
        let request = input.validate()?;
        let caller = self.caller().await?.clone();
        let user = self.managed_user(&request.unit).await?;
        let region = match &request.region {
            Some(region) => region.clone(),
            None => self.clients().await.region.clone(),
        };
        let target = self
            .call_target(&caller, &region, request.model_id.as_deref())
            .await?;
        let mut report = AccessReport {
            business_unit: request.unit.to_string(),
            user_arn: user.arn.clone(),
            region,
            model_id: target.invoke_id.clone(),
            verdict: Verdict::Unproven,
            summary: String::new(),
            permissions: Vec::new(),
            key_test: None,
            remediation: Vec::new(),
            notes: target.notes.clone(),
        };
        self.simulate_access(&mut report, &target, &request).await?;
        if let Some(key) = &request.key {
            self.test_key(&mut report, key, &target, &request, &user.name)
                .await;
        }
        conclude(&mut report);
        Ok(report)
    }

    /// The id to call and the resources the call touches, in `region`.
    async fn call_target(
        &self,
        caller: &Caller,
        region: &str,
        model_id: Option<&str>,
    ) -> Result<Target> {
        let bedrock = self.clients().await.bedrock_in(region);
        let models = bedrock
            .list_foundation_models()
            .by_provider("Anthropic")
            .send()
            .await
            .map_err(|e| sdk_error("bedrock:ListFoundationModels", e))?;
        let summaries = models.model_summaries();
        let wanted = model_id.map(base_model);
        let model = match wanted {
            Some(base) => summaries.iter().find(|m| m.model_id() == base),
            None => default_model(summaries),
        }
        .ok_or_else(|| {
            Error::refused(
                "model_id",
                format!(
                    "{} is not offered in {region}; diagnose's region check names the regions that offer Claude",
                    wanted.unwrap_or("no Claude model")
                ),
            )
        })?;
        let base = model.model_id().to_owned();
        let model_arn = format!(
            "arn:{}:bedrock:{region}::foundation-model/{base}",
            caller.partition
        );
        let project = format!(
            "arn:{}:bedrock:{region}:{}:project/default",
            caller.partition, caller.account
        );
        let needs_profile = !model
            .inference_types_supported()
            .iter()
            .any(|t| t.as_str() == "ON_DEMAND");
        let profile_wanted = model_id.is_some_and(|id| id != base);
        if !profile_wanted && !needs_profile {
            return Ok(Target {
                invoke_id: base.clone(),
                base,
                resources: vec![model_arn.clone(), project],
                model_arn,
                notes: Vec::new(),
            });
        }
        let profiles = self.inference_profiles(&bedrock).await?;
        let profile = match model_id.filter(|_| profile_wanted) {
            Some(id) => profiles.iter().find(|p| p.id == id),
            None => suggest_profile(region, &base, &profiles),
        }
        .ok_or_else(|| {
            Error::refused(
                "model_id",
                format!(
                    "no inference profile for {base} fits {region}; diagnose with model_id `{base}` lists the profiles offered there"
                ),
            )
        })?;
        let mut notes = Vec::new();
        if !profile_wanted {
            notes.push(format!(
                "{base} is invoked through the inference profile {} in {region}",
                profile.id
            ));
        }
        let mut resources = vec![profile.arn.clone()];
        resources.extend(profile.model_arns.iter().cloned());
        resources.push(project);
        Ok(Target {
            invoke_id: profile.id.clone(),
            base,
            resources,
            model_arn,
            notes,
        })
    }

    /// Simulate the unit's policies on the call's resources; record the decisions and what to fix.
    async fn simulate_access(
        &self,
        report: &mut AccessReport,
        target: &Target,
        request: &VerifyRequest,
    ) -> Result<()> {
        let mut asks: Vec<(&[&str], Vec<String>)> = vec![
            (&INVOKE_ACTIONS, target.resources.clone()),
            (&[BEARER_ACTION], Vec::new()),
        ];
        if request.key.is_some() && !request.invoke {
            asks.push((&[COUNT_TOKENS_ACTION], vec![target.model_arn.clone()]));
        }
        for (actions, resources) in asks {
            match self.simulate(&report.user_arn, actions, resources).await {
                Ok(checks) => report.permissions.extend(checks),
                Err(Error::AccessDenied { message, .. }) => {
                    report
                        .notes
                        .push(format!("the policy simulation was refused: {message}"));
                    report.remediation.push(format!(
                        "Allow the server's principal iam:SimulatePrincipalPolicy on {} so verify_access can prove the unit's permissions without a key.",
                        report.user_arn
                    ));
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// One `SimulatePrincipalPolicy` call: a decision per action and resource.
    async fn simulate(
        &self,
        principal: &str,
        actions: &[&str],
        resources: Vec<String>,
    ) -> Result<Vec<PermissionCheck>> {
        let out = self
            .clients()
            .await
            .iam
            .simulate_principal_policy()
            .policy_source_arn(principal)
            .set_action_names(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
            .set_resource_arns((!resources.is_empty()).then_some(resources))
            .send()
            .await
            .map_err(|e| sdk_error("iam:SimulatePrincipalPolicy", e))?;
        Ok(out
            .evaluation_results()
            .iter()
            .flat_map(|result| {
                let action = result.eval_action_name().to_owned();
                let specific = result.resource_specific_results();
                let checks: Vec<PermissionCheck> = if specific.is_empty() {
                    vec![PermissionCheck {
                        action: action.clone(),
                        resource: result.eval_resource_name().unwrap_or("*").to_owned(),
                        decision: result.eval_decision().as_str().to_owned(),
                    }]
                } else {
                    specific
                        .iter()
                        .map(|r| PermissionCheck {
                            action: action.clone(),
                            resource: r.eval_resource_name().to_owned(),
                            decision: r.eval_resource_decision().as_str().to_owned(),
                        })
                        .collect()
                };
                checks
            })
            .collect())
    }

    /// Call Bedrock once with the key; record the outcome (never the key).
    async fn test_key(
        &self,
        report: &mut AccessReport,
        key: &Secret,
        target: &Target,
        request: &VerifyRequest,
        user_name: &str,
    ) {
        let inspection = inspect_key(key.expose(), chrono::Utc::now().timestamp());
        note_key_owner(report, &inspection, user_name);
        let client = self
            .clients()
            .await
            .bedrock_runtime_with_key(&report.region, key);
        let test = if request.invoke {
            converse_once(&client, &target.invoke_id).await
        } else {
            count_tokens_once(&client, &target.base).await
        };
        report.key_test = Some(test);
    }
}

/// The Claude model to prove access with when none is named: the cheapest family (Haiku) first, newer
/// (profile-only) models before older ones.
fn default_model(
    models: &[aws_sdk_bedrock::types::FoundationModelSummary],
) -> Option<&aws_sdk_bedrock::types::FoundationModelSummary> {
    let score = |m: &&aws_sdk_bedrock::types::FoundationModelSummary| {
        let id = m.model_id();
        (id.contains("haiku"), id.to_owned())
    };
    models.iter().max_by_key(score)
}

/// Say whose key it is, as far as the value tells.
fn note_key_owner(
    report: &mut AccessReport,
    inspection: &super::inspect::KeyInspection,
    user_name: &str,
) {
    match inspection.kind {
        Some(KeyKind::LongTerm) => {
            let alias = inspection.alias.as_deref().unwrap_or_default();
            if alias.rsplit_once("-at-").map(|(user, _)| user) != Some(user_name) {
                report.remediation.push(format!(
                    "The key's alias names `{alias}`, not {user_name}: it proves another user's access. Test with a key of this business unit (list_api_keys shows its keys)."
                ));
            }
        }
        Some(KeyKind::ShortTerm) => report.notes.push(
            "a short-term key carries the permissions of the identity that signed it, not necessarily the unit's user".to_owned(),
        ),
        _ => report
            .remediation
            .push("The value is not a Bedrock API key (long-term keys start with ABSK, short-term ones with bedrock-api-key-).".to_owned()),
    }
}

async fn count_tokens_once(client: &aws_sdk_bedrockruntime::Client, model: &str) -> KeyTest {
    use aws_sdk_bedrockruntime::types::{
        ContentBlock, ConversationRole, ConverseTokensRequest, CountTokensInput, Message,
    };
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("ping".to_owned()))
        .build();
    let input = message
        .map(|m| CountTokensInput::Converse(ConverseTokensRequest::builder().messages(m).build()));
    let result = match input {
        Ok(input) => client
            .count_tokens()
            .model_id(model)
            .input(input)
            .send()
            .await
            .map(|out| {
                format!(
                    "CountTokens answered: {} input token(s)",
                    out.input_tokens()
                )
            })
            .map_err(|e| sdk_error("bedrock:CountTokens", e)),
        Err(e) => Err(Error::invalid("model_id", e.to_string())),
    };
    key_test("CountTokens", "nothing: CountTokens is free", result)
}

async fn converse_once(client: &aws_sdk_bedrockruntime::Client, model: &str) -> KeyTest {
    use aws_sdk_bedrockruntime::types::{
        ContentBlock, ConversationRole, InferenceConfiguration, Message,
    };
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("Reply with OK.".to_owned()))
        .build();
    let result = match message {
        Ok(message) => client
            .converse()
            .model_id(model)
            .messages(message)
            .inference_config(InferenceConfiguration::builder().max_tokens(1).build())
            .send()
            .await
            .map(|out| {
                let usage = out.usage();
                format!(
                    "Converse answered ({} input, {} output token(s))",
                    usage.map_or(0, |u| u.input_tokens()),
                    usage.map_or(0, |u| u.output_tokens())
                )
            })
            .map_err(|e| sdk_error("bedrock:InvokeModel", e)),
        Err(e) => Err(Error::invalid("model_id", e.to_string())),
    };
    key_test(
        "Converse",
        "one call of about ten input tokens and one output token: a fraction of a cent",
        result,
    )
}

fn key_test(call: &str, cost: &str, result: Result<String>) -> KeyTest {
    let (outcome, detail) = match result {
        Ok(detail) => (KeyOutcome::Works, detail),
        Err(error @ (Error::AccessDenied { .. } | Error::Credentials { .. })) => {
            (KeyOutcome::Refused, error.to_string())
        }
        Err(error) => (KeyOutcome::Failed, error.to_string()),
    };
    KeyTest {
        call: call.to_owned(),
        outcome,
        detail,
        cost: cost.to_owned(),
    }
}

/// The verdict, summary and remediation from the decisions and the key test.
fn conclude(report: &mut AccessReport) {
    let denied: Vec<String> = report
        .permissions
        .iter()
        .filter(|c| c.decision != "allowed")
        .map(|c| format!("{} on {}", c.action, c.resource))
        .collect();
    let key = report.key_test.as_ref().map(|t| t.outcome);
    report.verdict = if !denied.is_empty() || key == Some(KeyOutcome::Refused) {
        Verdict::CannotCall
    } else if report.permissions.is_empty() && key != Some(KeyOutcome::Works) {
        Verdict::Unproven
    } else {
        Verdict::CanCall
    };
    if !denied.is_empty() {
        report.remediation.insert(0, format!(
            "Denied: {}. Run provision_user for business unit `{}` to attach (or refresh) the least-privilege policy, which allows these on Anthropic models, the account's inference profiles and projects.",
            denied.join("; "),
            report.business_unit
        ));
    }
    if key == Some(KeyOutcome::Refused) {
        report.remediation.push(format!(
            "The key was refused: check it is active and unexpired with list_api_keys, or issue a new one with rotate_key for business unit `{}`.",
            report.business_unit
        ));
    }
    report.summary = match report.verdict {
        Verdict::CanCall => format!(
            "{} can call {} in {}.",
            report.business_unit, report.model_id, report.region
        ),
        Verdict::CannotCall => format!(
            "{} cannot call {} in {}: {} denied{}.",
            report.business_unit,
            report.model_id,
            report.region,
            denied.len(),
            if key == Some(KeyOutcome::Refused) {
                ", and the key was refused"
            } else {
                ""
            }
        ),
        Verdict::Unproven => format!(
            "Access of {} to {} in {} could not be proven: see remediation.",
            report.business_unit, report.model_id, report.region
        ),
    };
}
