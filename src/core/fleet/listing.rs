//! Key listings across a manifest's accounts: `list_api_keys` with a `manifest` lists the keys of every
//! account it names, each marked with its account, and says which accounts could not be reached.

use super::in_accounts;
use crate::core::{
    Provisioner,
    error::{Error, Result},
    keys::{ApiKeyList, ApiKeySummary, ListApiKeysInput},
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
}
