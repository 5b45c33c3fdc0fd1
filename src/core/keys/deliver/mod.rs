//! Secret hand-off: a new key goes back inline, into AWS Secrets Manager, or into a 0600 file under the
//! configured key directory. With the last two, the key never enters the agent's transcript.

use std::{collections::HashMap, path::PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod file;

use file::{check_key_dir, plain_file_name, write_private_file};

use crate::core::{
    MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result, found},
    domain::names::{BusinessUnit, same_tag_key},
    domain::secret::Secret,
};

/// Where a new key goes.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    JsonSchema,
    strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Delivery {
    /// In the tool's result (the agent and its transcript see it).
    #[default]
    Inline,
    /// Into AWS Secrets Manager, secret `bedrock-provisioner/<business_unit>/bedrock-api-key`, tagged
    /// like the business unit's user; only the ARN is returned.
    SecretsManager,
    /// Into a 0600 dotenv file in the server's key directory (`--key-dir`); only the path is returned.
    File,
}

/// Environment settings a client pastes to use the key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ClientSettings {
    /// `AWS_BEARER_TOKEN_BEDROCK`: the API key, read by the AWS SDKs and Claude Code.
    #[serde(rename = "AWS_BEARER_TOKEN_BEDROCK")]
    pub aws_bearer_token_bedrock: Secret,
    /// `AWS_REGION`: the region to call Bedrock in.
    #[serde(rename = "AWS_REGION")]
    pub aws_region: String,
    /// `CLAUDE_CODE_USE_BEDROCK=1`: makes Claude Code use Bedrock.
    #[serde(rename = "CLAUDE_CODE_USE_BEDROCK")]
    pub claude_code_use_bedrock: String,
}

impl ClientSettings {
    /// Settings for `key` in `region`.
    pub fn new(key: Secret, region: &str) -> Self {
        Self {
            aws_bearer_token_bedrock: key,
            aws_region: region.to_owned(),
            claude_code_use_bedrock: "1".to_owned(),
        }
    }

    /// The dotenv file of a key; a long-term key's credential id comes first (it is not secret), so the
    /// next key operation can tell which key the file holds.
    fn dotenv(&self, credential_id: Option<&str>) -> String {
        let id = credential_id.map_or_else(String::new, |id| format!("{KEY_ID_VARIABLE}={id}\n"));
        format!(
            "{id}AWS_BEARER_TOKEN_BEDROCK={}\nAWS_REGION={}\nCLAUDE_CODE_USE_BEDROCK={}\n",
            self.aws_bearer_token_bedrock.expose(),
            self.aws_region,
            self.claude_code_use_bedrock
        )
    }
}

/// Where the key went.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Delivered {
    /// The key is here, shown once.
    Inline {
        /// The API key itself. It cannot be retrieved again.
        api_key: Secret,
        /// Ready-to-paste client settings (they contain the key).
        client_settings: ClientSettings,
    },
    /// The key is in AWS Secrets Manager (a JSON object with the client settings).
    SecretsManager {
        /// The secret's ARN.
        secret_arn: String,
        /// The secret's name.
        secret_name: String,
        /// The version holding this key.
        version_id: Option<String>,
    },
    /// The key is in a dotenv file readable only by the server's OS user.
    File {
        /// The file's absolute path.
        path: String,
    },
    /// A dry run: where the key would go.
    Planned {
        /// `inline`, the secret's name, or the file's path.
        destination: String,
    },
}

/// A validated delivery request, checked before any AWS call.
#[derive(Clone, Debug)]
pub enum Destination {
    /// Return it.
    Inline,
    /// Store it in Secrets Manager.
    SecretsManager,
    /// Write it to this path inside the key directory.
    File(PathBuf),
}

impl Destination {
    /// Where a key for `unit` would go, in words.
    pub fn describe(&self, unit: &BusinessUnit) -> String {
        match self {
            Self::Inline => "inline (in the result)".to_owned(),
            Self::SecretsManager => format!("Secrets Manager secret {}", secret_name(unit)),
            Self::File(path) => format!("file {}", path.display()),
        }
    }
}

/// The variable (in a key file, and in a secret's JSON) naming the key's credential id.
pub const KEY_ID_VARIABLE: &str = "BEDROCK_API_KEY_ID";
/// How a secret's description names the credential id of the key it holds.
const DESCRIPTION_ID_PREFIX: &str = "Bedrock API key ";

