//! The provisioning core, over a [`Provisioner`] that holds the settings and the AWS clients. No MCP or
//! CLI types here. Its folders say where things are:
//! - [`aws`]: the gateway to AWS: the SDK clients, error mapping, and the reads several areas share
//!   (IAM users, Bedrock models, billing, policy simulation, role sessions, the per-run memo);
//! - [`domain`]: validated types with no AWS in them (names, secrets, policies, governance, plans,
//!   errors, cost allocation tag keys);
//! - one folder per area: [`units`] (provision, deprovision, inventory), [`keys`] (with delivery and
//!   short-term keys), [`costs`] (the bill, budgets, cost allocation tags), [`spend`] (usage, caps,
//!   logging, prices), [`diagnose`] (with verify), [`fleet`];
//! - [`settings`]: the settings of every area, as the adapters build them.

pub mod aws;
pub mod costs;
pub mod diagnose;
pub mod domain;
pub mod fleet;
pub mod keys;
pub mod settings;
pub mod spend;
pub mod units;

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use tokio::sync::OnceCell;

pub use aws::{AwsClients, AwsSettings};
pub use domain::error::{Dialect, Error, Result, ToolDialect};
pub use settings::Settings;

/// Tag key marking resources this project manages.
pub const MANAGED_BY_KEY: &str = "managed-by";
/// Value of [`MANAGED_BY_KEY`].
pub const MANAGED_BY_VALUE: &str = "bedrock-provisioner";

/// Whether an IAM user carries `managed-by=bedrock-provisioner`.
pub fn is_managed(user: &aws_sdk_iam::types::User) -> bool {
    user.tags().iter().any(|tag| {
        domain::names::same_tag_key(tag.key(), MANAGED_BY_KEY) && tag.value() == MANAGED_BY_VALUE
    })
}

/// The AWS identity the server runs as.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Its ARN (an assumed-role session ARN for roles).
    pub arn: String,
    /// Its account id.
    pub account: String,
    /// Its partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
}

/// The core service: settings plus AWS clients, built on first use so that starting the server costs
/// no AWS configuration work.
#[derive(Debug)]
pub struct Provisioner {
    settings: Settings,
    clients: OnceCell<AwsClients>,
    caller: OnceCell<Caller>,
    /// One lock per IAM user, so concurrent key operations never race past IAM's limit of two keys.
    key_locks: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Account-wide reads shared by the units of a fleet run (none outside one).
    memo: Option<Arc<aws::memo::RunMemo>>,
}

impl Provisioner {
    /// Now, on the clock the SDK signs with (settings' `time_source`, else the system's): every date the
    /// core computes (this month, key ages, Cost Explorer's today) comes from it, so tests can fix it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let now = self
            .settings()
            .aws
            .time_source
            .as_ref()
            .map_or_else(std::time::SystemTime::now, |clock| clock.now());
        chrono::DateTime::from(now)
    }

    /// Today in UTC (Cost Explorer's calendar), on [`Provisioner::now`]'s clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.now().date_naive()
    }

    /// A provisioner with these settings; no AWS work happens until the first operation.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            clients: OnceCell::new(),
            caller: OnceCell::new(),
            key_locks: Arc::default(),
            memo: None,
        }
    }

    /// The settings in effect.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The AWS clients, loaded from the credential chain on first call.
    pub async fn clients(&self) -> &AwsClients {
        self.clients
            .get_or_init(|| AwsClients::load(&self.settings.aws))
            .await
    }

    /// The identity the server runs as (STS `GetCallerIdentity`, asked once). The region the AWS chain
    /// settled on (an AWS profile's, when nothing else named one) is validated first, like an explicit one.
    pub async fn caller(&self) -> Result<&Caller> {
        self.caller
            .get_or_try_init(|| async {
                domain::names::parse_region("region (AWS profile)", &self.clients().await.region)?;
                let identity = self
                    .clients()
                    .await
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| aws::sdk_error("sts:GetCallerIdentity", e))?;
                let arn = identity.arn().unwrap_or_default().to_owned();
                Ok(Caller {
                    account: identity.account().unwrap_or_default().to_owned(),
                    partition: arn
                        .split(':')
                        .nth(1)
                        .filter(|p| !p.is_empty())
                        .unwrap_or("aws")
                        .to_owned(),
                    arn,
                })
            })
            .await
    }

    /// The identity the server runs as, if already known (never calls AWS).
    pub fn known_caller(&self) -> Option<&Caller> {
        self.caller.get()
    }

    /// Serialize key operations on one IAM user within this server.
    pub(crate) async fn lock_user(&self, user_name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .key_locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(user_name.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Run `operation` again while it fails with [`Error::NotFound`], as IAM does for a short while after
    /// a resource was created. Bounded by [`Settings::propagation_attempts`].
    pub(crate) async fn retry_while_propagating<T, F, Fut>(&self, mut operation: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut delay = self.settings.propagation_delay;
        let mut attempt = 1;
        loop {
            match operation().await {
                Err(Error::NotFound { what, .. })
                    if attempt < self.settings.propagation_attempts =>
                {
                    tracing::debug!(%what, attempt, "not visible yet (IAM eventual consistency); retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod labels {
    use strum::VariantArray;

    /// The derived label of each variant is its serialized name, for every enum labelled in text output.
    fn same<T: VariantArray + Copy + serde::Serialize + Into<&'static str>>() {
        for variant in T::VARIANTS {
            let label: &str = (*variant).into();
            assert_eq!(serde_json::to_value(variant).unwrap(), label);
        }
    }

    #[test]
    fn labels_are_the_serialized_names() {
        same::<super::diagnose::verify::KeyOutcome>();
        same::<super::keys::deliver::Delivery>();
        same::<super::units::provision::ResourceKind>();
        same::<super::domain::plan::ChangeStatus>();
        same::<super::keys::RevokeOutcome>();
        same::<super::keys::KeyFlag>();
        same::<super::units::deprovision::StepKind>();
    }
}
