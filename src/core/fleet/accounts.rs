//! Reaching the accounts of a fleet: a unit whose `account` is not the caller's is served by a provisioner
//! acting as `role` in that account (STS `AssumeRole`, session `bedrock-provisioner`, the operator as
//! `SourceIdentity`), through a session renewed before it expires (see `core::aws::role_session`). An account that cannot be reached fails its units only.

use std::{collections::HashMap, sync::Arc};

use futures::future::BoxFuture;

use super::manifest::{Manifest, parse_off_runtime};
use crate::core::{
    AwsSettings, Provisioner, Settings,
    aws::role_session::{self, RoleSession},
    domain::error::Result,
};

/// Items listed per account, flattened, each told its account by `mark`.
pub fn in_accounts<T>(lists: Vec<(String, Vec<T>)>, mark: impl Fn(&mut T, String)) -> Vec<T> {
    let mut all = Vec::new();
    for (account, items) in lists {
        for mut item in items {
            mark(&mut item, account.clone());
            all.push(item);
        }
    }
    all
}

/// Why each account of `accounts` that could not be reached was not, sorted.
pub(super) fn unreachable(accounts: &Accounts) -> Vec<String> {
    let mut why: Vec<String> = accounts
        .values()
        .filter_map(|reached| reached.as_ref().err().cloned())
        .collect();
    why.sort();
    why.dedup();
    why
}

/// The provisioner of each (account, role) a manifest names besides the caller's account, or why it
/// could not be reached.
pub type Accounts = HashMap<(String, String), std::result::Result<Arc<Provisioner>, String>>;

impl Provisioner {
    /// Assume each distinct (account, role) of `manifest` outside the caller's account.
    pub(super) async fn reach_accounts(&self, manifest: &Manifest) -> Result<Accounts> {
        let caller = self.caller().await?.clone();
        let mut accounts = Accounts::new();
        for unit in &manifest.units {
            let Some(account) = unit.account.as_ref().filter(|a| **a != caller.account) else {
                continue;
            };
            let key = (account.clone(), unit.role.clone());
            if accounts.contains_key(&key) {
                continue;
            }
            let role_arn = format!("arn:{}:iam::{account}:role/{}", caller.partition, unit.role);
            let reached =
                self.assume(&role_arn).await.map(Arc::new).map_err(|error| {
                    format!("cannot reach account {account} as {role_arn}: {error}")
                });
            accounts.insert(key, reached);
        }
        Ok(accounts)
    }

    /// The provisioner acting in `place` (an account and role of `accounts`), or this one for `None`; the
    /// reason when that account could not be reached.
    pub(super) fn acting_in<'a>(
        &'a self,
        place: Option<&(String, String)>,
        accounts: &'a Accounts,
    ) -> std::result::Result<&'a Provisioner, String> {
        match place.and_then(|place| accounts.get(place)) {
            None => Ok(self),
            Some(Ok(other)) => Ok(other.as_ref()),
            Some(Err(why)) => Err(why.clone()),
        }
    }

    /// Every account of a run: this provisioner's (the caller's) first, then each reached account once.
    pub(super) fn places<'a>(
        &'a self,
        caller: &'a str,
        accounts: &'a Accounts,
    ) -> Vec<(&'a str, &'a Provisioner)> {
        let mut places: Vec<(&str, &Provisioner)> = vec![(caller, self)];
        let mut reached: Vec<(&str, &Provisioner)> = accounts
            .iter()
            .filter_map(|((account, _), reached)| {
                Some((account.as_str(), reached.as_ref().ok()?.as_ref()))
            })
            .collect();
        reached.sort_by_key(|(account, _)| *account);
        for (account, provisioner) in reached {
            if !places.iter().any(|(a, _)| *a == account) {
                places.push((account, provisioner));
            }
        }
        places
    }

    /// What `list` returns in the caller's account and in every account `manifest` (TOML text) names,
    /// each with its account, and why each unreachable account could not be reached.
    pub(crate) async fn across_accounts<T, F>(
        &self,
        manifest: &str,
        list: F,
    ) -> Result<(Vec<(String, Vec<T>)>, Vec<String>)>
    where
        F: for<'p> Fn(&'p Provisioner) -> BoxFuture<'p, Result<Vec<T>>>,
    {
        let manifest =
            parse_off_runtime("manifest", manifest, &self.settings().default_policy).await?;
        let caller = self.caller().await?.account.clone();
        let accounts = self.reach_accounts(&manifest).await?;
        let mut lists = Vec::new();
        for (account, provisioner) in self.places(&caller, &accounts) {
            lists.push((account.to_owned(), list(provisioner).await?));
        }
        Ok((lists, unreachable(&accounts)))
    }

    /// A provisioner with this one's settings, acting as `role_arn` through a session that renews itself
    /// (the first one is assumed now, so an unreachable account is known before any unit starts).
    async fn assume(&self, role_arn: &str) -> Result<Provisioner> {
        let operator = self.caller().await?.arn.clone();
        let session = RoleSession::new(self.clients().await.sts.clone(), role_arn, &operator);
        session.assume().await?;
        let settings = Settings {
            aws: AwsSettings {
                static_credentials: None,
                credentials_provider: Some(role_session::shared(session)),
                ..self.settings().aws.clone()
            },
            ..self.settings().clone()
        };
        let mut reached = Provisioner::new(settings);
        // One process, one set of key locks: a key lease this process holds is then never taken for an
        // abandoned one by another run of the same process (see `keys::lease`).
        reached.key_locks = self.key_locks.clone();
        if self.memo.is_some() {
            reached.memo = Some(Arc::default());
        }
        Ok(reached)
    }
}
