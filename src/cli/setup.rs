//! What every command needs before it runs: the configuration file, the core settings by precedence
//! (flags > environment > file > defaults), and the audit log. Each failure is one message with what to do.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use super::args::{AwsArgs, Output};
use crate::{
    audit::AuditLog,
    config::{ConfigFile, EffectiveSettings},
    core::{Error, Provisioner, Settings, domain::names::parse_region, keys::deliver::Delivery},
    mode::AccessMode,
};

/// The core, the configuration file and the audit log of one run.
pub struct Context {
    /// The core service.
    pub core: Arc<Provisioner>,
    /// The configuration file (defaults when none was given).
    pub config: ConfigFile,
    /// Where the audit log is, when one is configured.
    pub audit_path: Option<PathBuf>,
    /// The audit log (a no-op unless the command writes one).
    pub audit: AuditLog,
    /// How results are printed.
    pub output: Output,
}

/// The global options a [`Context`] is built from.
pub struct Globals<'a> {
    /// How to reach AWS.
    pub aws: &'a AwsArgs,
    /// `--key-dir`.
    pub key_dir: Option<PathBuf>,
    /// `--config`.
    pub config: Option<&'a Path>,
    /// `--audit-log`.
    pub audit_log: Option<PathBuf>,
    /// `--output`.
    pub output: Output,
}

impl Context {
    /// Load the configuration, build the core settings and open the audit log when `audits` (a server, or
    /// a command that may change AWS: a read-only command must not fail on a broken audit path, which
    /// `config check` reports instead). The error is the whole message for stderr.
    pub fn new(globals: Globals<'_>, audits: bool) -> Result<Self, String> {
        let config = match globals.config.map(ConfigFile::load).transpose() {
            Ok(config) => config.unwrap_or_default(),
            Err(error) => {
                return Err(format!(
                    "{error}\n\nWhat to do: fix the file (bedrock-provisioner.example.toml documents every key), then run `config check`."
                ));
            }
        };
        let mut settings = core_settings(globals.aws, globals.key_dir, &config)?;
        config.apply(&mut settings);
        let audit_path = globals.audit_log.or_else(|| config.audit_log.clone());
        let audit = match (audits, audit_path.as_deref()) {
            (false, _) | (_, None) => AuditLog::default(),
            (true, Some(path)) => AuditLog::open(path).map_err(|error| {
                format!(
                    "--audit-log {}: {error}\n\nWhat to do: point --audit-log at a writable file path.",
                    path.display()
                )
            })?,
        };
        Ok(Self {
            core: Arc::new(Provisioner::new(settings)),
            config,
            audit_path,
            audit,
            output: globals.output,
        })
    }

    /// The access mode: flag or environment, else the configuration file, else read-only.
    pub fn mode(&self, flag: Option<AccessMode>) -> AccessMode {
        flag.or(self.config.mode).unwrap_or_default()
    }

    /// `config check`: the settings in effect, or the problems that break every command using them.
    pub fn check(&self) -> Result<EffectiveSettings, String> {
        let problems = runtime_problems(self.audit_path.as_deref(), self.core.settings());
        if !problems.is_empty() {
            return Err(format!(
                "these settings break commands that use them:\n  - {}\n\nWhat to do: fix them in the \
                 configuration file or the flags, then run `config check` again.",
                problems.join("\n  - ")
            ));
        }
        Ok(EffectiveSettings::new(
            self.mode(None),
            self.audit_path.clone(),
            self.core.settings(),
        ))
    }
}

/// Settings that pass the file's own checks but break every command that uses them.
fn runtime_problems(audit_log: Option<&Path>, settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(path) = audit_log {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            problems.push(format!(
                "audit_log {}: its directory does not exist, so every mutating command would fail",
                path.display()
            ));
        }
    }
    if settings.default_delivery == Delivery::File && settings.key_dir.is_none() {
        problems.push(
            "default_delivery = \"file\" needs key_dir (or --key-dir): every key hand-off would fail"
                .to_owned(),
        );
    }
    problems
}

/// The core settings from the flags and the file (before the file's other keys are applied): the key
/// directory (a symlink refused, then canonicalized) and the region. Errors carry what to do.
fn core_settings(
    aws: &AwsArgs,
    key_dir: Option<PathBuf>,
    config: &ConfigFile,
) -> Result<Settings, String> {
    let key_dir = key_dir.or_else(|| config.key_dir.clone());
    if key_dir
        .as_deref()
        .and_then(|dir| std::fs::symlink_metadata(dir).ok())
        .is_some_and(|meta| meta.file_type().is_symlink())
    {
        return Err(
            "--key-dir is a symlink: whoever controls its target controls where keys are written.\n\n\
             What to do: point --key-dir at the real directory (owned by the server's user, mode 0700)."
                .to_owned(),
        );
    }
    let key_dir = key_dir
        .map(std::fs::canonicalize)
        .transpose()
        .map_err(|error| {
            format!(
                "--key-dir: {error}\n\nWhat to do: create the directory (mode 0700) or point --key-dir at an existing one."
            )
        })?;
    let region = effective_region(aws.region.as_deref(), config).map_err(|error| {
        format!(
            "{error}\n\nWhat to do: {}",
            error.remediation(&super::wording::Cli)
        )
    })?;
    let mut settings = Settings {
        aws: aws.settings(),
        key_dir,
        ..Settings::default()
    };
    settings.aws.region = region;
    Ok(settings)
}

/// The region by the documented precedence, `--region` > `AWS_REGION` (or `AWS_DEFAULT_REGION`) > the
/// configuration file's `region`, each validated like the flag (`moon` and `US-EAST-1` are refused, naming
/// where they came from). `None`: the AWS profile's region, else us-east-1.
fn effective_region(flag: Option<&str>, config: &ConfigFile) -> Result<Option<String>, Error> {
    if let Some(region) = flag {
        return parse_region("--region", region).map(Some);
    }
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(region) = std::env::var(variable).ok().filter(|r| !r.is_empty()) {
            return parse_region(variable, &region).map(Some);
        }
    }
    config
        .region
        .as_deref()
        .map(|region| parse_region("region (configuration file)", region))
        .transpose()
}

/// The value of the environment variable `name` (for keys, which never go on a command line).
pub fn key_from_env(name: Option<&str>) -> Result<Option<String>, Error> {
    let Some(name) = name else { return Ok(None) };
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(Error::invalid(
            "api_key_env",
            format!("the environment variable {name} is not set (or not valid UTF-8)"),
        )),
    }
}
