//! The key lease's record, as written in its IAM tag, and the pure decision of how to finish an interrupted
//! operation (see `lease` for the protocol).

use crate::core::keys::deliver::Destination;

/// The tag on the unit's IAM user that holds the lease.
pub const LEASE_TAG: &str = "bedrock-provisioner:key-operation";

/// How far the clocks of the machines running this tool and IAM's may disagree.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Joins the ids of the keys that existed before the operation: IAM's tag-value pattern allows `+`, not `,`.
const KEY_SEPARATOR: &str = "+";

/// What the lease holder is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Creating a key.
    Create,
    /// Rotating: a new key, then (with `replace`) deleting `old`.
    Rotate {
        /// The key being replaced.
        old: Option<String>,
        /// Whether `old` is deleted once the new key is handed off.
        replace: bool,
    },
}

/// Where the new key goes, as the lease records it (a file by its name inside the unit's directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// In the result: lost with the process.
    Inline,
    /// The unit's secret.
    SecretsManager,
    /// This file name.
    File(String),
}

impl Target {
    /// The target of a destination.
    pub fn of(destination: &Destination) -> Self {
        match destination {
            Destination::Inline => Self::Inline,
            Destination::SecretsManager => Self::SecretsManager,
            Destination::File(path) => Self::File(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// A key operation in flight, as written in the lease tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Who holds the lease (random per operation).
    pub holder: String,
    /// When it started, in seconds since the epoch (this machine's clock).
    pub started: u64,
    /// What it does.
    pub operation: Operation,
    /// Where its key goes.
    pub target: Target,
    /// The ids of the keys that existed before it.
    pub before: Vec<String>,
    /// Given up by its holder after a failure: the next operation finishes it without waiting.
    pub abandoned: bool,
}

impl Intent {
    /// The tag value: `v1 <holder> <started> <op> <target> <before+…|-> <old|->`, within IAM's
    /// tag-value characters (`[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: no comma, so key ids are joined with `+`).
    pub fn to_tag_value(&self) -> String {
        let (op, old) = match &self.operation {
            Operation::Create => ("create", None),
            Operation::Rotate { old, replace } => {
                (if *replace { "replace" } else { "rotate" }, old.as_deref())
            }
        };
        let target = match &self.target {
            Target::Inline => "inline".to_owned(),
            Target::SecretsManager => "secrets_manager".to_owned(),
            Target::File(name) => format!("file:{name}"),
        };
        let before = if self.before.is_empty() {
            "-".to_owned()
        } else {
            self.before.join(KEY_SEPARATOR)
        };
        let abandoned = if self.abandoned { " abandoned" } else { "" };
        format!(
            "v1 {} {} {op} {target} {before} {}{abandoned}",
            self.holder,
            self.started,
            old.unwrap_or("-")
        )
    }

    /// The intent a tag value records, if it is one.
    pub fn parse(value: &str) -> Option<Self> {
        let parts: Vec<&str> = value.split(' ').collect();
        let abandoned = match parts.get(7) {
            None => false,
            Some(&"abandoned") if parts.len() == 8 => true,
            Some(_) => return None,
        };
        let ["v1", holder, started, op, target, before, old] = parts[..7.min(parts.len())] else {
            return None;
        };
        if !is_holder(holder) || !is_key_id(old) {
            return None;
        }
        let old = (old != "-").then(|| old.to_owned());
        let operation = match op {
            "create" => Operation::Create,
            "rotate" => Operation::Rotate {
                old,
                replace: false,
            },
            "replace" => Operation::Rotate { old, replace: true },
            _ => return None,
        };
        let target = match target {
            "inline" => Target::Inline,
            "secrets_manager" => Target::SecretsManager,
            other => Target::File(other.strip_prefix("file:")?.to_owned()),
        };
        let before: Vec<String> = before
            .split(KEY_SEPARATOR)
            .filter(|id| *id != "-" && !id.is_empty())
            .map(str::to_owned)
            .collect();
        if !before.iter().all(|id| is_key_id(id)) || before.len() > MAX_KEYS {
            return None;
        }
        Some(Self {
            holder: holder.to_owned(),
            started: started.parse().ok()?,
            operation,
            target,
            before,
            abandoned,
        })
    }

    /// Whether the lease can be true: not dated after `now` (beyond clock skew).
    pub fn believable(&self, now: u64) -> bool {
        self.started <= now.saturating_add(CLOCK_SKEW_SECS)
    }
}

/// IAM's limit of keys per user and service: a lease never records more.
const MAX_KEYS: usize = 2;

/// A holder this tool writes: `<pid hex>.<nanos hex>-<nanos hex>`.
fn is_holder(holder: &str) -> bool {
    let Some((token, op)) = holder.split_once('-') else {
        return false;
    };
    let Some((pid, start)) = token.split_once('.') else {
        return false;
    };
    let hex =
        |part: &str| (1..=16).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit());
    hex(pid) && hex(start) && hex(op)
}

/// `-` or a service-specific credential id (`ACCA…`, 20-128 of `[\w]`).
fn is_key_id(id: &str) -> bool {
    id == "-"
        || ((20..=128).contains(&id.len())
            && id.starts_with("ACCA")
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// What finishing an interrupted operation does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Keys to delete: created by it, never handed off (at most one).
    pub delete: Vec<String>,
    /// The key it handed off, which stays.
    pub kept: Option<String>,
    /// Keys it may have created that stay because deleting them is not proven safe.
    pub spared: Vec<String>,
}

/// A key of the user as recovery sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySeen {
    /// Its id.
    pub id: String,
    /// When IAM created it, in seconds since the epoch.
    pub created: u64,
}

/// How to finish `intent`, given the user's keys now, the keys the unit's destinations hold (its secret and
/// its key files) and the lease time. Only a key that did not exist before the lease, was created within
/// its window, and that no destination holds is an orphan; more than one such key is not what one
/// operation leaves (it creates one), so none is deleted. Keys that existed before are never deleted here,
/// the old key of an interrupted `replace` included: re-running the rotation finishes it.
pub fn plan_recovery(
    intent: &Intent,
    keys: &[KeySeen],
    delivered: &[String],
    lease_secs: u64,
) -> Recovery {
    let from = intent.started.saturating_sub(CLOCK_SKEW_SECS);
    let until = intent.started.saturating_add(lease_secs + CLOCK_SKEW_SECS);
    let created: Vec<&KeySeen> = keys
        .iter()
        .filter(|k| !intent.before.contains(&k.id))
        .collect();
    let kept = created
        .iter()
        .find(|k| delivered.contains(&k.id))
        .map(|k| k.id.clone());
    let (orphans, spared): (Vec<&KeySeen>, Vec<&KeySeen>) = created
        .into_iter()
        .filter(|k| !delivered.contains(&k.id))
        .partition(|k| (from..=until).contains(&k.created));
    let mut spared: Vec<String> = spared.into_iter().map(|k| k.id.clone()).collect();
    let delete = if orphans.len() == 1 {
        vec![orphans[0].id.clone()]
    } else {
        spared.extend(orphans.into_iter().map(|k| k.id.clone()));
        Vec::new()
    };
    Recovery {
        delete,
        kept,
        spared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;
    const OLD: &str = "ACCAOLDOLDOLDOLDOLD01";
    const NEW: &str = "ACCANEWNEWNEWNEWNEW02";
    const OTHER: &str = "ACCAOTHEROTHEROTHER03";
    const HOLDER: &str = "1a2b.3c4d-5e6f";

    fn intent(operation: Operation, before: &[&str]) -> Intent {
        Intent {
            holder: HOLDER.into(),
            started: T0,
            operation,
            target: Target::File("web.env".into()),
            before: before.iter().map(|s| (*s).to_owned()).collect(),
            abandoned: false,
        }
    }

    fn key(id: &str, created: u64) -> KeySeen {
        KeySeen {
            id: id.into(),
            created,
        }
    }

    fn replace() -> Operation {
        Operation::Rotate {
            old: Some(OLD.into()),
            replace: true,
        }
    }

    #[test]
    fn the_tag_value_round_trips_within_iams_characters() {
        let mut abandoned = intent(replace(), &[OLD, OTHER]);
        abandoned.abandoned = true;
        for i in [
            intent(Operation::Create, &[]),
            intent(replace(), &[OLD, OTHER]),
            abandoned,
        ] {
            let value = i.to_tag_value();
            assert!(value.len() <= 256);
            assert!(
                value
                    .chars()
                    .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
                "{value}"
            );
            assert_eq!(Intent::parse(&value), Some(i));
        }
        assert_eq!(Intent::parse("someone else's tag"), None);
    }

    #[test]
    fn a_forged_or_malformed_lease_is_not_believed() {
        for forged in [
            "v1 evil-1 0 create inline - -",
            "v1 1a.2b-3c 0 create inline ACCA1 -",
            "v1 1a.2b-3c 0 create inline - - abandoned extra",
            &format!("v1 1a.2b-3c 0 create inline {OLD}+{NEW}+{OTHER} -"),
        ] {
            assert_eq!(Intent::parse(forged), None, "{forged}");
        }
        let future = Intent::parse(&format!("v1 {HOLDER} 99999999999 create inline - -")).unwrap();
        assert!(
            !future.believable(T0),
            "a lease dated in the future never blocks the unit"
        );
        assert!(intent(Operation::Create, &[]).believable(T0 + 1));
        assert!(intent(Operation::Create, &[]).believable(T0 - CLOCK_SKEW_SECS));
    }

    #[test]
    fn the_one_undelivered_key_of_the_window_goes_and_a_delivered_one_stays() {
        let create = intent(Operation::Create, &[OLD]);
        let keys = [key(OLD, T0 - 86_400), key(NEW, T0 + 2)];
        let undelivered = plan_recovery(&create, &keys, &[OLD.into()], 120);
        assert_eq!(
            undelivered.delete,
            [NEW],
            "created, never handed off: an orphan"
        );
        let delivered = plan_recovery(&create, &keys, &[NEW.into()], 120);
        assert_eq!(delivered.delete, Vec::<String>::new());
        assert_eq!(delivered.kept.as_deref(), Some(NEW));
    }

    #[test]
    fn recovery_never_deletes_a_delivered_or_older_key_or_more_than_one() {
        let forged = intent(Operation::Create, &[]);
        let keys = [key(OLD, T0 - 10_000), key(NEW, T0 + 1)];
        let in_file_and_secret = plan_recovery(&forged, &keys, &[OLD.into(), NEW.into()], 120);
        assert!(
            in_file_and_secret.delete.is_empty(),
            "{in_file_and_secret:?}"
        );
        let before_the_lease = plan_recovery(&forged, &[key(OLD, T0 - 10_000)], &[], 120);
        assert!(
            before_the_lease.delete.is_empty(),
            "a key older than the lease is not its key"
        );
        let two = plan_recovery(&forged, &[key(OLD, T0 + 1), key(NEW, T0 + 2)], &[], 120);
        assert!(
            two.delete.is_empty(),
            "one operation creates one key: {two:?}"
        );
        assert_eq!(two.spared.len(), 2);
    }

    #[test]
    fn an_interrupted_replace_keeps_the_old_key_for_the_rotation_to_finish() {
        let keys = [key(OLD, T0 - 86_400), key(NEW, T0 + 2)];
        let handed_off = plan_recovery(&intent(replace(), &[OLD]), &keys, &[NEW.into()], 120);
        assert!(
            handed_off.delete.is_empty(),
            "the old key is deleted by the rotation, not here"
        );
        assert_eq!(handed_off.kept.as_deref(), Some(NEW));
        let not_handed_off = plan_recovery(&intent(replace(), &[OLD]), &keys, &[OLD.into()], 120);
        assert_eq!(
            not_handed_off.delete,
            [NEW],
            "the old key is the working one: it stays"
        );
    }
}
