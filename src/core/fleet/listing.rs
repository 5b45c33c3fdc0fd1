//! Listings across a manifest's accounts: `list_api_keys`, `list_business_units` and `query_usage` with a
//! `manifest` list what every account it names holds, each item marked with its account, and say which
//! accounts could not be reached. Each area lists one account; the fan-out is the fleet's.

use super::in_accounts;
use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    keys::{ApiKeyList, ApiKeySummary, ListApiKeysInput},
    spend::usage::{QueryUsageInput, UsageReport, merge},
    units::inventory::{BusinessUnitList, BusinessUnitSummary, ListBusinessUnitsInput},
};

impl Provisioner {
    /// The business unit's keys, or the keys of every user this tool manages (in the accounts of a
    /// manifest too, when given one).
    pub async fn list_api_keys(&self, input: &ListApiKeysInput) -> Result<ApiKeyList> {
        let Some(manifest) = &input.manifest else {
            return self
                .list_api_keys_here(input.business_unit.as_deref())
                .await;
        };
        if input.business_unit.is_some() {
            return Err(Error::invalid(
                "manifest",
                "lists every unit of the manifest's accounts: give `business_unit` or `manifest`, not both",
            ));
        }
        let (lists, unreachable) = self
            .across_accounts(manifest, |p| {
                Box::pin(
                    async move { Ok(p.keys_by_unit().await?.into_values().flatten().collect()) },
                )
            })
            .await?;
        Ok(ApiKeyList {
            keys: in_accounts(lists, |key: &mut ApiKeySummary, account| {
                key.account = Some(account);
            }),
            unreachable,
        })
    }

    /// The IAM users named `<business-unit>-bedrock-user`, with their tags (in the accounts of a manifest
    /// too, when given one).
    pub async fn list_business_units(
        &self,
        input: &ListBusinessUnitsInput,
    ) -> Result<BusinessUnitList> {
        let include_unmanaged = input.include_unmanaged;
        let Some(manifest) = &input.manifest else {
            return self.units_with_spend(include_unmanaged).await;
        };
        let (lists, unreachable) = self
            .across_accounts(manifest, |p| {
                Box::pin(
                    async move { Ok(p.units_with_spend(include_unmanaged).await?.business_units) },
                )
            })
            .await?;
        Ok(BusinessUnitList {
            business_units: in_accounts(lists, |unit: &mut BusinessUnitSummary, account| {
                unit.account = Some(account);
            }),
            unreachable,
        })
    }

    /// Calls, tokens and estimated cost per unit and model in the window.
    pub async fn query_usage(&self, input: &QueryUsageInput) -> Result<UsageReport> {
        let (since, units) = input.validate()?;
        let Some(manifest) = &input.manifest else {
            for unit in units.iter().flatten() {
                self.managed_user(unit).await?;
            }
            return self.usage_here(since, units.as_deref()).await;
        };
        let (reports, unreachable) = self
            .across_accounts(manifest, |p| {
                let units = units.clone();
                Box::pin(async move { Ok(vec![p.usage_here(since, units.as_deref()).await?]) })
            })
            .await?;
        Ok(merge(reports, &unreachable))
    }
}
