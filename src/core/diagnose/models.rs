//! Model checks: `model_access` (listed and usable), `region` (where Claude is offered),
//! `model_in_region` (a given id, or the inference profile to use), and `throttling`.

use aws_sdk_bedrock::{
    operation::get_foundation_model_availability::GetFoundationModelAvailabilityOutput,
    types::{
        AgreementStatus, AuthorizationStatus, EntitlementAvailability, FoundationModelSummary,
        ModelModality, RegionAvailability,
    },
};

use super::{CheckId, CheckResult, Request};
use crate::core::{
    Provisioner,
    aws::bedrock::{base_model, geography_prefixes, suggest_profile},
    aws::sdk_error,
    domain::error::{Error, Result},
};

/// Quota lines shown at most.
const MAX_QUOTA_LINES: usize = 12;

/// Whether a model can only be invoked through an inference profile.
fn needs_profile(model: &FoundationModelSummary) -> bool {
    let types: Vec<&str> = model
        .inference_types_supported()
        .iter()
        .map(|t| t.as_str())
        .collect();
    !types.contains(&"ON_DEMAND") && types.contains(&"INFERENCE_PROFILE")
}

impl Provisioner {
    /// Anthropic text models offered in `region`, listed at most once per diagnosis (a failed listing
    /// is not kept, so the next check asks again and reports its own error).
    async fn anthropic_models<'r>(
        &self,
        request: &'r Request,
        region: &str,
    ) -> Result<&'r [FoundationModelSummary]> {
        let Some(cell) = request.models.get(region) else {
            return Err(Error::invalid(
                "regions",
                format!("{region} was not probed"),
            ));
        };
        cell.get_or_try_init(|| self.list_anthropic_models(region))
            .await
            .map(Vec::as_slice)
    }

    /// List the Anthropic text models of `region`.
    async fn list_anthropic_models(&self, region: &str) -> Result<Vec<FoundationModelSummary>> {
        let clients = self.clients().await;
        let client = if region == clients.region {
            clients.bedrock.clone()
        } else {
            clients.bedrock_in(region)
        };
        let out = client
            .list_foundation_models()
            .by_provider("Anthropic")
            .send()
            .await
            .map_err(|e| sdk_error("bedrock:ListFoundationModels", e))?;
        Ok(out
            .model_summaries()
            .iter()
            .filter(|m| m.output_modalities().contains(&ModelModality::Text))
            .cloned()
            .collect())
    }

    pub(super) async fn check_model_access(&self, request: &Request) -> CheckResult {
        let id = CheckId::ModelAccess;
        let models = match self.anthropic_models(request, &request.region).await {
            Ok(models) => models,
            Err(error) => return CheckResult::from_error(id, &error),
        };
        if models.is_empty() {
            return CheckResult::fail(id, format!("no Anthropic models are listed in {}", request.region))
                .fix("Use a region that offers Claude (see the region check), e.g. set AWS_REGION=us-east-1 for the server and the clients.")
                .fix("If the region should offer them, check that no SCP denies bedrock:* in it.");
        }
        let bedrock = &self.clients().await.bedrock;
        let wanted: Vec<String> = match &request.model_id {
            Some(model) => vec![base_model(model).to_owned()],
            None => models
                .iter()
                .map(|m| m.model_id().to_owned())
                .take(3)
                .collect(),
        };
        let mut result = CheckResult::pass(
            id,
            format!(
                "{} Anthropic models listed in {}",
                models.len(),
                request.region
            ),
        );
        let mut problems = Vec::new();
        for model in &wanted {
            let availability = match bedrock
                .get_foundation_model_availability()
                .model_id(model)
                .send()
                .await
                .map_err(|e| sdk_error("bedrock:GetFoundationModelAvailability", e))
            {
                Ok(out) => out,
                Err(Error::NotFound { .. }) => continue,
                Err(error) => {
                    result =
                        result.evidence(format!("{model}: availability not readable ({error})"));
                    continue;
                }
            };
            let (found, evidence) = availability_problems(model, &request.region, &availability);
            problems.extend(found);
            result = result.evidence(evidence);
        }
        let use_case = bedrock
            .get_use_case_for_model_access()
            .send()
            .await
            .map_err(|e| sdk_error("bedrock:GetUseCaseForModelAccess", e));
        match use_case {
            Ok(_) => result = result.evidence("Anthropic use-case form: submitted"),
            Err(Error::NotFound { .. }) => problems.push((
                true,
                "the one-time Anthropic use-case form has not been submitted for this account"
                    .to_owned(),
            )),
            Err(error) => {
                result = result.evidence(format!("use-case form: not readable ({error})"))
            }
        }
        model_access_verdict(id, result, &problems)
    }

    pub(super) async fn check_region(&self, request: &Request) -> CheckResult {
        let id = CheckId::Region;
        let probes = request.regions.iter().map(|region| async move {
            (region.clone(), self.anthropic_models(request, region).await)
        });
        let answers = futures::future::join_all(probes).await;
        let wanted = request.model_id.as_deref().map(base_model);
        let score = |models: &[FoundationModelSummary]| {
            wanted.map_or(models.len(), |w| {
                usize::from(models.iter().any(|m| m.model_id() == w)) * 1000 + models.len()
            })
        };
        let mut evidence = Vec::new();
        let mut best: Option<(String, usize)> = None;
        let mut here = None;
        for (region, answer) in &answers {
            match answer {
                Ok(models) => {
                    let s = score(models);
                    evidence.push(format!("{region}: {} Anthropic models", models.len()));
                    if *region == request.region {
                        here = Some(s);
                    }
                    if s > 0 && best.as_ref().is_none_or(|(_, b)| s > *b) {
                        best = Some((region.clone(), s));
                    }
                }
                Err(error) => evidence.push(format!("{region}: not reachable ({error})")),
            }
        }
        let needed = if wanted.is_some() { 1000 } else { 1 };
        let mut result = match (here, &best) {
            (Some(s), _) if s >= needed => CheckResult::pass(
                id,
                format!("{} offers {}", request.region, wanted.unwrap_or("Claude")),
            ),
            (_, Some((region, s))) if *s >= needed => CheckResult::fail(
                id,
                format!(
                    "{} does not offer {}; {region} does",
                    request.region,
                    wanted.unwrap_or("Claude models")
                ),
            )
            .fix(format!(
                "Use {region}: set AWS_REGION={region} in the server's environment (the `env` block of .mcp.json) and in every client that uses the key (AWS_REGION next to AWS_BEARER_TOKEN_BEDROCK)."
            ))
            .fix("Bedrock API keys work in any region of the account (short-term keys only in the region they were made for)."),
            _ => CheckResult::fail(
                id,
                format!("none of the probed regions offers {}", wanted.unwrap_or("Claude models")),
            )
            .fix("Check the model id, and probe more regions with `regions`."),
        };
        for line in evidence {
            result = result.evidence(line);
        }
        result
    }

    pub(super) async fn check_model_in_region(&self, request: &Request) -> CheckResult {
        let id = CheckId::ModelInRegion;
        let Some(model_id) = request.model_id.as_deref() else {
            return CheckResult::skipped(id, "no model_id given");
        };
        let models = match self.anthropic_models(request, &request.region).await {
            Ok(models) => models,
            Err(error) => return CheckResult::from_error(id, &error),
        };
        let base = base_model(model_id);
        let Some(model) = models.iter().find(|m| m.model_id() == base) else {
            let mut similar: Vec<&str> = models
                .iter()
                .map(FoundationModelSummary::model_id)
                .filter(|m| shares_family(m, base))
                .collect();
            similar.truncate(3);
            let mut result = CheckResult::fail(
                id,
                format!("{base} is not offered in {}", request.region),
            )
            .fix("Use a region that offers it (see the region check), or a model that this region offers.");
            if !similar.is_empty() {
                result = result.evidence(format!("similar models here: {}", similar.join(", ")));
            }
            return result;
        };
        if model_id != base {
            return self.check_profile(request, model_id).await;
        }
        if needs_profile(model) {
            let profiles = self.profiles_for(base).await.unwrap_or_default();
            let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
            let suggestion = suggest_profile(&request.region, base, &profiles)
                .map(|p| p.id.clone())
                .or_else(|| {
                    geography_prefixes(&request.region)
                        .first()
                        .map(|prefix| format!("{prefix}{base}"))
                })
                .unwrap_or_else(|| format!("global.{base}"));
            return CheckResult::warn(
                id,
                format!("{base} is invoked through an inference profile, not its base id"),
            )
            .evidence(format!("inference profiles in {}: {}", request.region, ids.join(", ")))
            .fix(format!(
                "Call it as `{suggestion}` (ANTHROPIC_MODEL={suggestion} for Claude Code); the base id fails with a ValidationException about inference profiles."
            ));
        }
        CheckResult::pass(
            id,
            format!("{base} is offered on demand in {}", request.region),
        )
    }

    async fn check_profile(&self, request: &Request, profile_id: &str) -> CheckResult {
        let id = CheckId::ModelInRegion;
        match self.profiles_for(base_model(profile_id)).await {
            Ok(profiles) if profiles.iter().any(|p| p.id == profile_id) => CheckResult::pass(
                id,
                format!(
                    "inference profile {profile_id} is available in {}",
                    request.region
                ),
            ),
            Ok(profiles) => {
                let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
                let fits = suggest_profile(&request.region, base_model(profile_id), &profiles)
                    .map_or_else(
                        || "Use one of the listed profiles".to_owned(),
                        |p| format!("Use `{}`", p.id),
                    );
                CheckResult::fail(
                    id,
                    format!("inference profile {profile_id} is not available in {}", request.region),
                )
                .evidence(format!("profiles for this model here: {}", ids.join(", ")))
                .fix(format!("{fits}: a profile's prefix must match the region's geography (us., eu., apac., jp., au.) or be global."))
            }
            Err(error) => CheckResult::from_error(id, &error),
        }
    }

    /// The system-defined inference profiles of the configured region that route to `base`.
    async fn profiles_for(&self, base: &str) -> Result<Vec<crate::core::aws::bedrock::Profile>> {
        let client = &self.clients().await.bedrock;
        let mut profiles = self.inference_profiles(client).await?;
        profiles.retain(|p| p.routes_to(base));
        Ok(profiles)
    }

    pub(super) async fn check_throttling(&self) -> CheckResult {
        let id = CheckId::Throttling;
        let advice = [
            "On ThrottlingException (\"Too many requests\" / \"Rate exceeded\"), retry with exponential backoff: the SDKs do it with AWS_RETRY_MODE=adaptive and AWS_MAX_ATTEMPTS=10; Claude Code retries by itself.",
            "Spread load with a cross-region inference profile (us., eu., global. + model id), which raises the effective throughput.",
            "If throttling persists, request a higher quota in Service Quotas (service Amazon Bedrock, the 'tokens per minute' and 'requests per minute' quotas of the model) for the region in use.",
        ];
        let probe = self
            .clients()
            .await
            .bedrock
            .list_foundation_models()
            .by_provider("Anthropic")
            .customize()
            .config_override(
                aws_sdk_bedrock::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| sdk_error("bedrock:ListFoundationModels", e));
        let mut result = match probe {
            Ok(_) => CheckResult::pass(id, "Bedrock answered without throttling")
                .evidence("a single un-retried ListFoundationModels call succeeded"),
            Err(Error::Throttled { message, .. }) => {
                CheckResult::warn(id, "Bedrock is throttling this account's calls")
                    .evidence(format!("ListFoundationModels (no retry): {message}"))
            }
            Err(error) => return CheckResult::from_error(id, &error),
        };
        for line in self.anthropic_quotas().await {
            result = result.evidence(line);
        }
        if result.status != super::CheckStatus::Pass {
            for step in advice {
                result = result.fix(step);
            }
        } else {
            result = result.evidence(advice[0]);
        }
        result
    }

    /// The account's Anthropic throughput quotas in the region, as evidence lines (or why not).
    async fn anthropic_quotas(&self) -> Vec<String> {
        let client = &self.clients().await.service_quotas;
        let mut lines = Vec::new();
        let mut token = None;
        loop {
            let page = match client
                .list_service_quotas()
                .service_code("bedrock")
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("servicequotas:ListServiceQuotas", e))
            {
                Ok(page) => page,
                Err(error) => return vec![format!("Bedrock quotas not readable: {error}")],
            };
            for quota in page.quotas() {
                let name = quota.quota_name().unwrap_or_default();
                let per_minute =
                    name.contains("tokens per minute") || name.contains("requests per minute");
                if name.contains("Anthropic") && per_minute {
                    lines.push(format!(
                        "quota: {name} = {}",
                        quota.value().unwrap_or_default()
                    ));
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() || lines.len() >= MAX_QUOTA_LINES {
                break;
            }
        }
        if lines.is_empty() {
            lines.push(
                "no Anthropic per-minute quotas listed for Bedrock in this region".to_owned(),
            );
        }
        lines.truncate(MAX_QUOTA_LINES);
        lines
    }
}

