//! The tool surface: every tool declares all annotations, a title, described inputs and an object output
//! schema; schemas are snapshot-tested so every change shows up in review; each mode lists exactly its tools.

use crate::common;

use bedrock_provisioner::{
    mcp::ProvisionerServer,
    mode::AccessMode,
    operations::{OPERATIONS, Operation, Toolset},
};

#[test]
fn every_tool_declares_every_annotation_and_an_object_output_schema() {
    let tools = ProvisionerServer::all_tools();
    assert!(!tools.is_empty());
    for tool in tools {
        let name = &tool.name;
        let a = tool
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no annotations"));
        assert!(
            a.title.as_deref().is_some_and(|t| !t.is_empty()),
            "{name}: title"
        );
        assert!(a.read_only_hint.is_some(), "{name}: read_only_hint");
        assert!(a.destructive_hint.is_some(), "{name}: destructive_hint");
        assert!(a.idempotent_hint.is_some(), "{name}: idempotent_hint");
        assert!(a.open_world_hint.is_some(), "{name}: open_world_hint");
        if a.read_only_hint == Some(true) {
            assert_eq!(
                a.destructive_hint,
                Some(false),
                "{name}: read-only yet destructive"
            );
        }
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 40),
            "{name}: description"
        );
        let output = tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no output schema"));
        assert_eq!(
            output.get("type").and_then(|t| t.as_str()),
            Some("object"),
            "{name}: output root"
        );
        let properties = tool
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object());
        for (field, schema) in properties.into_iter().flatten() {
            let described = schema.get("description").is_some()
                || schema.get("$ref").is_some() && tool.input_schema.get("$defs").is_some();
            assert!(described, "{name}.{field}: no description");
        }
    }
}

/// One snapshot per tool (`snapshots/integration__tool_surface__tool_<name>.snap`), so a review shows
/// which tool changed.
#[test]
fn tool_schemas() {
    for tool in ProvisionerServer::all_tools() {
        let schema = serde_json::json!({
            "description": tool.description,
            "annotations": tool.annotations,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
        });
        insta::assert_json_snapshot!(format!("tool_{}", tool.name), schema);
    }
}

/// Every tool is an operation of the catalog, in its order, and every operation's arguments are
/// deserialized into its input type before anything else: a member its input does not have is refused,
/// named, over MCP, without a call to AWS.
#[tokio::test]
async fn every_tool_is_an_operation_and_refuses_unknown_members() {
    let declared: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
    let served: Vec<&str> = ProvisionerServer::all_tools()
        .iter()
        .map(|t| t.name.as_ref())
        .collect();
    assert_eq!(declared, served);
    let account = common::Account::new();
    let client = account.mcp(AccessMode::Admin).await;
    let start = account.actions().len();
    for operation in OPERATIONS {
        let arguments = serde_json::json!({"no_such_member": 1});
        let params = rmcp::model::CallToolRequestParams::new(operation.name)
            .with_arguments(arguments.as_object().cloned().unwrap());
        let result = client.call_tool(params).await.unwrap();
        let text = format!("{:?}", result.content);
        assert_eq!(result.is_error, Some(true), "{}", operation.name);
        assert!(
            text.contains("unknown field `no_such_member`"),
            "{}: {text}",
            operation.name
        );
    }
    assert_eq!(account.distinct_actions_since(start), Vec::<String>::new());
    client.cancel().await.ok();
}

