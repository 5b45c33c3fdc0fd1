//! The tools as an agent sees them, made from the operations: name, description, the annotations of the
//! operation's access class, its compact input schema and its output schema. Each schema is generated
//! once and kept once.

use std::sync::OnceLock;

use rmcp::model::{Tool, ToolAnnotations};

use crate::operations::{OPERATIONS, Operation};

/// The tool of `operation`.
pub fn declare(operation: &Operation) -> Tool {
    let schemas = operation.schemas();
    let mut tool = Tool::new(operation.name, operation.description, schemas.input);
    tool.output_schema = Some(schemas.output);
    tool.annotations = Some(
        ToolAnnotations::with_title(operation.title)
            .read_only(operation.access.read_only())
            .destructive(operation.access.destructive())
            .idempotent(operation.idempotent)
            .open_world(true),
    );
    tool
}

/// The tool of every operation, in the order of [`OPERATIONS`], computed once per process.
pub fn all() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| OPERATIONS.iter().map(declare).collect())
}
