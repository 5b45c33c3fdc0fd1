//! Shared reads of the Bedrock control plane: system-defined inference profiles (every page), which profile
//! fits a region's geography, and the resources a call through a profile touches.

use std::sync::LazyLock;

use aws_sdk_bedrock::types::InferenceProfileType;
use regex::Regex;

use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
};

static MODEL_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(us|eu|apac|jp|au|ca|us-gov|global)\.)?[a-z0-9-]+\.[a-z0-9.:-]+$")
        .unwrap_or_else(|_| unreachable!("static regex"))
});

/// Geographic prefixes of system-defined inference profiles.
pub(crate) const PROFILE_PREFIXES: [&str; 8] = [
    "us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global.",
];

/// Check the shape of a model or inference profile id.
pub(crate) fn parse_model_id(raw: &str) -> Result<String> {
    if MODEL_ID.is_match(raw) && raw.len() <= 200 {
        Ok(raw.to_owned())
    } else {
        Err(Error::invalid(
            "model_id",
            format!(
                "must be a Bedrock model id such as `anthropic.claude-sonnet-4-5-20250929-v1:0` or an \
                 inference profile id such as `us.anthropic.claude-sonnet-4-5-20250929-v1:0`; `{raw}` is not"
            ),
        ))
    }
}

/// A system-defined inference profile, as `ListInferenceProfiles` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Profile {
    /// `us.anthropic.claude-…`.
    pub id: String,
    /// The profile's ARN in the region it was listed in.
    pub arn: String,
    /// The foundation-model ARN in every destination region (empty region for `global.`).
    pub model_arns: Vec<String>,
}

/// The base model id of an inference profile id (`us.anthropic...` → `anthropic...`).
pub(crate) fn base_model(id: &str) -> &str {
    PROFILE_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

/// The profile geographies that keep a region's data in its geography, most specific first (per AWS's
/// cross-Region inference documentation: `jp.` from Tokyo and Osaka, `au.` from Sydney and Melbourne, both
/// also inside `apac.`). Empty when AWS offers no geographic profile there (then only `global.`).
pub(crate) fn geography_prefixes(region: &str) -> &'static [&'static str] {
    match region {
        r if r.starts_with("us-gov-") => &["us-gov."],
        "ap-northeast-1" | "ap-northeast-3" => &["jp.", "apac."],
        "ap-southeast-2" | "ap-southeast-4" => &["au.", "apac."],
        r if r.starts_with("us-") || r.starts_with("ca-") => &["us."],
        r if r.starts_with("eu-") => &["eu."],
        r if r.starts_with("ap-") => &["apac."],
        _ => &[],
    }
}

/// The profile to suggest for `base` in `region`: the region's own geography first, then `global.`; never
/// a profile of another geography (an EU region never gets `us.`).
pub(crate) fn suggest_profile<'a>(
    region: &str,
    base: &str,
    profiles: &'a [Profile],
) -> Option<&'a Profile> {
    geography_prefixes(region)
        .iter()
        .chain(std::iter::once(&"global."))
        .find_map(|prefix| {
            profiles
                .iter()
                .find(|p| p.id.strip_prefix(prefix) == Some(base))
        })
}

impl Profile {
    /// Whether the profile routes to the foundation model `base`.
    pub(crate) fn routes_to(&self, base: &str) -> bool {
        base_model(&self.id) == base
            || self
                .model_arns
                .iter()
                .any(|arn| arn.rsplit('/').next() == Some(base))
    }
}

impl Provisioner {
    /// Every system-defined inference profile `client`'s region lists, following every page.
    pub(crate) async fn inference_profiles(
        &self,
        client: &aws_sdk_bedrock::Client,
    ) -> Result<Vec<Profile>> {
        let mut pages = client
            .list_inference_profiles()
            .type_equals(InferenceProfileType::SystemDefined)
            .into_paginator()
            .send();
        let mut profiles = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("bedrock:ListInferenceProfiles", e))?;
            profiles.extend(page.inference_profile_summaries().iter().map(|p| {
                Profile {
                    id: p.inference_profile_id().to_owned(),
                    arn: p.inference_profile_arn().to_owned(),
                    model_arns: p
                        .models()
                        .iter()
                        .filter_map(|m| m.model_arn().map(str::to_owned))
                        .collect(),
                }
            }));
        }
        Ok(profiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str) -> Profile {
        Profile {
            id: id.to_owned(),
            arn: format!("arn:aws:bedrock:eu-west-1:111122223333:inference-profile/{id}"),
            model_arns: Vec::new(),
        }
    }

    const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

    #[test]
    fn suggestions_follow_the_regions_geography() {
        let all: Vec<Profile> = ["us.", "eu.", "apac.", "jp.", "au.", "global."]
            .iter()
            .map(|p| profile(&format!("{p}{SONNET}")))
            .collect();
        for (region, expected) in [
            ("us-east-1", "us."),
            ("ca-central-1", "us."),
            ("eu-west-1", "eu."),
            ("eu-central-1", "eu."),
            ("ap-northeast-1", "jp."),
            ("ap-southeast-2", "au."),
            ("ap-southeast-1", "apac."),
            ("me-central-1", "global."),
        ] {
            let suggested = suggest_profile(region, SONNET, &all).map(|p| p.id.as_str());
            assert_eq!(
                suggested,
                Some(format!("{expected}{SONNET}").as_str()),
                "{region}"
            );
        }
    }

    #[test]
    fn a_region_never_gets_another_geographys_profile() {
        let us_only = vec![profile(&format!("us.{SONNET}"))];
        assert_eq!(suggest_profile("eu-west-1", SONNET, &us_only), None);
        let with_global = vec![
            profile(&format!("us.{SONNET}")),
            profile(&format!("global.{SONNET}")),
        ];
        assert_eq!(
            suggest_profile("eu-west-1", SONNET, &with_global).map(|p| p.id.as_str()),
            Some(format!("global.{SONNET}").as_str())
        );
        let jp_region_apac_only = vec![profile(&format!("apac.{SONNET}"))];
        assert_eq!(
            suggest_profile("ap-northeast-1", SONNET, &jp_region_apac_only).map(|p| p.id.as_str()),
            Some(format!("apac.{SONNET}").as_str())
        );
    }

    #[test]
    fn base_models_strip_every_geography() {
        for prefix in PROFILE_PREFIXES {
            assert_eq!(base_model(&format!("{prefix}{SONNET}")), SONNET);
        }
        assert_eq!(base_model(SONNET), SONNET);
    }
}
