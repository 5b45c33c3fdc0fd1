//! One rmcp route per operation: the call runs the operation's handler with the request's progress token
//! and cancellation, and returns its report as structured content (or the error as a tool error).

use futures::future::BoxFuture;
use rmcp::{
    ErrorData,
    handler::server::{
        router::tool::{ToolRoute, ToolRouter},
        tool::{IntoCallToolResult, ToolCallContext},
    },
    model::{CallToolResponse, CallToolResult, Tool},
};

use super::{ProvisionerServer, ToolError, declared, progress_notifier};
use crate::{
    audit::{self, Effects},
    core::Error,
    mode::AccessMode,
    operations::{Call, OPERATIONS, Operation, Toolset},
};

/// A route for every operation a server in `mode` offers with `toolsets`.
pub fn offered(mode: AccessMode, toolsets: &[Toolset]) -> ToolRouter<ProvisionerServer> {
    let mut router = ToolRouter::new();
    for (operation, tool) in OPERATIONS.iter().zip(declared::all()) {
        if operation.offered(mode, toolsets) {
            router.add_route(route(operation, tool.clone()));
        }
    }
    router
}

fn route(operation: &'static Operation, tool: Tool) -> ToolRoute<ProvisionerServer> {
    ToolRoute::new_dyn(tool, move |context| call(operation, context))
}

/// Run `operation` for one request. A read the client cancels is dropped at once (it changed nothing); a
/// change runs to its end and sees the cancellation as its stop signal (a fleet starts no further unit).
fn call<'a>(
    operation: &'static Operation,
    context: ToolCallContext<'a, ProvisionerServer>,
) -> BoxFuture<'a, Result<CallToolResponse, ErrorData>> {
    Box::pin(async move {
        let server = context.service;
        let request = context.request_context;
        let progress = progress_notifier(&request);
        let notify = |done, total, line: &str| progress(done, total, line.to_owned());
        let stop = request.ct.clone();
        let call = Call {
            core: &server.core,
            mode: server.mode,
            progress: &notify,
            stop: stop.clone(),
        };
        let run = (operation.handler.run)(call, context.arguments.unwrap_or_default());
        let result = if operation.access.read_only() {
            tokio::select! {
                result = run => result,
                () = stop.cancelled() => {
                    tracing::info!("{} cancelled by the client; in-flight reads were dropped", operation.name);
                    Err(Error::Cancelled)
                }
            }
        } else {
            run.await
        };
        match result {
            Ok(report) => {
                audit::offer(report.effects);
                Ok(CallToolResult::structured(report.json).into())
            }
            Err(error) => {
                audit::offer(Effects::of_error(&error));
                ToolError(error).into_call_tool_result()
            }
        }
    })
}
