//! The command of an operation without a hand-written subcommand, made from its declaration: its flags
//! from its input schema (`business_unit` is `--business-unit VALUE`, a boolean a switch, a list a
//! repeatable flag, an enum its values, a required member a required flag), its arguments the operation's
//! JSON arguments (refused by the input type, naming the flag, as over MCP), its report as indented text
//! or JSON. Adding an operation to the catalog adds its command.

use clap::{Arg, ArgAction, ArgMatches, FromArgMatches, Subcommand, builder::PossibleValuesParser};
use serde_json::Value;

use super::Command;
use crate::operations::{JsonObject, OPERATIONS, Operation};

/// A subcommand: hand-written, or declared by an operation that has none.
#[derive(Debug)]
pub enum Commands {
    /// A hand-written subcommand.
    Written(Command),
    /// The command of an operation without a hand-written one.
    Declared(Invocation),
}

/// A call of a declared command: the operation and its JSON arguments.
#[derive(Debug)]
pub struct Invocation {
    /// The operation.
    pub operation: &'static Operation,
    /// Its arguments, from the flags.
    pub arguments: JsonObject,
}

/// The operations whose command is declared: those whose command no hand-written subcommand has.
fn declared() -> impl Iterator<Item = &'static Operation> {
    OPERATIONS.iter().filter(|operation| {
        let group = operation.cli.split(' ').next().unwrap_or_default();
        !Command::has_subcommand(group)
    })
}

impl FromArgMatches for Commands {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        if let Some((name, flags)) = matches.subcommand()
            && let Some(operation) = declared().find(|operation| operation.cli == name)
        {
            let arguments = arguments(operation, flags);
            return Ok(Self::Declared(Invocation {
                operation,
                arguments,
            }));
        }
        Command::from_arg_matches(matches).map(Self::Written)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for Commands {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        declared().fold(
            Command::augment_subcommands(command),
            |command, operation| command.subcommand(subcommand(operation)),
        )
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        Command::has_subcommand(name) || declared().any(|operation| operation.cli == name)
    }
}

/// How a member is given on the command line.
enum Kind {
    /// `--flag`: true when given.
    Switch,
    /// `--flag VALUE`, repeated for each item.
    List,
    /// `--flag VALUE`.
    Value,
}

fn kind(member: &Value) -> Kind {
    if has_type(member, "boolean") {
        Kind::Switch
    } else if has_type(member, "array") {
        Kind::List
    } else {
        Kind::Value
    }
}

/// Whether the member's `type` is `name` or a list holding it.
fn has_type(member: &Value, name: &str) -> bool {
    match member.get("type") {
        Some(Value::String(single)) => single == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

fn members(schema: &JsonObject) -> impl Iterator<Item = (&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn subcommand(operation: &'static Operation) -> clap::Command {
    let schema = operation.schemas().input;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut command = clap::Command::new(operation.cli).about(operation.title);
    for (name, member) in members(&schema) {
        command = command.arg(flag(name, member, required.contains(&name.as_str())));
    }
    command
}

fn flag(name: &str, member: &Value, required: bool) -> Arg {
    let mut arg = Arg::new(name.to_owned())
        .long(name.replace('_', "-"))
        .required(required);
    if let Some(help) = member.get("description").and_then(Value::as_str) {
        arg = arg.help(help.to_owned());
    }
    let values = member
        .get("enum")
        .or_else(|| member.get("items").and_then(|items| items.get("enum")));
    if let Some(Value::Array(values)) = values {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        arg = arg.value_parser(PossibleValuesParser::new(names));
    }
    match kind(member) {
        Kind::Switch => arg.action(ArgAction::SetTrue),
        Kind::List => arg.action(ArgAction::Append),
        Kind::Value => arg.action(ArgAction::Set),
    }
}

/// The JSON arguments of `operation` from its command's flags.
fn arguments(operation: &Operation, flags: &ArgMatches) -> JsonObject {
    let schema = operation.schemas().input;
    let mut arguments = JsonObject::new();
    for (name, member) in members(&schema) {
        let value = match kind(member) {
            Kind::Switch => flags.get_flag(name).then_some(Value::Bool(true)),
            Kind::List => flags.get_many::<String>(name).map(|texts| {
                let items = member.get("items").unwrap_or(&Value::Null);
                Value::Array(texts.map(|text| scalar(text, items)).collect())
            }),
            Kind::Value => flags
                .get_one::<String>(name)
                .map(|text| scalar(text, member)),
        };
        if let Some(value) = value {
            arguments.insert(name.clone(), value);
        }
    }
    arguments
}

/// A flag's text as the JSON its member takes: a number where the member is numeric and the text reads
/// as one, the text otherwise (the input type then refuses it, naming the flag).
fn scalar(text: &str, member: &Value) -> Value {
    if (has_type(member, "integer") || has_type(member, "number"))
        && let Ok(number) = text.parse::<serde_json::Number>()
    {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

/// A declared operation's report, as indented text.
impl std::fmt::Display for crate::operations::Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&text(&self.json))
    }
}

/// A report as indented text: a member per line, a list of values on one line, a list of objects item
/// by item.
pub fn text(report: &Value) -> String {
    let mut out = String::new();
    write(&mut out, report, 0);
    out
}

fn write(out: &mut String, value: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                if nested(member) {
                    out.push_str(&format!("{pad}{name}:\n"));
                    write(out, member, depth + 1);
                } else {
                    out.push_str(&format!("{pad}{name}: {}\n", inline(member)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&format!("{pad}-\n"));
                write(out, item, depth + 1);
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other))),
    }
}

/// Whether a member needs lines of its own: a non-empty object, or a list holding objects or lists.
fn nested(value: &Value) -> bool {
    match value {
        Value::Object(members) => !members.is_empty(),
        Value::Array(items) => items.iter().any(|i| i.is_object() || i.is_array()),
        _ => false,
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        Value::Object(_) => "none".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_prints_as_indented_text() {
        let report = serde_json::json!({"account": "1", "units": [{"name": "a", "tags": ["x", "y"]}],
            "notes": [], "cap": null, "count": 2});
        assert_eq!(
            text(&report),
            "account: 1\ncap: -\ncount: 2\nnotes: none\nunits:\n  -\n    name: a\n    tags: x, y\n"
        );
    }

    #[test]
    fn flags_follow_the_members_types() {
        let member = serde_json::json!({"type": ["integer", "null"]});
        assert_eq!(scalar("7", &member), serde_json::json!(7));
        assert_eq!(scalar("seven", &member), serde_json::json!("seven"));
        assert_eq!(
            scalar("7", &serde_json::json!({"type": "string"})),
            serde_json::json!("7")
        );
        assert!(matches!(
            kind(&serde_json::json!({"type": "boolean"})),
            Kind::Switch
        ));
        assert!(matches!(
            kind(&serde_json::json!({"type": ["array", "null"]})),
            Kind::List
        ));
    }
}
