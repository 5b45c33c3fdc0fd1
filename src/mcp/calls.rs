//! How a tool call runs: destructive calls confirmed by the user (elicitation)
//! when the client can ask, and every call of a tool that can change anything recorded in the audit log.

use std::ops::Not;

use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::ToolCallContext,
    model::{
        CallToolRequestParams, CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitResult,
        ElicitationAction, ElicitationSchema, InputRequest, InputRequests, InputRequiredResult,
        ProtocolVersion,
    },
    service::RequestContext,
};

use super::{ProvisionerServer, access, client_of, peer_of, sse::stream_peer_of, tool_error};
use crate::{
    audit::{self, Outcome},
    mode::AccessMode,
};

/// The key of the confirmation question in an input-required result.
const CONFIRM_INPUT: &str = "confirm";

/// How many times a plan that keeps changing under the user is asked about before its latest refusal is
/// returned as it is.
const ROUNDS: usize = 3;

/// What the user answers when a destructive tool asks for confirmation.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
struct Confirmation {
    /// Yes, make this change.
    confirm: bool,
}

rmcp::elicit_safe!(Confirmation);

/// The question and the plan's digest, when `response` asks for a confirmation (`confirmation_required`)
/// or for a new one (`plan_changed`).
fn asks_for_confirmation(response: &CallToolResponse) -> Option<(String, Option<String>)> {
    let CallToolResponse::Complete(result) = response else {
        return None;
    };
    let kind = tool_error::kind_of(result);
    if result.is_error != Some(true)
        || !matches!(kind.as_str(), "confirmation_required" | "plan_changed")
    {
        return None;
    }
    let question = format!("{}. Proceed?", tool_error::first_line(result));
    Some((question, tool_error::plan_digest(result)))
}

/// The input-required result that asks `question`, carrying the plan's digest as the request state.
fn input_required(question: String, digest: Option<String>) -> Result<CallToolResponse, ErrorData> {
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
    Ok(InputRequiredResult::new(Some(requests), digest).into())
}

impl ProvisionerServer {
    /// Run a call; when a destructive tool answers `confirmation_required` and the client supports
    /// elicitation, ask the user, and on their explicit yes run it again with `confirm: true` and the
    /// plan's digest, so what is applied is the plan they saw: if AWS changed in between, the new plan is
    /// asked about again (up to [`ROUNDS`] times), never applied silently. On protocol 2026-07-28 and later
    /// the question goes back as an input-required result (the client retries with the answer, the digest
    /// in the request state); on older protocols as a classic `elicitation/create` request. Also says
    /// whether the user's answer confirmed the call.
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
            let digest = request.request_state.take();
            return self.run_answered(request, &answer, digest, context).await;
        }
        let retry = request.clone();
        let call = ToolCallContext::new(self, request, context.clone());
        let mut response = self.tool_router.call(call).await?;
        let can_ask = context
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let mut confirmed = false;
        for _ in 0..ROUNDS {
            let Some((question, digest)) = asks_for_confirmation(&response).filter(|_| can_ask)
            else {
                break;
            };
            if stateless {
                return Ok((input_required(question, digest)?, confirmed));
            }
            match context.peer.elicit::<Confirmation>(question).await {
                Ok(Some(Confirmation { confirm: true })) => {
                    response = self
                        .run_confirmed(retry.clone(), digest.as_deref(), context.clone())
                        .await?;
                    confirmed = true;
                }
                Ok(_) | Err(_) => {
                    tracing::info!(tool = %retry.name, "the user did not confirm; nothing was changed");
                    break;
                }
            }
        }
        // A yes confirmed the call only if what it ran was applied: a plan that changed again (or a later
        // no) leaves a refusal, which nobody confirmed.
        let confirmed = confirmed && asks_for_confirmation(&response).is_none();
        Ok((response, confirmed))
    }

    /// A retry carrying the user's answer: run confirmed (for the plan of `digest`) on an explicit yes,
    /// else unconfirmed (which changes nothing and says so).
    async fn run_answered(
        &self,
        request: CallToolRequestParams,
        answer: &serde_json::Value,
        digest: Option<String>,
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
            let response = self
                .run_confirmed(request, digest.as_deref(), context.clone())
                .await?;
            // A plan that changed since the user saw it is asked about again.
            if let Some((question, digest)) = asks_for_confirmation(&response) {
                return Ok((input_required(question, digest)?, true));
            }
            return Ok((response, true));
        }
        tracing::info!(tool = %request.name, "the user did not confirm; nothing was changed");
        let call = ToolCallContext::new(self, request, context);
        Ok((self.tool_router.call(call).await?, false))
    }

    /// Run the call again with `confirm: true`, for the plan of `digest` when there is one.
    async fn run_confirmed(
        &self,
        request: CallToolRequestParams,
        digest: Option<&str>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut arguments = request.arguments.clone().unwrap_or_default();
        arguments.insert("confirm".to_owned(), serde_json::Value::Bool(true));
        if let Some(digest) = digest {
            arguments.insert("plan_digest".to_owned(), serde_json::json!(digest));
        }
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
        if !mutating {
            let call = ToolCallContext::new(self, request, context);
            return self.tool_router.call(call).await;
        }
        let tool = request.name.to_string();
        let arguments = audit::sanitize(request.arguments.as_ref());
        let client = client_of(&context);
        let peer = peer_of(&context);
        let stream_peer = stream_peer_of(&context);
        // Boxed: the call is a deep future, kept off the stack of the task that polls it.
        let call = Box::pin(self.call_with_confirmation(request, context));
        let (confirmed, effects) = audit::collect(call).await;
        let (response, elicited) = match confirmed {
            Ok((response, elicited)) => (Ok(response), elicited),
            Err(error) => (Err(error), false),
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
            effects,
            elicited,
            peer,
            stream_peer,
        };
        self.audit.record_call(&self.core, call).await;
        response
    }
}