/// Whether two model ids share a family (`claude-sonnet`, `claude-haiku`, ...).
fn shares_family(candidate: &str, wanted: &str) -> bool {
    let family = |id: &str| {
        id.split('.')
            .nth(1)
            .map(|rest| rest.split('-').take(2).collect::<Vec<_>>().join("-"))
    };
    family(candidate).is_some() && family(candidate) == family(wanted)
}

/// The problems (blocking or not) one model's availability shows, and the evidence line.
fn availability_problems(
    model: &str,
    region: &str,
    availability: &GetFoundationModelAvailabilityOutput,
) -> (Vec<(bool, String)>, String) {
    let mut problems = Vec::new();
    let agreement = availability
        .agreement_availability()
        .map(|a| a.status().clone());
    match agreement {
        Some(AgreementStatus::Pending) => problems.push((false, format!("{model}: the AWS Marketplace subscription is still being set up (up to ~15 minutes after the first call)"))),
        Some(AgreementStatus::NotAvailable) | Some(AgreementStatus::Error) => problems.push((true, format!("{model}: no model agreement; the first invocation by a principal allowed aws-marketplace:Subscribe and aws-marketplace:ViewSubscriptions creates it"))),
        _ => {}
    }
    if availability.authorization_status() == &AuthorizationStatus::NotAuthorized {
        problems.push((true, format!("{model}: not authorized for this account (an SCP or permission boundary denies it, or the Anthropic use-case form is missing)")));
    }
    if availability.entitlement_availability() == &EntitlementAvailability::NotAvailable {
        problems.push((true, format!("{model}: no entitlement (the account cannot subscribe: check AWS Marketplace permissions and the payment method)")));
    }
    if availability.region_availability() == &RegionAvailability::NotAvailable {
        problems.push((true, format!("{model}: not offered in {region}")));
    }
    let evidence = format!(
        "{model}: agreement {}, authorization {}, entitlement {}, region {}",
        agreement.as_ref().map_or("unknown", |a| a.as_str()),
        availability.authorization_status().as_str(),
        availability.entitlement_availability().as_str(),
        availability.region_availability().as_str()
    );
    (problems, evidence)
}