/// Name of the Secrets Manager secret of a business unit.
pub fn secret_name(unit: &BusinessUnit) -> String {
    format!("bedrock-provisioner/{unit}/bedrock-api-key")
}

impl Provisioner {
    /// Validate where a key for `unit` should go: `file_name` only with `file`, and only a plain name
    /// inside the configured key directory.
    pub fn destination(
        &self,
        unit: &BusinessUnit,
        deliver: Option<Delivery>,
        file_name: Option<&str>,
    ) -> Result<Destination> {
        match (
            deliver.unwrap_or(self.settings().default_delivery),
            file_name,
        ) {
            (Delivery::Inline, None) => Ok(Destination::Inline),
            (Delivery::SecretsManager, None) => Ok(Destination::SecretsManager),
            (Delivery::Inline | Delivery::SecretsManager, Some(_)) => Err(Error::invalid(
                "file_name",
                "is only used with `deliver: file`",
            )),
            (Delivery::File, name) => {
                let Some(dir) = &self.settings().key_dir else {
                    return Err(Error::invalid(
                        "deliver",
                        "`file` needs a key directory; start the server with --key-dir DIR \
                         (or BEDROCK_PROVISIONER_KEY_DIR)",
                    ));
                };
                // The default file is `<unit>.env`; a chosen name lives in the unit's own directory
                // (`<key_dir>/<unit>/<name>`), so one unit's key can never overwrite another's file.
                let path = match name {
                    None => dir.join(format!("{unit}.env")),
                    Some(name) => dir.join(unit.as_str()).join(plain_file_name(name)?),
                };
                check_key_dir(dir)?;
                Ok(Destination::File(path))
            }
        }
    }

    /// Hand `settings` (which hold the key) to its destination, recording the key's `credential_id`
    /// there (a long-term key's; short-term keys have none).
    pub(crate) async fn deliver(
        &self,
        unit: &BusinessUnit,
        tags: &HashMap<String, String>,
        destination: &Destination,
        settings: ClientSettings,
        credential_id: Option<&str>,
    ) -> Result<Delivered> {
        match destination {
            Destination::Inline => Ok(Delivered::Inline {
                api_key: settings.aws_bearer_token_bedrock.clone(),
                client_settings: settings,
            }),
            Destination::SecretsManager => {
                self.store_secret(unit, tags, &settings, credential_id)
                    .await
            }
            Destination::File(path) => {
                write_private_file(path, &settings.dotenv(credential_id)).await
            }
        }
    }

    /// Where a key handed off earlier is, without writing it again (inline keys are gone with their answer).
    pub(crate) async fn handed_off(
        &self,
        unit: &BusinessUnit,
        destination: &Destination,
    ) -> Result<Delivered> {
        match destination {
            Destination::Inline => Ok(Delivered::Planned {
                destination: destination.describe(unit),
            }),
            Destination::SecretsManager => {
                let name = secret_name(unit);
                let secret = self.describe_secret(&name).await?;
                Ok(Delivered::SecretsManager {
                    secret_arn: secret
                        .and_then(|s| s.arn().map(str::to_owned))
                        .unwrap_or_default(),
                    secret_name: name,
                    version_id: None,
                })
            }
            Destination::File(path) => Ok(Delivered::File {
                path: path.display().to_string(),
            }),
        }
    }

    /// The credential id of the key `destination` holds now: from the secret's description, or the file's
    /// `BEDROCK_API_KEY_ID` line. `None` for inline delivery, a missing destination, or a key without one.
    pub(crate) async fn delivered_id(
        &self,
        unit: &BusinessUnit,
        destination: &Destination,
    ) -> Result<Option<String>> {
        Ok(self
            .delivered_key(unit, destination)
            .await?
            .map(|(id, _)| id))
    }

