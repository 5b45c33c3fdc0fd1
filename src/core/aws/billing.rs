//! Billing reads several capabilities share: cost allocation tags, the billing services that carry Bedrock
//! spend, and which tag key carries business units (by the rules of [`crate::core::domain::cost_tags`]).

use aws_sdk_costexplorer::types::{CostAllocationTagStatus, DateInterval, Dimension};

use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::{
        cost_tags::{BUSINESS_UNIT_TAG, carries_tag},
        error::{Error, Result},
    },
};

impl Provisioner {
    /// Billing services that carry Bedrock spend in the period.
    pub(crate) async fn bedrock_services(&self, period: &DateInterval) -> Result<Vec<String>> {
        let ce = &self.clients().await.cost_explorer;
        let mut services = Vec::new();
        let mut token = None;
        loop {
            let page = ce
                .get_dimension_values()
                .time_period(period.clone())
                .dimension(Dimension::Service)
                .search_string("Bedrock")
                .set_next_page_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("ce:GetDimensionValues", e))?;
            services.extend(
                page.dimension_values()
                    .iter()
                    .filter_map(|v| v.value().map(str::to_owned))
                    .filter(|v| v.contains("Bedrock")),
            );
            token = page.next_page_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        services.sort();
        services.dedup();
        Ok(services)
    }

    /// The tag key that carries business units, and a note when it is not active (read once per fleet run).
    pub(crate) async fn business_unit_tag_key(&self) -> Result<(String, Option<String>)> {
        self.once(|memo| &memo.tag_key, || self.read_business_unit_tag_key())
            .await
    }

    async fn read_business_unit_tag_key(&self) -> Result<(String, Option<String>)> {
        let tags = match self.cost_allocation_tags().await {
            Ok(tags) => tags,
            Err(Error::AccessDenied { .. }) => {
                return Ok((
                    BUSINESS_UNIT_TAG.to_owned(),
                    Some("Cost allocation tags are not readable here (they live in the management account); assuming the tag key `business-unit`.".to_owned()),
                ));
            }
            Err(error) => return Err(error),
        };
        let candidates: Vec<&(String, CostAllocationTagStatus)> = tags
            .iter()
            .filter(|(key, _)| carries_tag(key, BUSINESS_UNIT_TAG))
            .collect();
        let active = |principal: bool| {
            candidates.iter().find(|(key, status)| {
                status == &CostAllocationTagStatus::Active
                    && (key != BUSINESS_UNIT_TAG) == principal
            })
        };
        if let Some((key, _)) = active(true).or_else(|| active(false)) {
            return Ok((key.clone(), None));
        }
        match candidates.first() {
            Some((key, _)) => Ok((
                key.clone(),
                Some(format!("The cost allocation tag `{key}` is not active, so spend cannot be split by business unit: activate it with enable_cost_tags (grouping applies from activation on, after 24-48 h).")),
            )),
            None => Ok((
                BUSINESS_UNIT_TAG.to_owned(),
                Some("Billing has not seen a `business-unit` tag yet: tag keys appear after tagged usage, then need activating (enable_cost_tags).".to_owned()),
            )),
        }
    }

    /// Every cost allocation tag key and its status.
    pub(crate) async fn cost_allocation_tags(
        &self,
    ) -> Result<Vec<(String, CostAllocationTagStatus)>> {
        let ce = &self.clients().await.cost_explorer;
        let mut tags = Vec::new();
        let mut token = None;
        loop {
            let page = ce
                .list_cost_allocation_tags()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("ce:ListCostAllocationTags", e))?;
            tags.extend(
                page.cost_allocation_tags()
                    .iter()
                    .map(|t| (t.tag_key().to_owned(), t.status().clone())),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_principal_forms_carry_a_tag() {
        assert!(carries_tag("owner", "owner"));
        assert!(carries_tag("iamPrincipal/owner", "owner"));
        assert!(!carries_tag("co-owner", "owner"));
        assert!(!carries_tag("owner/x", "owner"));
    }
}
