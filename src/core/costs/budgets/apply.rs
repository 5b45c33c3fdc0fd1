//! The AWS half of `create_budget_alert`: read the budget and its alerts, apply a plan's steps.

use aws_sdk_budgets::types::{
    Notification, NotificationWithSubscribers, Subscriber, SubscriptionType,
};

use super::plan::{Change, Current, Step, Wanted};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result, found},
};

impl Provisioner {
    /// The budget of that name with its alerts and their subscribers, or `None` when there is none.
    pub(super) async fn current_budget(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<Current>> {
        let budgets = &self.clients().await.budgets;
        let existing = found(
            budgets
                .describe_budget()
                .account_id(account)
                .budget_name(name)
                // AWS omits the filter unless asked: without this every rerun would see "no filter",
                // call UpdateBudget and reset the budget's calculated spend.
                .show_filter_expression(true)
                .send()
                .await
                .map_err(|e| sdk_error("budgets:DescribeBudget", e)),
        )?
        .and_then(|out| out.budget);
        let Some(budget) = existing else {
            return Ok(None);
        };
        let notifications = budgets
            .describe_notifications_for_budget()
            .account_id(account)
            .budget_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("budgets:DescribeNotificationsForBudget", e))?
            .notifications
            .unwrap_or_default();
        let mut alerts = Vec::new();
        for notification in notifications {
            let addresses = self.subscribers(account, name, &notification).await?;
            alerts.push((notification, addresses));
        }
        Ok(Some(Current {
            limit: budget
                .budget_limit()
                .and_then(|l| l.amount().parse::<f64>().ok()),
            filter: budget.filter_expression().cloned(),
            metrics: budget.metrics().to_vec(),
            alerts,
        }))
    }

    async fn subscribers(
        &self,
        account: &str,
        name: &str,
        notification: &Notification,
    ) -> Result<Vec<String>> {
        let mut addresses: Vec<String> = self
            .clients()
            .await
            .budgets
            .describe_subscribers_for_notification()
            .account_id(account)
            .budget_name(name)
            .notification(notification.clone())
            .send()
            .await
            .map_err(|e| sdk_error("budgets:DescribeSubscribersForNotification", e))?
            .subscribers
            .unwrap_or_default()
            .iter()
            .map(|s| s.address().to_owned())
            .collect();
        addresses.sort();
        Ok(addresses)
    }

    /// Execute the plan's steps in order; `UpdateBudget` runs once however many reasons call for it.
    pub(super) async fn apply_budget(
        &self,
        account: &str,
        wanted: &Wanted,
        plan: &[Change],
    ) -> Result<()> {
        let mut updated = false;
        for step in plan.iter().filter_map(Change::step) {
            match step {
                Step::CreateBudget => self.create_budget(account, wanted).await?,
                Step::UpdateBudget if updated => {}
                Step::UpdateBudget => {
                    self.update_budget(account, wanted).await?;
                    updated = true;
                }
                Step::DeleteAlert(alert) => self.delete_alert(account, wanted, alert).await?,
                Step::ResendAlert(alert) => {
                    self.delete_alert(account, wanted, alert).await?;
                    self.create_alert(account, wanted, alert).await?;
                }
                Step::CreateAlert(alert) => self.create_alert(account, wanted, alert).await?,
            }
        }
        Ok(())
    }

    async fn create_budget(&self, account: &str, wanted: &Wanted) -> Result<()> {
        let subscribers = subscribers(wanted)?;
        let alerts = wanted
            .alerts
            .iter()
            .map(|n| {
                NotificationWithSubscribers::builder()
                    .notification(n.clone())
                    .set_subscribers(Some(subscribers.clone()))
                    .build()
                    .map_err(|e| Error::refused("thresholds", e.to_string()))
            })
            .collect::<Result<_>>()?;
        self.clients()
            .await
            .budgets
            .create_budget()
            .account_id(account)
            .budget(wanted.budget.clone())
            .set_notifications_with_subscribers(Some(alerts))
            .send()
            .await
            .map_err(|e| sdk_error("budgets:CreateBudget", e))?;
        Ok(())
    }

    async fn update_budget(&self, account: &str, wanted: &Wanted) -> Result<()> {
        self.clients()
            .await
            .budgets
            .update_budget()
            .account_id(account)
            .new_budget(wanted.budget.clone())
            .send()
            .await
            .map_err(|e| sdk_error("budgets:UpdateBudget", e))?;
        Ok(())
    }

    async fn delete_alert(
        &self,
        account: &str,
        wanted: &Wanted,
        alert: &Notification,
    ) -> Result<()> {
        self.clients()
            .await
            .budgets
            .delete_notification()
            .account_id(account)
            .budget_name(&wanted.name)
            .notification(alert.clone())
            .send()
            .await
            .map_err(|e| sdk_error("budgets:DeleteNotification", e))?;
        Ok(())
    }

    async fn create_alert(
        &self,
        account: &str,
        wanted: &Wanted,
        alert: &Notification,
    ) -> Result<()> {
        self.clients()
            .await
            .budgets
            .create_notification()
            .account_id(account)
            .budget_name(&wanted.name)
            .notification(alert.clone())
            .set_subscribers(Some(subscribers(wanted)?))
            .send()
            .await
            .map_err(|e| sdk_error("budgets:CreateNotification", e))?;
        Ok(())
    }
}

/// An e-mail subscriber per address.
fn subscribers(wanted: &Wanted) -> Result<Vec<Subscriber>> {
    wanted
        .emails
        .iter()
        .map(|address| {
            Subscriber::builder()
                .subscription_type(SubscriptionType::Email)
                .address(address)
                .build()
                .map_err(|e| Error::refused("emails", e.to_string()))
        })
        .collect()
}
