//! Every operation the product offers, declared once ([`OPERATIONS`], in `catalog`): its tool name,
//! title, description, toolset, access class, whether a repeat changes nothing more, its CLI command, its
//! line in the README, and its [`Handler`]: its input and output types and the function that runs it.
//! The MCP tools (schemas, annotations, calls), the modes and toolsets that offer them, the README's tool
//! table, the bundle's tool list and the CLI commands of operations without a hand-written one all follow
//! from it.

mod arguments;
mod catalog;
mod mutations;
mod runs;
mod schema;

pub use arguments::{parse, structured};
pub use catalog::OPERATIONS;
pub use mutations::{Mutation, mutate};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::{
    audit::{Audited, Effects},
    core::{Error, Provisioner, fleet::Progress},
    mode::AccessMode,
};

/// A tool call's JSON arguments or a schema.
pub type JsonObject = Map<String, Value>;

/// What an adapter hands an operation besides its arguments.
pub struct Call<'a> {
    /// The core the operation runs on.
    pub core: &'a Provisioner,
    /// The access mode of the adapter (a fleet apply prunes only in admin mode).
    pub mode: AccessMode,
    /// Told `(done, total, line)` as a long operation goes (a fleet's units, diagnose's checks).
    pub progress: &'a Progress<'a>,
    /// Cancelled when the caller no longer wants the result: a fleet run starts no further unit.
    pub stop: CancellationToken,
}

/// How an operation runs: its arguments parsed into its input type (an error names the field at its
/// path), the function called, its report as JSON with what it changed.
pub type Run = for<'a> fn(Call<'a>, JsonObject) -> BoxFuture<'a, Result<Reported, Error>>;

/// A finished operation's report: as JSON for the adapters, and what it created and deleted, read from
/// the typed report for the audit log.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The report, as the MCP tool returns it and `--output json` prints it.
    pub json: Value,
    /// What the call created and deleted.
    pub effects: Effects,
}

impl Reported {
    /// The report of `output`.
    pub fn of<T: serde::Serialize + Audited>(output: &T) -> Result<Self, Error> {
        Ok(Self {
            json: structured(output)?,
            effects: output.effects(),
        })
    }
}

impl Audited for Reported {
    fn effects(&self) -> Effects {
        self.effects.clone()
    }
}

impl serde::Serialize for Reported {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// An operation's input and output types, as the schemas of what it accepts and what it writes (shared:
/// the MCP tool and the CLI's flags hold the same copy).
#[derive(Debug, Clone)]
pub struct Schemas {
    /// What the input accepts (JSON Schema 2020-12, the type's name and doc removed, compacted: no
    /// `$ref`s, no `null` for optional members, enums as `enum`).
    pub input: Arc<JsonObject>,
    /// What the output writes.
    pub output: Arc<JsonObject>,
}

/// The schemas of input `I` and output `O`.
pub fn schemas<I: JsonSchema, O: JsonSchema>() -> Schemas {
    Schemas {
        input: Arc::new(schema::compact(&root_schema::<I>(
            SchemaSettings::draft2020_12(),
        ))),
        output: Arc::new(root_schema::<O>(
            SchemaSettings::draft2020_12().for_serialize(),
        )),
    }
}

fn root_schema<T: JsonSchema>(settings: SchemaSettings) -> JsonObject {
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    object.remove("title");
    object.remove("description");
    object
}

/// How an operation is run: made by `handler!` from its input and output types and its function.
#[derive(Debug, Clone, Copy)]
pub struct Handler {
    /// Its input's and output's schemas.
    pub schemas: fn() -> Schemas,
    /// The call.
    pub run: Run,
}

/// A [`Handler`] from a core method (`core.list_api_keys`) or a function of a [`Call`] and the input
/// (`runs::diagnose`), with its input and output types: `handler!(core.query_costs, QueryCostsInput =>
/// CostReport)`.
macro_rules! handler {
    (core.$method:ident, $input:ty => $output:ty) => {{
        async fn via_core(
            call: $crate::operations::Call<'_>,
            input: $input,
        ) -> Result<$output, $crate::core::Error> {
            call.core.$method(&input).await
        }
        handler!(via_core, $input => $output)
    }};
    ($function:path, $input:ty => $output:ty) => {{
        fn run(
            call: $crate::operations::Call<'_>,
            arguments: $crate::operations::JsonObject,
        ) -> futures::future::BoxFuture<'_, Result<$crate::operations::Reported, $crate::core::Error>>
        {
            Box::pin(async move {
                let input: $input = $crate::operations::parse(arguments)?;
                let output: $output = $function(call, input).await?;
                $crate::operations::Reported::of(&output)
            })
        }
        $crate::operations::Handler {
            schemas: $crate::operations::schemas::<$input, $output>,
            run,
        }
    }};
}
use handler;

/// A group of tools offered or left out together (`--toolsets`), so an agent pays in context only for
/// the tools its job needs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Toolset {
    /// Business units: their IAM users.
    Units,
    /// Bedrock API keys.
    Keys,
    /// Spend: the bill, tags, budgets, usage within minutes and caps.
    Costs,
    /// Fleets: many units from one manifest, and key sweeps.
    Fleet,
    /// Diagnosis and proof of access.
    Diagnose,
}

impl Toolset {
    /// Every toolset, in the order the README lists them.
    pub const ALL: [Self; 5] = [
        Self::Units,
        Self::Keys,
        Self::Costs,
        Self::Fleet,
        Self::Diagnose,
    ];

    /// The name used on the command line and in the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Units => "units",
            Self::Keys => "keys",
            Self::Costs => "costs",
            Self::Fleet => "fleet",
            Self::Diagnose => "diagnose",
        }
    }
}

