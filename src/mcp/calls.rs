//! How a tool call runs: arguments checked first, destructive calls confirmed by the user (elicitation)
//! when the client can ask, and every call of a tool that can change anything recorded in the audit log.

use std::ops::Not;

use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::{IntoCallToolResult, ToolCallContext},
    model::{
        CallToolRequestParams, CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitResult,
        ElicitationAction, ElicitationSchema, InputRequest, InputRequests, InputRequiredResult,
        ProtocolVersion,
    },
    service::RequestContext,
};

use super::{
    ProvisionerServer, ToolError, access, arguments, client_of, peer_of, sse::stream_peer_of,
    tool_error,
};
use crate::{
    audit::{self, Outcome},
    mode::AccessMode,
};

/// The key of the confirmation question in an input-required result.
const CONFIRM_INPUT: &str = "confirm";

/// What the user answers when a destructive tool asks for confirmation.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
struct Confirmation {
    /// Yes, make this change.
    confirm: bool,
}

rmcp::elicit_safe!(Confirmation);

impl ProvisionerServer {
    /// Run a call; when a destructive tool answers `confirmation_required` and the client supports
    /// elicitation, ask the user, and on their explicit yes run it again with `confirm: true`. On
    /// protocol 2026-07-28 and later the question goes back as an input-required result (the client
    /// retries with the answer); on older protocols as a classic `elicitation/create` request.
    /// Also says whether the user's answer to the client's question confirmed the call.
    async fn call_with_confirmation(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(CallToolResponse, bool), ErrorData> {
        if let Some(answer) = request
            .input_responses
            .take()
            .and_then(|mut responses| responses.remove(CONFIRM_INPUT))
        {
            request.request_state = None;
            return self.run_answered(request, &answer, context).await;
        }
        let retry = request.clone();
        let call = ToolCallContext::new(self, request, context.clone());
        let response = self.tool_router.call(call).await?;
        let CallToolResponse::Complete(result) = &response else {
            return Ok((response, false));
        };
        let can_ask = context
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        if result.is_error != Some(true)
            || tool_error::kind_of(result) != "confirmation_required"
            || !can_ask
        {
            return Ok((response, false));
        }
        let question = format!("{}. Proceed?", tool_error::first_line(result));
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if stateless {
            let schema = ElicitationSchema::from_type::<Confirmation>()
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            let ask = InputRequest::Elicitation(ElicitRequest::new(
                ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message: question,
                    requested_schema: schema,
                },
            ));
            let requests = InputRequests::from([(CONFIRM_INPUT.to_owned(), ask)]);
            let ask = InputRequiredResult::new(Some(requests), Some(retry.name.to_string()));
            return Ok((ask.into(), false));
        }
        match context.peer.elicit::<Confirmation>(question).await {
            Ok(Some(Confirmation { confirm: true })) => {
                Ok((self.run_confirmed(retry, context).await?, true))
            }
            Ok(_) | Err(_) => {
                tracing::info!(tool = %retry.name, "the user did not confirm; nothing was changed");
                Ok((response, false))
            }
        }
    }

    /// A retry carrying the user's answer: run confirmed on an explicit yes, else unconfirmed (which
    /// changes nothing and says so).
    async fn run_answered(
        &self,
        request: CallToolRequestParams,
        answer: &serde_json::Value,
        context: RequestContext<RoleServer>,
    ) -> Result<(CallToolResponse, bool), ErrorData> {
        let yes = serde_json::from_value::<ElicitResult>(answer.clone()).is_ok_and(|r| {
            r.action == ElicitationAction::Accept
                && r.content
                    .as_ref()
                    .and_then(|c| c.get("confirm"))
                    .and_then(serde_json::Value::as_bool)
                    == Some(true)
        });
        if yes {
            return Ok((self.run_confirmed(request, context).await?, true));
        }
        tracing::info!(tool = %request.name, "the user did not confirm; nothing was changed");
        let call = ToolCallContext::new(self, request, context);
        Ok((self.tool_router.call(call).await?, false))
    }

    /// Run the call again with `confirm: true`.
    async fn run_confirmed(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut arguments = request.arguments.clone().unwrap_or_default();
        arguments.insert("confirm".to_owned(), serde_json::Value::Bool(true));
        let call = ToolCallContext::new(self, request.with_arguments(arguments), context);
        self.tool_router.call(call).await
    }

    /// Run a call, and record it in the audit log when the tool can change anything.
    pub(super) async fn audited_call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mutating = self.tool_router.get(&request.name).is_some_and(|tool| {
            access::allows(AccessMode::ReadOnly, tool.annotations.as_ref()).not()
        });
        let checked = arguments::check(&request.name, request.arguments.as_ref());
        if !mutating {
            if let Err(error) = checked {
                return ToolError(error).into_call_tool_result();
            }
            let call = ToolCallContext::new(self, request, context);
            return self.tool_router.call(call).await;
        }
        let tool = request.name.to_string();
        let arguments = audit::sanitize(request.arguments.as_ref());
        let client = client_of(&context);
        let peer = peer_of(&context);
        let stream_peer = stream_peer_of(&context);
        let (response, elicited) = match checked {
            Ok(()) => match self.call_with_confirmation(request, context).await {
                Ok((response, elicited)) => (Ok(response), elicited),
                Err(error) => (Err(error), false),
            },
            Err(error) => (ToolError(error).into_call_tool_result(), false),
        };
        let (outcome, result) = match &response {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => (
                Outcome::Error(tool_error::kind_of(result)),
                tool_error::error_data(result),
            ),
            Ok(CallToolResponse::Complete(result)) => {
                (Outcome::Ok, result.structured_content.as_ref())
            }
            Ok(_) => (Outcome::Pending, None),
            Err(error) => (Outcome::ProtocolError(error.code.0), None),
        };
        let call = audit::Call {
            client,
            tool: &tool,
            arguments,
            outcome,
            result,
            elicited,
            peer,
            stream_peer,
        };
        self.audit.record_call(&self.core, call).await;
        response
    }
}