/// Every operation's example runs on an account with one unit `web`, its key and usage logging on, over MCP
/// in admin mode:
/// it succeeds, its report matches the tool's output schema, and no example (read-only, or a dry run)
/// made a mutating AWS call. A read-only operation without an example fails here, so declaring a new one
/// is enough to have it run end to end.
#[tokio::test]
async fn every_example_runs_matches_its_output_schema_and_changes_nothing() {
    let account = common::Account::new();
    let client = account.provisioned(&["web"]).await;
    common::ok(
        &common::call(
            &client,
            "create_api_key",
            serde_json::json!({"business_unit": "web"}),
        )
        .await,
    );
    let logging = serde_json::json!({"confirm": true});
    common::ok(&common::call(&client, "enable_usage_logging", logging).await);
    let start = account.actions().len();
    let tools = ProvisionerServer::all_tools();
    for operation in OPERATIONS {
        let Some(example) = operation.example else {
            assert!(
                !operation.access.read_only(),
                "{}: a read-only operation declares an example",
                operation.name
            );
            continue;
        };
        let arguments: serde_json::Value = serde_json::from_str(example).unwrap();
        let report = common::ok(&common::call(&client, operation.name, arguments).await);
        let tool = tools.iter().find(|t| t.name == operation.name).unwrap();
        let schema = serde_json::Value::Object((*tool.output_schema.clone().unwrap()).clone());
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: {errors:#?}\n{report:#}",
            operation.name
        );
        // The check can fail: the report without a member its schema requires is refused.
        let required = schema["required"].as_array().and_then(|r| r.first());
        let mut missing = report.clone();
        let removed = required
            .and_then(|name| missing.as_object_mut()?.remove(name.as_str()?))
            .is_some();
        assert!(
            removed && !validator.is_valid(&missing),
            "{}: a report without its first required member ({required:?}) passes",
            operation.name
        );
    }
    let actions = account.actions()[start..].to_vec();
    let mutations: Vec<&String> = actions.iter().filter(|a| common::is_mutation(a)).collect();
    assert!(mutations.is_empty(), "{mutations:?}");
    client.cancel().await.ok();
}

/// What an agent pays in context for the tool list: names, descriptions and input schemas as sent (compact
/// JSON), in admin mode with every toolset (at most 16,000 bytes) and per toolset (at most 6,000).
#[test]
fn tool_definitions_fit_the_context_budget() {
    let size = |tool: &rmcp::model::Tool| {
        let facing = serde_json::json!({
            "name": tool.name,
            "description": tool.description,
            "inputSchema": tool.input_schema,
        });
        serde_json::to_string(&facing).unwrap().len()
    };
    let tools = ProvisionerServer::all_tools();
    let total: usize = tools.iter().map(size).sum();
    println!(
        "model-facing tool definitions, admin mode, every toolset: {total} bytes, {} tools",
        tools.len()
    );
    for toolset in Toolset::ALL {
        let members: Vec<_> = tools
            .iter()
            .filter(|t| Operation::find(&t.name).unwrap().toolset == toolset)
            .collect();
        let bytes: usize = members.iter().map(|t| size(t)).sum();
        println!(
            "  {:9} {bytes:6} bytes, {} tools",
            toolset.as_str(),
            members.len()
        );
        assert!(bytes <= 6_000, "toolset {toolset:?}: {bytes} bytes");
    }
    assert!(total <= 16_000, "{total} bytes");
}

/// Each mode lists exactly the tools its annotations allow, as a client reads them (read-only: the tools
/// with `readOnlyHint`; provision: those without `destructiveHint`; admin: all), and refuses the others by
/// name. Each tool's annotations are pinned by its snapshot.
#[tokio::test]
async fn each_mode_lists_exactly_its_tools() {
    let account = common::Account::new();
    let annotated = |allowed: fn(&rmcp::model::ToolAnnotations) -> bool| {
        let mut names: Vec<&str> = ProvisionerServer::all_tools()
            .iter()
            .filter(|t| t.annotations.as_ref().is_some_and(allowed))
            .map(|t| t.name.as_ref())
            .collect();
        names.sort_unstable();
        names
    };
    for (mode, expected) in [
        (
            AccessMode::ReadOnly,
            annotated(|a| a.read_only_hint == Some(true)),
        ),
        (
            AccessMode::Provision,
            annotated(|a| a.destructive_hint == Some(false)),
        ),
        (AccessMode::Admin, annotated(|_| true)),
    ] {
        assert!(expected.contains(&"diagnose") && expected.contains(&"whoami"));
        let client = account.mcp(mode).await;
        let mut names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        assert_eq!(names, expected, "{mode:?}");
        for tool in ProvisionerServer::all_tools() {
            if !expected.contains(&tool.name.as_ref()) {
                let params = rmcp::model::CallToolRequestParams::new(tool.name.to_string())
                    .with_arguments(serde_json::Map::new());
                let error = client.call_tool(params).await.unwrap_err().to_string();
                assert!(
                    error.contains("is not available"),
                    "{mode:?} {}: {error}",
                    tool.name
                );
            }
        }
        client.cancel().await.ok();
    }
}

