//! Prices per token of Claude on Bedrock, from the Price List API (`pricing:GetProducts`, service code
//! `AmazonBedrockFoundationModels`: Claude is billed through AWS Marketplace). A product's `servicename` is the
//! model's name (`Claude Sonnet 4.5 (Amazon Bedrock Edition)`) and its `usagetype` the dimension
//! (`USE1-MP:USE1_InputTokenCount-Units`, `…_OutputTokenCount…`, `…_CacheReadInputTokenCount…`,
//! `…_CacheWriteInputTokenCount…`; newer models `…_input_tokens_standard`, `…_input_tokens_global_standard`).
//! No attribute holds the model id: [`service_name`] maps one to the other, tested against the catalog.

use std::collections::HashMap;

use aws_sdk_pricing::types::{Filter, FilterType};
use serde_json::Value;

use crate::core::{Provisioner, aws::sdk_error, domain::error::Result};

/// The Price List service code of Claude and the other Marketplace models on Bedrock.
pub const SERVICE_CODE: &str = "AmazonBedrockFoundationModels";

/// USD per token of each dimension a call is billed on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Input tokens.
    pub input: Option<f64>,
    /// Output tokens.
    pub output: Option<f64>,
    /// Input tokens read from the prompt cache.
    pub cache_read: Option<f64>,
    /// Input tokens written to the prompt cache.
    pub cache_write: Option<f64>,
}

/// Token counts of some calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Cache read input tokens.
    pub cache_read: u64,
    /// Cache write input tokens.
    pub cache_write: u64,
}

impl Rates {
    /// The estimated cost of `tokens`; `None` when a dimension that was used has no price.
    pub fn cost(&self, tokens: &Tokens) -> Option<f64> {
        let part = |count: u64, rate: Option<f64>| match (count, rate) {
            (0, _) => Some(0.0),
            (n, Some(rate)) => Some(n as f64 * rate),
            (_, None) => None,
        };
        Some(
            part(tokens.input, self.input)?
                + part(tokens.output, self.output)?
                + part(tokens.cache_read, self.cache_read.or(self.input))?
                + part(tokens.cache_write, self.cache_write.or(self.input))?,
        )
    }
}

/// The prices of one region: per model name, geographic and global cross-region inference apart.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    rates: HashMap<(String, bool), Rates>,
}

impl PriceTable {
    /// The table of the Price List documents (`PriceList` JSON strings) of one region.
    pub fn from_documents(documents: &[String]) -> Self {
        let mut table = Self::default();
        for document in documents {
            if let Ok(value) = serde_json::from_str::<Value>(document) {
                table.add(&value);
            }
        }
        table
    }

    fn add(&mut self, product: &Value) {
        let attributes = &product["product"]["attributes"];
        let (Some(name), Some(usage)) = (
            attributes["servicename"].as_str(),
            attributes["usagetype"].as_str(),
        ) else {
            return;
        };
        let Some((dimension, global)) = dimension(usage) else {
            return;
        };
        let Some(rate) = per_token(product) else {
            return;
        };
        let rates = self.rates.entry((name.to_owned(), global)).or_default();
        let slot = match dimension {
            Dimension::Input => &mut rates.input,
            Dimension::Output => &mut rates.output,
            Dimension::CacheRead => &mut rates.cache_read,
            Dimension::CacheWrite => &mut rates.cache_write,
        };
        slot.get_or_insert(rate);
    }

    /// The rates of `model_id` (a model id, an inference profile id or ARN): for a `global.` profile, each
    /// dimension's global price where the region lists one, else the geographic price.
    pub fn rates(&self, model_id: &str) -> Option<Rates> {
        let name = service_name(model_id)?;
        let geographic = self.rates.get(&(name.clone(), false)).copied();
        let global = (base_model(model_id).0 == "global")
            .then(|| self.rates.get(&(name, true)).copied())
            .flatten();
        match (global, geographic) {
            (Some(g), Some(r)) => Some(Rates {
                input: g.input.or(r.input),
                output: g.output.or(r.output),
                cache_read: g.cache_read.or(r.cache_read),
                cache_write: g.cache_write.or(r.cache_write),
            }),
            (one, other) => one.or(other),
        }
    }

