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
    billing::BUSINESS_UNIT_TAG,
    error::{Error, Result},
    inspect::{KeyKind, LONG_TERM_PREFIX, alias_names_user, inspect_key},
    names::{BusinessUnit, parse_region},
    policy::BEDROCK_LIMITED_ACCESS,
    secret::Secret,
    short_term::SHORT_TERM_PREFIX,
    simulation::{CallContext, context_entries},
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

/// The longest key accepted: a short-term key with a long session token is a few kilobytes.
const MAX_KEY_CHARS: usize = 16_384;

/// A Bedrock API key as given (surrounding whitespace dropped), checked before it is sent anywhere: bounded,
/// only the characters a key has (base64 and its prefix), and one of the two prefixes. The key is never
/// quoted in the error.
fn parse_key(raw: &str) -> Result<Secret> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(Error::invalid("api_key", "must not be empty when given"));
    }
    let length = key.chars().count();
    if length > MAX_KEY_CHARS {
        return Err(Error::invalid(
            "api_key",
            format!("is {length} characters; a Bedrock API key has at most {MAX_KEY_CHARS}"),
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c))
    {
        return Err(Error::invalid(
            "api_key",
            "contains a character no Bedrock API key has (a space, a line break, a quote or a control character): pass the bare key",
        ));
    }
    if !key.starts_with(LONG_TERM_PREFIX) && !key.starts_with(SHORT_TERM_PREFIX) {
        return Err(Error::invalid(
            "api_key",
            format!(
                "is not a Bedrock API key: long-term keys start with `{LONG_TERM_PREFIX}`, short-term ones with `{SHORT_TERM_PREFIX}`"
            ),
        ));
    }
    Ok(Secret::new(key))
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
        let inspection = inspect_key(key.expose(), chrono::Utc::now().timestamp());
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

/// What the key proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyProof {
    /// No key was given: the verdict rests on the simulation.
    NotGiven,
    /// A key was given but not tested (the free test is not allowed to the unit).
    NotTested,
    /// The key was tested.
    Tested {
        /// How the call ended.
        outcome: KeyOutcome,
        /// Whether the key is the unit's (a long-term key whose alias names another user is not).
        owned: bool,
    },
}

/// `bedrock:bearerTokenType` of a key: `SHORT_TERM` or `LONG_TERM`.
fn bearer_token_type(key: &str) -> &'static str {
    if key.starts_with(SHORT_TERM_PREFIX) {
        "SHORT_TERM"
    } else {
        "LONG_TERM"
    }
}