/// The `/provisioning-bedrock` skill, the plugin's `skills/provisioning-bedrock/`: valid frontmatter, a link to
/// each reference file, every tool explained in SKILL.md, EXAMPLES.md and AWS-COMMANDS.md, every diagnose check
/// in TROUBLESHOOTING.md; and in all four no tool, field or value the server does not have (a renamed tool or
/// field fails here, not in an agent's session). Read are inline code and fenced `json` blocks (tool arguments
/// and results, which must parse); a block opened with ```` ```json <tool> ```` holds that tool's arguments,
/// so each of its keys must be one of the tool's inputs. Other fenced blocks (`sh`, `python`) are the shell's
/// and AWS's vocabulary: `make plugin` checks their AWS CLI commands against botocore's models.
#[test]
fn the_skill_covers_every_tool_and_names_only_real_ones() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/skills/provisioning-bedrock");
    let read = |name: &str| {
        std::fs::read_to_string(format!("{dir}/{name}"))
            .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
    };
    let skill = read("SKILL.md");
    let (front, body) = skill
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .expect("YAML frontmatter between --- lines");
    let field = |key: &str| {
        front
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("frontmatter lacks {key}"))
    };
    assert_eq!(field("name: "), "provisioning-bedrock");
    let description = field("description: ");
    assert!(
        (1..=1024).contains(&description.len()) && !description.contains(": "),
        "description: 1-1024 characters, no `: ` (plain YAML scalar)"
    );
    let references = ["EXAMPLES.md", "TROUBLESHOOTING.md", "AWS-COMMANDS.md"];
    for reference in references {
        assert!(
            body.contains(&format!("]({reference})")),
            "SKILL.md does not link {reference}"
        );
    }
    let files: Vec<(&str, String)> = std::iter::once(("SKILL.md", body.to_owned()))
        .chain(references.map(|name| (name, read(name))))
        .collect();

    let tools = ProvisionerServer::all_tools();
    let schemas = serde_json::to_string(&tools).unwrap();
    let snake = regex::Regex::new(r"[a-z]+(?:_[a-z]+)+").unwrap();
    let code_spans = regex::Regex::new(r"`([^`]+)`").unwrap();
    for (file, text) in &files {
        if *file != "TROUBLESHOOTING.md" {
            // Every tool that can change AWS: an agent follows its rules (dry run, confirmation) from here,
            // and a reviewer finds its AWS calls. A read-only tool's description is enough to use it.
            let changing = tools
                .iter()
                .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true));
            for tool in changing {
                assert!(
                    text.contains(&format!("`{}`", tool.name)),
                    "{file} does not explain `{}`",
                    tool.name
                );
            }
        }
        let (blocks, prose) = markdown_code(text);
        let mut code: Vec<String> = code_spans
            .captures_iter(&prose)
            .map(|span| span[1].to_owned())
            .collect();
        for (info, block) in blocks {
            let mut words = info.split_whitespace();
            if words.next() != Some("json") {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(&block)
                .unwrap_or_else(|e| panic!("{file}: a ```{info} block is not JSON: {e}"));
            if let Some(name) = words.next() {
                let tool = tools
                    .iter()
                    .find(|tool| tool.name == name)
                    .unwrap_or_else(|| panic!("{file}: ```{info}: no tool `{name}`"));
                let inputs = tool
                    .input_schema
                    .get("properties")
                    .and_then(|p| p.as_object());
                let arguments = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{file}: ```{info}: the arguments are no object"));
                for key in arguments.keys() {
                    assert!(
                        inputs.is_some_and(|inputs| inputs.contains_key(key)),
                        "{file}: `{name}` has no argument `{key}`"
                    );
                }
            }
            code.push(block);
        }
        for span in &code {
            for token in snake.find_iter(span) {
                let token = token.as_str();
                assert!(
                    schemas.contains(&format!("\"{token}\"")),
                    "{file} names `{token}`, which no tool has (in `{span}`)"
                );
            }
        }
    }
    let (_, troubleshooting) = files
        .iter()
        .find(|(file, _)| *file == "TROUBLESHOOTING.md")
        .unwrap();
    for check in bedrock_provisioner::core::diagnose::CheckId::ALL {
        assert!(
            troubleshooting.contains(&format!("`{}`", check.as_str())),
            "TROUBLESHOOTING.md does not point at the diagnose check `{}`",
            check.as_str()
        );
    }
}

/// The fenced blocks of a Markdown text (info string, content), and the text outside them.
fn markdown_code(markdown: &str) -> (Vec<(String, String)>, String) {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    let mut prose = String::new();
    for line in markdown.lines() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => open = Some((info.trim().to_owned(), String::new())),
            }
        } else if let Some((_, block)) = open.as_mut() {
            block.push_str(line);
            block.push('\n');
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    assert!(open.is_none(), "a ``` block is not closed");
    (blocks, prose)
}

/// The README's tool table is generated from the operations (between the `tools` markers);
/// `UPDATE_README=1` rewrites it. The CLI has each operation's command, and the server's instructions name
/// every tool.
#[tokio::test]
async fn readme_cli_and_instructions_follow_the_tool_list() {
    use clap::CommandFactory;

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find("<!-- tools:start")
        .expect("README: no tools:start marker");
    let start = start + readme[start..].find("-->\n").unwrap() + 4;
    let end = readme
        .find("<!-- tools:end -->")
        .expect("README: no tools:end marker");
    let table = bedrock_provisioner::operations::readme_table();
    if readme[start..end] != table {
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(
                path,
                format!("{}{table}{}", &readme[..start], &readme[end..]),
            )
            .unwrap();
        } else {
            panic!(
                "README's tool table is stale: run UPDATE_README=1 cargo test --test integration -- tool_surface::readme"
            );
        }
    }
    let cli = bedrock_provisioner::cli::Cli::command();
    for operation in OPERATIONS {
        let tool = operation.name;
        // A tool is the subcommand of its name, or a subcommand of a group (`fleet plan` for `plan_fleet`).
        let found = match operation.cli.split(' ').collect::<Vec<_>>()[..] {
            // The CLI name is the tool's, or a shorter one with the tool's as an alias (`enforce`).
            [name] => cli.find_subcommand(name).is_some_and(|command| {
                let long = tool.replace('_', "-");
                name == long || command.get_all_aliases().any(|alias| alias == long)
            }),
            [group, name] => cli
                .find_subcommand(group)
                .and_then(|g| g.find_subcommand(name))
                .is_some(),
            _ => false,
        };
        assert!(found, "the CLI has no `{}` for `{tool}`", operation.cli);
    }
    let account = common::Account::new();
    let client = account.mcp(AccessMode::Admin).await;
    let instructions = client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .unwrap_or_default();
    // Every tool that can change AWS is in the workflow the instructions tell; every tool-like word they
    // use is a real tool or input.
    for operation in OPERATIONS.iter().filter(|o| !o.access.read_only()) {
        assert!(
            instructions.contains(operation.name),
            "the instructions do not mention {}",
            operation.name
        );
    }
    let inputs: Vec<String> = ProvisionerServer::all_tools()
        .iter()
        .flat_map(|t| t.input_schema.get("properties").and_then(|p| p.as_object()))
        .flat_map(|p| p.keys().cloned())
        .collect();
    let snake = regex::Regex::new(r"\b[a-z]+(?:_[a-z]+)+\b").unwrap();
    for word in snake.find_iter(&instructions).map(|m| m.as_str()) {
        assert!(
            Operation::find(word).is_some() || inputs.iter().any(|i| i == word),
            "the instructions name `{word}`, which is no tool or input"
        );
    }
    client.cancel().await.ok();
}