/// Toolsets from a comma-separated list of their names (`all` for every one), e.g. `units,keys`: the
/// `--toolsets` flag and `BEDROCK_PROVISIONER_TOOLSETS`. An empty or unknown name is refused, naming it
/// and the names allowed.
pub fn parse_toolsets(list: &str) -> Result<Vec<Toolset>, String> {
    let mut toolsets = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name == "all" {
            toolsets.extend(Toolset::ALL);
            continue;
        }
        let toolset = Toolset::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown toolset `{name}`: give a comma-separated list of units, keys, costs, \
                     fleet, diagnose, or all"
                )
            })?;
        toolsets.push(toolset);
    }
    toolsets.sort_unstable();
    toolsets.dedup();
    Ok(toolsets)
}

/// What an operation may do to AWS; decides which [`AccessMode`] offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Creates or changes, never destroys.
    Write,
    /// May destroy or overwrite something that cannot be had back.
    Destructive,
}

impl Access {
    /// Whether the operation reads only.
    pub fn read_only(self) -> bool {
        self == Self::Read
    }

    /// Whether the operation may destroy something.
    pub fn destructive(self) -> bool {
        self == Self::Destructive
    }

    /// The least access mode that offers the operation.
    pub fn least_mode(self) -> AccessMode {
        match self {
            Self::Read => AccessMode::ReadOnly,
            Self::Write => AccessMode::Provision,
            Self::Destructive => AccessMode::Admin,
        }
    }
}

/// One operation, as every adapter and document sees it.
#[derive(Debug)]
pub struct Operation {
    /// The MCP tool's name.
    pub name: &'static str,
    /// A short title for people (the tool's `title` annotation).
    pub title: &'static str,
    /// What a model reads: what it does and the rules it needs to call it right.
    pub description: &'static str,
    /// The toolset it belongs to.
    pub toolset: Toolset,
    /// What it may do to AWS.
    pub access: Access,
    /// Whether repeating a call with the same arguments changes nothing more.
    pub idempotent: bool,
    /// The CLI command that runs it (`fleet plan` for a subcommand of a group).
    pub cli: &'static str,
    /// Its line in the README's tool table.
    pub summary: &'static str,
    /// The arguments of a call that succeeds on an account with one unit, `web`, provisioned with one
    /// key, and usage logging on; for an operation that can change AWS, a dry run. Every example is run by a test that checks
    /// its report against the output schema and that it changed nothing (required of every read-only
    /// operation, so a new one is tested by declaring it). `None` where no fixed call can succeed
    /// (`revoke_key` names a key id; `apply_fleet`'s dry run is `plan_fleet`).
    pub example: Option<&'static str>,
    /// Its types and its call.
    pub handler: Handler,
}

impl Operation {
    /// The operation named `name`, if there is one.
    pub fn find(name: &str) -> Option<&'static Self> {
        OPERATIONS.iter().find(|operation| operation.name == name)
    }

    /// Its schemas, generated on first use and kept for the process: the MCP tool and the CLI command of
    /// an operation share one copy, and an operation no adapter asks for costs nothing at start-up.
    pub fn schemas(&self) -> Schemas {
        static GENERATED: OnceLock<Vec<OnceLock<Schemas>>> = OnceLock::new();
        let slots = GENERATED.get_or_init(|| OPERATIONS.iter().map(|_| OnceLock::new()).collect());
        let slot = OPERATIONS
            .iter()
            .position(|operation| operation.name == self.name)
            .and_then(|index| slots.get(index));
        match slot {
            Some(slot) => slot.get_or_init(self.handler.schemas).clone(),
            None => (self.handler.schemas)(),
        }
    }

    /// Whether a server in `mode` with `toolsets` offers it.
    pub fn offered(&self, mode: AccessMode, toolsets: &[Toolset]) -> bool {
        mode.allows(self.access.read_only(), self.access.destructive())
            && toolsets.contains(&self.toolset)
    }
}

/// The README's tool table, generated from [`OPERATIONS`] (between the README's `tools` markers).
pub fn readme_table() -> String {
    let mut table = String::from(
        "| Tool | CLI | Least mode | Toolset | What it does |\n|---|---|---|---|---|\n",
    );
    for operation in OPERATIONS {
        table.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            operation.name,
            operation.cli,
            operation.access.least_mode().as_str(),
            operation.toolset.as_str(),
            operation.summary
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_toolset_has_operations() {
        let mut names: Vec<_> = OPERATIONS.iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPERATIONS.len());
        for toolset in Toolset::ALL {
            assert!(
                OPERATIONS.iter().any(|o| o.toolset == toolset),
                "{toolset:?}"
            );
        }
    }

    #[test]
    fn toolset_lists_parse_and_refuse_unknown_names() {
        assert_eq!(
            parse_toolsets("keys, units,keys").unwrap(),
            [Toolset::Units, Toolset::Keys]
        );
        assert_eq!(parse_toolsets("all").unwrap(), Toolset::ALL);
        let refused = parse_toolsets("units,spend").unwrap_err();
        assert!(refused.contains("`spend`"), "{refused}");
        assert!(parse_toolsets("").is_err());
    }

    #[test]
    fn offered_follows_mode_and_toolsets() {
        let revoke = Operation::find("revoke_key").unwrap();
        assert!(revoke.offered(AccessMode::Admin, &[Toolset::Keys]));
        assert!(!revoke.offered(AccessMode::Provision, &[Toolset::Keys]));
        assert!(!revoke.offered(AccessMode::Admin, &[Toolset::Units]));
        assert!(Operation::find("no_such_tool").is_none());
    }
}
