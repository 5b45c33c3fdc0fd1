//! The tool surface: every tool declares all annotations, a title, described inputs and an object output
//! schema; schemas are snapshot-tested so every change shows up in review; each mode lists exactly its tools.

use crate::common;

use bedrock_provisioner::mcp::{AccessMode, ProvisionerServer};

#[test]
fn every_tool_declares_every_annotation_and_an_object_output_schema() {
    let tools = ProvisionerServer::all_tools();
    assert!(!tools.is_empty());
    for tool in &tools {
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

#[test]
fn tool_schemas_snapshot() {
    let tools = ProvisionerServer::all_tools();
    let schemas: serde_json::Value = tools
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                serde_json::json!({
                    "description": t.description,
                    "annotations": t.annotations,
                    "inputSchema": t.input_schema,
                    "outputSchema": t.output_schema,
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    insta::assert_json_snapshot!("tool_schemas", schemas);
}

#[tokio::test]
async fn each_mode_lists_exactly_its_tools() {
    let account = common::Account::new();
    for (mode, expected) in [
        (
            AccessMode::ReadOnly,
            vec![
                "diagnose",
                "list_api_keys",
                "list_business_units",
                "query_costs",
                "verify_access",
            ],
        ),
        (
            AccessMode::Provision,
            vec![
                "create_api_key",
                "diagnose",
                "list_api_keys",
                "list_business_units",
                "provision_user",
                "query_costs",
                "rotate_key",
                "verify_access",
            ],
        ),
        (
            AccessMode::Admin,
            vec![
                "create_api_key",
                "create_budget_alert",
                "deprovision_user",
                "diagnose",
                "enable_cost_tags",
                "list_api_keys",
                "list_business_units",
                "provision_user",
                "query_costs",
                "revoke_key",
                "rotate_key",
                "verify_access",
            ],
        ),
    ] {
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

/// The `/provisioning-bedrock` skill: valid frontmatter, every tool explained, and no tool, field or value
/// the server does not have (a renamed tool or field fails here, not in an agent's session).
#[test]
fn the_skill_covers_every_tool_and_names_only_real_ones() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.claude/skills/provisioning-bedrock/SKILL.md"
    );
    let skill = std::fs::read_to_string(path).unwrap();
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

    let tools = ProvisionerServer::all_tools();
    for tool in &tools {
        assert!(
            body.contains(&format!("`{}`", tool.name)),
            "the skill does not explain `{}`",
            tool.name
        );
    }
    let schemas = serde_json::to_string(&tools).unwrap();
    let snake = regex::Regex::new(r"[a-z]+(?:_[a-z]+)+").unwrap();
    let code_spans = regex::Regex::new(r"`([^`]+)`").unwrap();
    for span in code_spans.captures_iter(body) {
        for token in snake.find_iter(&span[1]) {
            let token = token.as_str();
            assert!(
                schemas.contains(&format!("\"{token}\"")),
                "the skill names `{token}`, which no tool has (in `{}`)",
                &span[1]
            );
        }
    }
}