    /// Whether no price was found.
    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dimension {
    Input,
    Output,
    CacheRead,
    CacheWrite,
}

/// The dimension a usage type bills, and whether it is global cross-region inference; `None` for usage
/// types a plain on-demand call is not billed on (batch, provisioned, priority, flex, latency-optimized).
fn dimension(usage_type: &str) -> Option<(Dimension, bool)> {
    let usage = usage_type.to_ascii_lowercase().replace('_', "");
    if [
        "batch",
        "provisioned",
        "priority",
        "flex",
        "latencyoptimized",
        "reserved",
    ]
    .iter()
    .any(|skip| usage.contains(skip))
    {
        return None;
    }
    let global = usage.contains("global");
    let dimension = if usage.contains("cacheread") {
        Dimension::CacheRead
    } else if usage.contains("cachewrite") {
        Dimension::CacheWrite
    } else if usage.contains("inputtoken") {
        Dimension::Input
    } else if usage.contains("outputtoken") {
        Dimension::Output
    } else {
        return None;
    };
    Some((dimension, global))
}

/// USD per token of a product's on-demand price: the price per unit, divided by the unit's token count
/// where the unit or description names one (`1K`, `1M`, `million`); a bare `Units` is per million tokens.
fn per_token(product: &Value) -> Option<f64> {
    let terms = product["terms"]["OnDemand"].as_object()?;
    let dimension = terms
        .values()
        .filter_map(|term| term["priceDimensions"].as_object())
        .flat_map(|dimensions| dimensions.values())
        .next()?;
    let price: f64 = dimension["pricePerUnit"]["USD"].as_str()?.parse().ok()?;
    let said = format!(
        "{} {}",
        dimension["unit"].as_str().unwrap_or_default(),
        dimension["description"].as_str().unwrap_or_default()
    )
    .to_ascii_lowercase();
    let per = if said.contains("1k") || said.contains("thousand") {
        1_000.0
    } else {
        1_000_000.0
    };
    Some(price / per)
}

/// The routing prefix (`us`, `global`, … or empty) and the foundation model id of a model id, an inference
/// profile id or an ARN of either.
pub fn base_model(model_id: &str) -> (&str, &str) {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    match id.split_once('.') {
        Some((prefix, rest)) if rest.starts_with("anthropic.") || rest.starts_with("amazon.") => {
            (prefix, rest)
        }
        _ => ("", id),
    }
}

/// The Price List `servicename` of an Anthropic model: `anthropic.claude-sonnet-4-5-20250929-v1:0` is
/// `Claude Sonnet 4.5 (Amazon Bedrock Edition)`, `anthropic.claude-3-7-sonnet-20250219-v1:0` is
/// `Claude 3.7 Sonnet (Amazon Bedrock Edition)`; `None` for other providers.
pub fn service_name(model_id: &str) -> Option<String> {
    let name = base_model(model_id).1.strip_prefix("anthropic.claude-")?;
    let mut words: Vec<String> = vec!["Claude".to_owned()];
    let mut version: Vec<&str> = Vec::new();
    for part in name.split('-') {
        if part.len() >= 8 && part.bytes().all(|b| b.is_ascii_digit())
            || part.starts_with('v')
                && part.len() > 1
                && part[1..2].bytes().all(|b| b.is_ascii_digit())
        {
            break;
        }
        if part.bytes().all(|b| b.is_ascii_digit()) {
            version.push(part);
            continue;
        }
        if !version.is_empty() {
            words.push(version.join("."));
            version.clear();
        }
        let mut chars = part.chars();
        let first = chars.next()?.to_ascii_uppercase();
        words.push(format!("{first}{}", chars.as_str()));
    }
    if !version.is_empty() {
        words.push(version.join("."));
    }
    Some(format!("{} (Amazon Bedrock Edition)", words.join(" ")))
}

impl Provisioner {
    /// Every price of `region` under the Bedrock Marketplace service code (all pages).
    pub(crate) async fn price_table(&self, region: &str) -> Result<PriceTable> {
        let pricing = &self.clients().await.pricing;
        let filter = Filter::builder()
            .r#type(FilterType::TermMatch)
            .field("regionCode")
            .value(region)
            .build()
            .map_err(|e| crate::core::Error::refused("region", e.to_string()))?;
        let mut documents = Vec::new();
        let mut token = None;
        loop {
            let page = pricing
                .get_products()
                .service_code(SERVICE_CODE)
                .filters(filter.clone())
                .format_version("aws_v1")
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("pricing:GetProducts", e))?;
            documents.extend(page.price_list().iter().cloned());
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(PriceTable::from_documents(&documents))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn model_ids_map_to_price_list_names() {
        for (id, name) in [
            (
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "Claude Sonnet 4.5",
            ),
            (
                "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                "Claude Haiku 4.5",
            ),
            (
                "global.anthropic.claude-opus-4-5-20251101-v1:0",
                "Claude Opus 4.5",
            ),
            (
                "anthropic.claude-3-7-sonnet-20250219-v1:0",
                "Claude 3.7 Sonnet",
            ),
            ("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4"),
            ("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1"),
            ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
            (
                "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "Claude Sonnet 4.5",
            ),
        ] {
            assert_eq!(
                service_name(id),
                Some(format!("{name} (Amazon Bedrock Edition)")),
                "{id}"
            );
        }
        assert_eq!(service_name("amazon.nova-lite-v1:0"), None);
    }

    fn product(name: &str, usage: &str, usd: &str) -> String {
        json!({"product": {"attributes": {"servicename": name, "usagetype": usage, "regionCode": "us-east-1"}},
               "terms": {"OnDemand": {"T": {"priceDimensions": {"T.R": {"unit": "Units", "pricePerUnit": {"USD": usd}}}}}}})
        .to_string()
    }

    #[test]
    fn documents_give_rates_per_token_and_global_is_its_own() {
        let sonnet = "Claude Sonnet 4.5 (Amazon Bedrock Edition)";
        let table = PriceTable::from_documents(&[
            product(sonnet, "USE1-MP:USE1_InputTokenCount-Units", "3"),
            product(sonnet, "USE1-MP:USE1_OutputTokenCount-Units", "15"),
            product(sonnet, "USE1-MP:USE1_CacheReadInputTokenCount-Units", "0.3"),
            product(
                sonnet,
                "USE1-MP:USE1_CacheWriteInputTokenCount-Units",
                "3.75",
            ),
            product(
                sonnet,
                "USE1-MP:USE1_input_tokens_global_standard-Units",
                "2.7",
            ),
            product(sonnet, "USE1-MP:USE1_Batch_InputTokenCount-Units", "1.5"),
        ]);
        let rates = table
            .rates("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
            .unwrap();
        assert_eq!(rates.input, Some(3e-6));
        assert_eq!(rates.output, Some(15e-6));
        let tokens = Tokens {
            input: 1_000_000,
            output: 100_000,
            cache_read: 0,
            cache_write: 0,
        };
        assert!((rates.cost(&tokens).unwrap() - 4.5).abs() < 1e-9);
        let global = table
            .rates("global.anthropic.claude-sonnet-4-5-20250929-v1:0")
            .unwrap();
        assert_eq!(global.input, Some(2.7e-6));
        assert_eq!(
            global.output,
            Some(15e-6),
            "no global output price listed: the geographic one"
        );
        assert!(
            table
                .rates("us.anthropic.claude-opus-4-5-20251101-v1:0")
                .is_none()
        );
    }
}
