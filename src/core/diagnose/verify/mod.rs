//! `verify_access`: prove that a business unit can call Claude, at no cost. With the server's own
//! credentials, `SimulatePrincipalPolicy` for the unit's user on the exact resources a call touches (the
//! inference profile, the foundation model in every destination region, the default project); with a key,
//! one `CountTokens` call authenticated by it (free), or with `invoke` one 1-token `Converse` call.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod key;
mod verdict;

use key::{
    KeyProof, bearer_token_type, converse_once, count_tokens_once, note_key_owner, parse_key,
};
use verdict::{conclude, count_tokens_denied};

use crate::core::{
    Caller, Provisioner,
    aws::bedrock::{base_model, parse_model_id, suggest_profile},
    aws::sdk_error,
    aws::simulation::{CallContext, context_entries},
    domain::cost_tags::BUSINESS_UNIT_TAG,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, parse_region},
    domain::policy::BEDROCK_LIMITED_ACCESS,
    domain::secret::Secret,
    keys::inspect::inspect_key,
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
    /// The business unit.
    pub business_unit: String,
    /// The unit's Bedrock API key to test (never echoed).
    #[serde(default)]
    pub api_key: Option<String>,
    /// A model or inference profile id (default: a Claude model of the region).
    #[serde(default)]
    pub model_id: Option<String>,
    /// The region (default: the server's).
    #[serde(default)]
    pub region: Option<String>,
    /// Use one 1-token `Converse` call (a fraction of a cent) instead of the free `CountTokens`.
    #[serde(default)]
    pub invoke: bool,
}

/// What the proof concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every needed action is allowed on every resource, and, when a key was given, a call with that key of
    /// the unit worked.
    CanCall,
    /// Something is denied: `remediation` says what to change.
    CannotCall,
    /// Could not be proven either way: the simulation was not allowed and no key worked, or the given key was
    /// not proven (its test failed or was not allowed, or it is another user's key).
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
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
        let key = self.api_key.as_deref().map(parse_key).transpose()?;
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
        let region = report.region.clone();
        let context = CallContext {
            principal_arn: &user.arn,
            account: &caller.account,
            region: &region,
            bearer_token_type: request.key.as_ref().map(|k| bearer_token_type(k.expose())),
            principal_tags: vec![(BUSINESS_UNIT_TAG, request.unit.as_str())],
        };
        self.simulate_access(&mut report, &target, &request, &context)
            .await?;
        let proof = match &request.key {
            Some(_) if !request.invoke && count_tokens_denied(&report) => {
                report.remediation.push(format!(
                    "The unit's policy does not allow bedrock:CountTokens on {} (AWS's {BEDROCK_LIMITED_ACCESS} does not grant it), so the free key test was not run: pass invoke: true to prove the key with one 1-token Converse call.",
                    target.model_arn
                ));
                KeyProof::NotTested
            }
            Some(key) => {
                self.test_key(&mut report, key, &target, &request, &user.name)
                    .await
            }
            None => KeyProof::NotGiven,
        };
        conclude(&mut report, proof);
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
        context: &CallContext<'_>,
    ) -> Result<()> {
        let mut asks: Vec<(&[&str], Vec<String>)> = vec![
            (&INVOKE_ACTIONS, target.resources.clone()),
            (&[BEARER_ACTION], Vec::new()),
        ];
        if request.key.is_some() && !request.invoke {
            asks.push((&[COUNT_TOKENS_ACTION], vec![target.model_arn.clone()]));
        }
        for (actions, resources) in asks {
            match self
                .simulate(&report.user_arn, actions, resources, context)
                .await
            {
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
        context: &CallContext<'_>,
    ) -> Result<Vec<PermissionCheck>> {
        let out = self
            .clients()
            .await
            .iam
            .simulate_principal_policy()
            .policy_source_arn(principal)
            .set_context_entries(Some(context_entries(context, actions[0])))
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
    ) -> KeyProof {
        let inspection = inspect_key(key.expose(), self.now().timestamp());
        let owned = note_key_owner(report, &inspection, user_name);
        let client = self
            .clients()
            .await
            .bedrock_runtime_with_key(&report.region, key);
        let test = if request.invoke {
            converse_once(&client, &target.invoke_id).await
        } else {
            count_tokens_once(&client, &target.base).await
        };
        let outcome = test.outcome;
        report.key_test = Some(test);
        KeyProof::Tested { outcome, owned }
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