    /// [`Self::delivered_id`], with when the destination was last written (when it says).
    pub(crate) async fn delivered_key(
        &self,
        unit: &BusinessUnit,
        destination: &Destination,
    ) -> Result<Option<(String, Option<std::time::SystemTime>)>> {
        match destination {
            Destination::Inline => Ok(None),
            Destination::SecretsManager => Ok(self
                .describe_secret(&secret_name(unit))
                .await?
                .and_then(|secret| {
                    let written = secret
                        .last_changed_date()
                        .and_then(|d| (*d).try_into().ok());
                    Some((secret.description().and_then(id_in_description)?, written))
                })),
            Destination::File(path) => {
                let written = tokio::fs::metadata(path).await.and_then(|m| m.modified());
                let text = tokio::fs::read_to_string(path).await.ok();
                Ok(text
                    .and_then(|t| id_in_dotenv(&t))
                    .map(|id| (id, written.ok())))
            }
        }
    }

    /// The key ids every destination of the unit holds: its secret, its default key file and the files of
    /// its own key directory. Recovery never deletes one of them.
    pub(crate) async fn delivered_anywhere(&self, unit: &BusinessUnit) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self
            .delivered_id(unit, &Destination::SecretsManager)
            .await?
            .into_iter()
            .collect();
        let Some(dir) = self.settings().key_dir.clone() else {
            return Ok(ids);
        };
        let mut files = vec![dir.join(format!("{unit}.env"))];
        if let Ok(mut entries) = tokio::fs::read_dir(dir.join(unit.as_str())).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                files.push(entry.path());
            }
        }
        for file in files {
            ids.extend(self.delivered_id(unit, &Destination::File(file)).await?);
        }
        Ok(ids)
    }

    /// Refuse to deliver into a secret this tool does not own: an existing secret of the predictable name
    /// that lacks the `managed-by` tag, has a resource policy, or is encrypted with a customer KMS key could
    /// be read by whoever set it up. Checked before a key is created, so a refusal leaves nothing behind.
    pub(crate) async fn check_destination(
        &self,
        unit: &BusinessUnit,
        destination: &Destination,
    ) -> Result<()> {
        if !matches!(destination, Destination::SecretsManager) {
            return Ok(());
        }
        let client = &self.clients().await.secrets_manager;
        let name = secret_name(unit);
        let Some(secret) = self.describe_secret(&name).await? else {
            return Ok(());
        };
        let policy = client
            .get_resource_policy()
            .secret_id(&name)
            .send()
            .await
            .map_err(|e| sdk_error("secretsmanager:GetResourcePolicy", e))?;
        let owned = secret.tags().iter().any(|t| {
            t.key().is_some_and(|k| same_tag_key(k, MANAGED_BY_KEY))
                && t.value() == Some(MANAGED_BY_VALUE)
        });
        let facts = SecretFacts {
            owned,
            kms_key: secret.kms_key_id(),
            has_policy: policy
                .resource_policy()
                .is_some_and(|p| !p.trim().is_empty()),
        };
        match facts.refusal() {
            None => Ok(()),
            Some(reason) => Err(Error::refused(
                "deliver",
                format!(
                    "refusing to write the key into the existing secret {}: {reason}. Inspect it \
                     (aws secretsmanager describe-secret --secret-id {0}); delete it if it is stale, or \
                     deliver to a file",
                    secret.arn().unwrap_or(&name)
                ),
            )),
        }
    }

    /// The secret of that name, or `None` when it does not exist.
    pub(crate) async fn describe_secret(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput>>
    {
        found(
            self.clients()
                .await
                .secrets_manager
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(|e| sdk_error("secretsmanager:DescribeSecret", e)),
        )
    }

    /// Store the key's client settings as the secret's value; the description names the credential id,
    /// written in the same call as the value (`UpdateSecret`), so the two never disagree.
    async fn store_secret(
        &self,
        unit: &BusinessUnit,
        tags: &HashMap<String, String>,
        settings: &ClientSettings,
        credential_id: Option<&str>,
    ) -> Result<Delivered> {
        let client = &self.clients().await.secrets_manager;
        let name = secret_name(unit);
        let value = Secret::new(
            serde_json::json!({
                KEY_ID_VARIABLE: credential_id,
                "AWS_BEARER_TOKEN_BEDROCK": settings.aws_bearer_token_bedrock.expose(),
                "AWS_REGION": settings.aws_region,
                "CLAUDE_CODE_USE_BEDROCK": settings.claude_code_use_bedrock,
            })
            .to_string(),
        );
        let description = format!(
            "{DESCRIPTION_ID_PREFIX}{} of business unit {unit} (bedrock-provisioner)",
            credential_id.unwrap_or("(short-term)")
        );
        let existing = self.describe_secret(&name).await?;
        let (arn, version_id) = if existing.is_some() {
            let out = client
                .update_secret()
                .secret_id(&name)
                .description(description)
                .secret_string(value.expose())
                .send()
                .await
                .map_err(|e| sdk_error("secretsmanager:UpdateSecret", e))?;
            (out.arn, out.version_id)
        } else {
            self.create_secret(&name, tags, &value, description).await?
        };
        tracing::info!(secret = %name, "stored Bedrock API key in Secrets Manager");
        Ok(Delivered::SecretsManager {
            secret_arn: arn.unwrap_or_default(),
            secret_name: name,
            version_id,
        })
    }
}

