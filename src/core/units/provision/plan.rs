//! The pure half of `provision_user`: from what exists and what is wanted, the changes to make.

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::ResourceKind;
use crate::core::{
    aws::iam::describe_tags,
    domain::error::{Error, Result},
    domain::names::{PolicyArn, same_tag_key},
    domain::plan,
};

/// One change of a `provision_user` plan.
pub type Change = plan::Change<ResourceKind, Step>;

/// What `apply` does for one change.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Create this project's policy with the document.
    CreatePolicy(Value),
    /// Publish the document as the new default version of this project's policy.
    PublishPolicyVersion(Value),
    /// Create the user with these tags.
    CreateUser(Vec<Tag>),
    /// Set these tags on the existing user.
    TagUser(Vec<Tag>),
    /// Attach the policy to the user.
    AttachPolicy,
}

impl Step {
    /// What the step would do, for a dry run.
    pub fn would(&self) -> String {
        match self {
            Step::CreatePolicy(_) => "would create the least-privilege policy".to_owned(),
            Step::PublishPolicyVersion(_) => {
                "would publish a new default version of the policy document".to_owned()
            }
            Step::CreateUser(_) => "would create the IAM user".to_owned(),
            Step::TagUser(tags) => format!("would set {}", describe_tags(tags)),
            Step::AttachPolicy => "would attach the policy to the user".to_owned(),
        }
    }
}

/// The unit's resources as they are.
#[derive(Clone, Debug, Default)]
pub struct Current {
    /// The IAM user, if it exists.
    pub user: Option<CurrentUser>,
    /// This project's policy document (the default version's), when that policy is the one wanted: `None`
    /// when the policy does not exist, `Some(None)` when its document could not be read.
    pub own_policy: Option<Option<Value>>,
    /// ARNs of the managed policies attached to the user.
    pub attached: Vec<String>,
}

/// The IAM user as it is.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Whether it carries `managed-by=bedrock-provisioner`.
    pub managed: bool,
}

/// The unit's resources as they must be.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// The IAM user's name.
    pub user_name: String,
    /// Every tag the user must carry.
    pub tags: Vec<Tag>,
    /// The policy to attach.
    pub policy_arn: PolicyArn,
    /// The document, when the policy is this project's own (created and versioned by the tool).
    pub own_document: Option<Value>,
    /// Take over a user this project did not create.
    pub adopt: bool,
}

/// The changes that take `current` to `wanted`, in the order they must be applied: policy, user, tags,
/// attachment, then other attached policies as drift. A user this project did not create is refused unless
/// `adopt`.
pub fn plan(current: &Current, wanted: &Wanted) -> Result<Vec<Change>> {
    let user_name = &wanted.user_name;
    if current.user.as_ref().is_some_and(|user| !user.managed) && !wanted.adopt {
        return Err(Error::ForeignUser {
            user_name: user_name.clone(),
        });
    }
    let mut changes: Vec<Change> = wanted
        .own_document
        .as_ref()
        .map(|document| policy_change(current, wanted, document))
        .into_iter()
        .collect();
    match &current.user {
        None => changes.push(Change::apply(
            ResourceKind::IamUser,
            user_name,
            "the IAM user does not exist",
            Step::CreateUser(wanted.tags.clone()),
        )),
        Some(user) => {
            changes.push(Change::keep(
                ResourceKind::IamUser,
                user_name,
                "the IAM user exists",
            ));
            changes.push(tags_change(user, wanted));
        }
    }
    let attachment = format!("{user_name} <- {}", wanted.policy_arn.as_str());
    changes.push(
        if current
            .attached
            .iter()
            .any(|arn| arn == wanted.policy_arn.as_str())
        {
            Change::keep(
                ResourceKind::PolicyAttachment,
                attachment,
                "the policy is attached",
            )
        } else {
            Change::apply(
                ResourceKind::PolicyAttachment,
                attachment,
                "the policy is not attached",
                Step::AttachPolicy,
            )
        },
    );
    changes.extend(other_policies(current, wanted));
    Ok(changes)
}

fn policy_change(current: &Current, wanted: &Wanted, document: &Value) -> Change {
    let arn = wanted.policy_arn.as_str();
    match &current.own_policy {
        None => Change::apply(
            ResourceKind::ManagedPolicy,
            arn,
            "the least-privilege policy does not exist",
            Step::CreatePolicy(document.clone()),
        ),
        Some(Some(have)) if have == document => Change::keep(
            ResourceKind::ManagedPolicy,
            arn,
            "the policy document is current",
        ),
        Some(_) => Change::apply(
            ResourceKind::ManagedPolicy,
            arn,
            "the default version's document differs from this release's",
            Step::PublishPolicyVersion(document.clone()),
        ),
    }
}

/// The wanted tags the user lacks or carries with another value (keys compared as IAM does, ignoring case).
fn tags_change(user: &CurrentUser, wanted: &Wanted) -> Change {
    let drifted: Vec<Tag> = wanted
        .tags
        .iter()
        .filter(|want| {
            !user
                .tags
                .iter()
                .any(|have| same_tag_key(have.key(), want.key()) && have.value() == want.value())
        })
        .cloned()
        .collect();
    if drifted.is_empty() {
        return Change::keep(ResourceKind::UserTags, &wanted.user_name, "all tags match");
    }
    Change::apply(
        ResourceKind::UserTags,
        &wanted.user_name,
        format!("missing or different: {}", describe_tags(&drifted)),
        Step::TagUser(drifted),
    )
}

