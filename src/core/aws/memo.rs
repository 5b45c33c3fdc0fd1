//! Account-wide reads shared by the units of one fleet run: the Cost Explorer tag key and Bedrock billing
//! services every budget filters on, and this project's policy document once a unit has read or written
//! it. A fleet of 500 units then reads them once per account instead of 500 times (Cost Explorer bills
//! each request). Single tool calls have no memo and always read AWS.

use std::collections::HashMap;

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::core::{Provisioner, domain::error::Result};

/// What one fleet run has read once for every unit of an account.
#[derive(Debug, Default)]
pub(crate) struct RunMemo {
    /// The tag key budgets filter on, and its note.
    pub tag_key: OnceCell<(String, Option<String>)>,
    /// Bedrock billing services of the last three months.
    pub services: OnceCell<Vec<String>>,
    /// Policy ARN → the default version's document, as last read or written in this run.
    pub policies: std::sync::Mutex<HashMap<String, Value>>,
}

impl Provisioner {
    /// A provisioner for one fleet run: the same settings, clients, caller and key locks, and a fresh memo
    /// of account-wide reads.
    pub(crate) fn for_run(&self) -> Provisioner {
        Provisioner {
            settings: self.settings.clone(),
            clients: self.clients.clone(),
            caller: self.caller.clone(),
            key_locks: self.key_locks.clone(),
            memo: Some(std::sync::Arc::default()),
        }
    }

    /// `read`, once per run when this provisioner has a memo (the `cell` of it), else every time.
    pub(crate) async fn once<T, F, Fut>(
        &self,
        cell: impl FnOnce(&RunMemo) -> &OnceCell<T>,
        read: F,
    ) -> Result<T>
    where
        T: Clone,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match &self.memo {
            Some(memo) => cell(memo).get_or_try_init(read).await.cloned(),
            None => read().await,
        }
    }

    /// The policy document this run last saw as `arn`'s default version.
    pub(crate) fn remembered_policy(&self, arn: &str) -> Option<Value> {
        let memo = self.memo.as_ref()?;
        let policies = memo
            .policies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        policies.get(arn).cloned()
    }

    /// Remember `document` as `arn`'s default version for the rest of the run.
    pub(crate) fn remember_policy(&self, arn: &str, document: &Value) {
        if let Some(memo) = &self.memo {
            memo.policies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(arn.to_owned(), document.clone());
        }
    }
}