/// The credential id a secret's description names (`Bedrock API key ACCA… of business unit …`).
fn id_in_description(description: &str) -> Option<String> {
    let id = description
        .strip_prefix(DESCRIPTION_ID_PREFIX)?
        .split_whitespace()
        .next()?;
    id.starts_with("ACCA").then(|| id.to_owned())
}

/// The credential id a key file names.
fn id_in_dotenv(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(KEY_ID_VARIABLE)?.strip_prefix('='))
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

impl Provisioner {
    /// Create the unit's secret, tagged like its user.
    async fn create_secret(
        &self,
        name: &str,
        tags: &HashMap<String, String>,
        value: &Secret,
        description: String,
    ) -> Result<(Option<String>, Option<String>)> {
        let client = &self.clients().await.secrets_manager;
        let mut tag_list: Vec<_> = tags.iter().collect();
        tag_list.sort();
        let out = client
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(value.expose())
            .set_tags(Some(
                tag_list
                    .into_iter()
                    .map(|(k, v)| {
                        aws_sdk_secretsmanager::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| sdk_error("secretsmanager:CreateSecret", e))?;
        Ok((out.arn, out.version_id))
    }
}

/// What decides whether an existing secret may receive a key.
#[derive(Clone, Copy)]
struct SecretFacts<'a> {
    /// It carries `managed-by=bedrock-provisioner`.
    owned: bool,
    /// Its KMS key, when not Secrets Manager's default.
    kms_key: Option<&'a str>,
    /// It has a resource policy.
    has_policy: bool,
}

impl SecretFacts<'_> {
    /// Why the secret must not receive a key, if it must not.
    fn refusal(&self) -> Option<String> {
        if !self.owned {
            return Some(format!(
                "bedrock-provisioner did not create it (no {MANAGED_BY_KEY}={MANAGED_BY_VALUE} tag), and \
                 whoever did could read the key"
            ));
        }
        if self.has_policy {
            return Some(
                "it has a resource policy, which may let other principals read the key".to_owned(),
            );
        }
        match self.kms_key {
            Some(key) if key != "alias/aws/secretsmanager" => Some(format!(
                "it is encrypted with the KMS key {key}, whose key policy may let others decrypt it \
                 (bedrock-provisioner's secrets use Secrets Manager's default key)"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_owned_plain_secret_receives_a_key() {
        let owned = SecretFacts {
            owned: true,
            kms_key: None,
            has_policy: false,
        };
        assert_eq!(owned.refusal(), None);
        let default_key = SecretFacts {
            kms_key: Some("alias/aws/secretsmanager"),
            ..owned
        };
        assert_eq!(default_key.refusal(), None);
        let squatted = SecretFacts {
            owned: false,
            ..owned
        };
        assert!(squatted.refusal().unwrap().contains("did not create it"));
        let shared = SecretFacts {
            has_policy: true,
            ..owned
        };
        assert!(shared.refusal().unwrap().contains("resource policy"));
        let foreign_key = SecretFacts {
            kms_key: Some("arn:aws:kms:us-east-1:999999999999:key/abc"),
            ..owned
        };
        assert!(foreign_key.refusal().unwrap().contains("KMS key"));
    }

    #[test]
    fn file_names_cannot_leave_the_directory() {
        assert!(plain_file_name("marketing.env").is_ok());
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "a/b",
            ".env",
            "..",
            "x\0y",
            "a b",
        ] {
            assert!(plain_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