/// Managed policies attached to the unit's user besides its own: drift this tool reports and leaves in place.
fn other_policies<'a>(
    current: &'a Current,
    wanted: &'a Wanted,
) -> impl Iterator<Item = Change> + 'a {
    let user_name = &wanted.user_name;
    current
        .attached
        .iter()
        .filter(|arn| *arn != wanted.policy_arn.as_str())
        // The spend-cap deny is this project's own, attached while the unit's cap is spent.
        .filter(|arn| !arn.ends_with(&format!("/{}", crate::core::domain::policy::DENY_POLICY_NAME)))
        .map(move |arn| {
            Change::drift(
                ResourceKind::PolicyAttachment,
                format!("{user_name} <- {arn}"),
                format!(
                    "also attached, and not by bedrock-provisioner's choice: it may grant more than Bedrock. \
                     Fix, if the unit should only call Claude: aws iam detach-user-policy --user-name \
                     {user_name} --policy-arn {arn}"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{aws::iam::tag, domain::plan::Effect};

    const OWN: &str =
        "arn:aws:iam::111122223333:policy/bedrock-provisioner/BedrockProvisionerClaudeAccess";

    fn wanted() -> Wanted {
        Wanted {
            user_name: "sales-bedrock-user".into(),
            tags: vec![
                tag("owner", "jane").unwrap(),
                tag("purpose", "copy").unwrap(),
            ],
            policy_arn: PolicyArn::parse("policy", OWN).unwrap(),
            own_document: Some(serde_json::json!({"Version": "2012-10-17"})),
            adopt: false,
        }
    }

    fn user(tags: &[(&str, &str)], managed: bool) -> Option<CurrentUser> {
        Some(CurrentUser {
            tags: tags.iter().map(|(k, v)| tag(k, v).unwrap()).collect(),
            managed,
        })
    }

    fn steps(changes: &[Change]) -> Vec<&Step> {
        changes.iter().filter_map(Change::step).collect()
    }

    #[test]
    fn a_fresh_account_gets_policy_user_and_attachment_in_that_order() {
        let changes = plan(&Current::default(), &wanted()).unwrap();
        let steps = steps(&changes);
        assert!(matches!(steps[0], Step::CreatePolicy(_)));
        assert!(matches!(steps[1], Step::CreateUser(tags) if tags.len() == 2));
        assert_eq!(steps[2], &Step::AttachPolicy);
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn a_matching_unit_plans_nothing() {
        let current = Current {
            user: user(&[("Owner", "jane"), ("purpose", "copy")], true),
            own_policy: Some(wanted().own_document),
            attached: vec![OWN.into()],
        };
        let changes = plan(&current, &wanted()).unwrap();
        assert!(!plan::changes_anything(&changes), "{changes:?}");
        assert_eq!(changes.len(), 4, "policy, user, tags, attachment");
    }

    #[test]
    fn only_the_drifted_tags_are_set_and_other_policies_are_drift() {
        let current = Current {
            user: user(&[("owner", "john"), ("purpose", "copy")], true),
            own_policy: Some(Some(serde_json::json!({"Version": "old"}))),
            attached: vec![
                OWN.into(),
                "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            ],
        };
        let changes = plan(&current, &wanted()).unwrap();
        assert!(matches!(steps(&changes)[0], Step::PublishPolicyVersion(_)));
        assert_eq!(
            steps(&changes)[1],
            &Step::TagUser(vec![tag("owner", "jane").unwrap()])
        );
        let drift: Vec<_> = changes
            .iter()
            .filter(|c| c.effect == Effect::Drift)
            .collect();
        assert_eq!(drift.len(), 1);
        assert!(drift[0].why.contains("detach-user-policy"));
    }

    #[test]
    fn a_foreign_user_is_refused_unless_adopted() {
        let current = Current {
            user: user(&[], false),
            ..Current::default()
        };
        assert!(matches!(
            plan(&current, &wanted()),
            Err(Error::ForeignUser { .. })
        ));
        let adopt = Wanted {
            adopt: true,
            ..wanted()
        };
        let changes = plan(&current, &adopt).unwrap();
        assert!(matches!(steps(&changes)[1], Step::TagUser(tags) if tags.len() == 2));
    }

    #[test]
    fn a_policy_of_the_callers_choice_is_neither_created_nor_versioned() {
        let external = Wanted {
            own_document: None,
            policy_arn: PolicyArn::parse(
                "policy",
                "arn:aws:iam::aws:policy/AmazonBedrockLimitedAccess",
            )
            .unwrap(),
            ..wanted()
        };
        let changes = plan(&Current::default(), &external).unwrap();
        assert!(
            changes
                .iter()
                .all(|c| c.resource != ResourceKind::ManagedPolicy)
        );
    }
}