/// Whether the simulation denied the free key test's `bedrock:CountTokens`.
fn count_tokens_denied(report: &AccessReport) -> bool {
    report
        .permissions
        .iter()
        .any(|c| c.action == COUNT_TOKENS_ACTION && c.decision != "allowed")
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

/// Say whose key it is, as far as the value tells; whether it is the unit's.
fn note_key_owner(
    report: &mut AccessReport,
    inspection: &super::inspect::KeyInspection,
    user_name: &str,
) -> bool {
    match inspection.kind {
        Some(KeyKind::LongTerm) => {
            let alias = inspection.alias.as_deref().unwrap_or_default();
            let owned = alias_names_user(alias, user_name);
            if !owned {
                report.remediation.push(format!(
                    "The key's alias names `{alias}`, not {user_name}: it proves another user's access. Test with a key of this business unit (list_api_keys shows its keys)."
                ));
            }
            owned
        }
        Some(KeyKind::ShortTerm) => {
            report.notes.push(
                "a short-term key carries the permissions of the identity that signed it, not necessarily the unit's user".to_owned(),
            );
            true
        }
        _ => {
            report.remediation.push("The value is not a Bedrock API key (long-term keys start with ABSK, short-term ones with bedrock-api-key-).".to_owned());
            false
        }
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
            .map_err(|e| runtime_error("bedrock:CountTokens", e)),
        Err(e) => Err((false, Error::invalid("model_id", e.to_string()))),
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
            .map_err(|e| runtime_error("bedrock:InvokeModel", e)),
        Err(e) => Err((false, Error::invalid("model_id", e.to_string()))),
    };
    key_test(
        "Converse",
        "one call of about ten input tokens and one output token: a fraction of a cent",
        result,
    )
}

/// A bedrock-runtime error, and whether Bedrock refused the caller (HTTP 401/403: an invalid key is
/// answered 403 "Authentication failed", possibly without an `x-amzn-ErrorType`, so the code alone is
/// `Unknown`).
fn runtime_error<E, R>(
    action: &'static str,
    error: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> (bool, Error)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static + HttpStatus,
{
    let refused = error
        .raw_response()
        .is_some_and(|r| matches!(r.status_code(), 401 | 403));
    (refused, sdk_error(action, error))
}

/// The HTTP status of a raw response.
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn key_test(call: &str, cost: &str, result: std::result::Result<String, (bool, Error)>) -> KeyTest {
    let (outcome, detail) = match result {
        Ok(detail) => (KeyOutcome::Works, detail),
        Err((_, error @ (Error::AccessDenied { .. } | Error::Credentials { .. })))
        | Err((true, error)) => (KeyOutcome::Refused, error.to_string()),
        Err((false, error)) => (KeyOutcome::Failed, error.to_string()),
    };
    KeyTest {
        call: call.to_owned(),
        outcome,
        detail,
        cost: cost.to_owned(),
    }
}

/// The verdict, summary and remediation from the decisions and the key test. `can_call` means the
/// simulation allowed every action a call needs and, when a key was given, a call with it was proven.
fn conclude(report: &mut AccessReport, proof: KeyProof) {
    let denied: Vec<String> = report
        .permissions
        .iter()
        .filter(|c| c.decision != "allowed" && c.action != COUNT_TOKENS_ACTION)
        .map(|c| format!("{} on {}", c.action, c.resource))
        .collect();
    let key = report.key_test.as_ref().map(|t| t.outcome);
    let proven = match proof {
        KeyProof::NotGiven => !report.permissions.is_empty(),
        KeyProof::NotTested => false,
        KeyProof::Tested { outcome, owned } => outcome == KeyOutcome::Works && owned,
    };
    report.verdict = if !denied.is_empty() || key == Some(KeyOutcome::Refused) {
        Verdict::CannotCall
    } else if proven {
        Verdict::CanCall
    } else {
        Verdict::Unproven
    };
    if let Some(test) = report
        .key_test
        .as_ref()
        .filter(|t| t.outcome == KeyOutcome::Failed)
    {
        report.remediation.push(format!(
            "The key test did not prove the key ({}: {}). Pass invoke: true to prove it with one 1-token Converse call (a fraction of a cent).",
            test.call, test.detail
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(decisions: &[(&str, &str)], test: Option<KeyOutcome>) -> AccessReport {
        AccessReport {
            business_unit: "marketing".into(),
            user_arn: "arn:aws:iam::111122223333:user/marketing-bedrock-user".into(),
            region: "us-east-1".into(),
            model_id: "m".into(),
            verdict: Verdict::Unproven,
            summary: String::new(),
            permissions: decisions
                .iter()
                .map(|(action, decision)| PermissionCheck {
                    action: (*action).into(),
                    resource: "*".into(),
                    decision: (*decision).into(),
                })
                .collect(),
            key_test: test.map(|outcome| KeyTest {
                call: "CountTokens".into(),
                outcome,
                detail: "d".into(),
                cost: "c".into(),
            }),
            remediation: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn verdict(decisions: &[(&str, &str)], proof: KeyProof) -> Verdict {
        let test = match proof {
            KeyProof::Tested { outcome, .. } => Some(outcome),
            _ => None,
        };
        let mut r = report(decisions, test);
        conclude(&mut r, proof);
        r.verdict
    }

    #[test]
    fn can_call_only_when_a_given_key_was_proven() {
        let allowed = [(INVOKE_ACTIONS[0], "allowed"), (BEARER_ACTION, "allowed")];
        let tested = |outcome, owned| KeyProof::Tested { outcome, owned };
        assert_eq!(verdict(&allowed, KeyProof::NotGiven), Verdict::CanCall);
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Works, true)),
            Verdict::CanCall
        );
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Failed, true)),
            Verdict::Unproven,
            "a failed key test proves nothing"
        );
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Works, false)),
            Verdict::Unproven,
            "another user's key proves that user's access"
        );
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Refused, true)),
            Verdict::CannotCall
        );
        assert_eq!(verdict(&allowed, KeyProof::NotTested), Verdict::Unproven);
        assert_eq!(verdict(&[], KeyProof::NotGiven), Verdict::Unproven);
    }

    #[test]
    fn a_count_tokens_denial_alone_is_not_cannot_call() {
        let limited = [
            (INVOKE_ACTIONS[0], "allowed"),
            (BEARER_ACTION, "allowed"),
            (COUNT_TOKENS_ACTION, "implicitDeny"),
        ];
        assert_eq!(verdict(&limited, KeyProof::NotTested), Verdict::Unproven);
        assert_eq!(verdict(&limited, KeyProof::NotGiven), Verdict::CanCall);
    }

    #[test]
    fn a_failed_key_test_says_how_to_prove_it() {
        let mut r = report(&[(BEARER_ACTION, "allowed")], Some(KeyOutcome::Failed));
        conclude(
            &mut r,
            KeyProof::Tested {
                outcome: KeyOutcome::Failed,
                owned: true,
            },
        );
        assert!(
            r.remediation.iter().any(|f| f.contains("invoke: true")),
            "{:?}",
            r.remediation
        );
    }

    #[test]
    fn keys_are_checked_before_they_are_sent() {
        let rule = |raw: &str| match parse_key(raw) {
            Err(Error::InvalidInput { field, rule }) => {
                assert_eq!(field, "api_key");
                assert!(
                    !rule.contains(raw.trim()) || raw.trim().len() < 5,
                    "the key is never quoted"
                );
                rule
            }
            other => panic!("{other:?}"),
        };
        assert!(rule(&format!("ABSK{}", "A".repeat(100_000))).contains("at most"));
        assert!(rule("ABSKabc\r\ndef").contains("line break"));
        assert!(rule("ABSK abc").contains("a space"));
        assert!(rule("sk-ant-abc").contains("not a Bedrock API key"));
        assert!(rule("  ").contains("empty"));
        assert!(parse_key(" ABSKbWFya2V0aW5nOnNlY3JldA== \n").is_ok());
        assert!(
            parse_key("bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbA==").is_ok()
        );
    }
}