/// Pass when nothing was found; else fail on the first blocking problem (or warn on the first), keeping
/// the evidence gathered so far, with the fixes for model access.
fn model_access_verdict(
    id: CheckId,
    result: CheckResult,
    problems: &[(bool, String)],
) -> CheckResult {
    let Some(first) = problems.iter().find(|(b, _)| *b).or(problems.first()) else {
        return result;
    };
    let mut failed = if first.0 {
        CheckResult::fail(id, first.1.clone())
    } else {
        CheckResult::warn(id, first.1.clone())
    };
    failed.evidence = result.evidence;
    for (_, problem) in problems {
        failed = failed.evidence(problem.clone());
    }
    failed
        .fix("Serverless models are enabled automatically since late 2025; what remains is per account: submit Anthropic's use-case form once (Bedrock console → Model catalog → an Anthropic model → submit use case details, or `aws bedrock put-use-case-for-model-access`).")
        .fix("Let the first caller subscribe: the principal that first invokes a model needs aws-marketplace:Subscribe, aws-marketplace:ViewSubscriptions (and Unsubscribe); then wait up to 15 minutes.")
        .fix("If authorization stays NOT_AUTHORIZED, ask the organization's administrator which SCP denies Bedrock or the model.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::aws::bedrock::parse_model_id;

    #[test]
    fn model_ids() {
        for good in [
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
        ] {
            assert!(parse_model_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "claude sonnet",
            "arn:aws:bedrock:::x",
            "ANTHROPIC.CLAUDE",
        ] {
            assert!(parse_model_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            base_model("eu.anthropic.claude-3-haiku-20240307-v1:0"),
            "anthropic.claude-3-haiku-20240307-v1:0"
        );
        assert!(shares_family(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-3-7"
        ));
    }
}
