//! A fake AWS for the core's unit tests: every SDK call reaches a script of answers by action (`ListUsers`,
//! `GetSecretValue`), each an HTTP status and a body in the service's own wire format, so the SDK's real
//! serializers, deserializers, error classification and retries run, in milliseconds and without the
//! emulator. For logic that needs no AWS behaviour beyond the answers scripted (paging, fallbacks, retries
//! and throttling); the emulator stays for contracts and the fault and crash matrices.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use aws_smithy_runtime_api::{
    client::{
        http::{HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector},
        orchestrator::{HttpRequest, HttpResponse},
    },
    http::StatusCode,
};
use aws_smithy_types::body::SdkBody;

use crate::core::{Provisioner, Settings};

/// The namespace of IAM's and STS's XML answers.
const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// One scripted answer.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    body: String,
}

#[derive(Debug, Default)]
struct Script {
    answers: HashMap<String, VecDeque<Answer>>,
    calls: Vec<String>,
    bodies: Vec<String>,
}

/// The fake: answers by action, in the order scripted; the last answer of an action repeats.
#[derive(Clone, Debug, Default)]
pub struct FakeAws(Arc<Mutex<Script>>);

impl FakeAws {
    /// Answer the next call of `action` with `status` and `body`.
    pub fn answer(&self, action: &str, status: u16, body: impl Into<String>) -> &Self {
        let answer = Answer {
            status,
            body: body.into(),
        };
        self.script()
            .answers
            .entry(action.to_owned())
            .or_default()
            .push_back(answer);
        self
    }

    /// Answer the next call of the IAM or STS `action` with a result holding `result` (XML).
    pub fn iam_ok(&self, action: &str, result: &str) -> &Self {
        let body = format!(
            "<{action}Response xmlns=\"{IAM_XMLNS}\"><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{action}Response>"
        );
        self.answer(action, 200, body)
    }

    /// Answer the next call of the IAM or STS `action` with an error of `code`.
    pub fn iam_error(&self, action: &str, status: u16, code: &str) -> &Self {
        let body = format!(
            "<ErrorResponse xmlns=\"{IAM_XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{code} (fake)</Message></Error><RequestId>fake</RequestId></ErrorResponse>"
        );
        self.answer(action, status, body)
    }

    /// Every action called so far, attempts included, in order.
    pub fn calls(&self) -> Vec<String> {
        self.script().calls.clone()
    }

    /// The request bodies of every call of `action` so far (a form for IAM and STS, JSON otherwise).
    pub fn bodies(&self, action: &str) -> Vec<String> {
        let script = self.script();
        let calls = script.calls.iter().zip(&script.bodies);
        calls
            .filter(|(a, _)| *a == action)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// A provisioner whose every AWS call reaches this fake, with the settings users get but a
    /// millisecond retry backoff (the number of attempts stays the default).
    pub fn provisioner(&self) -> Provisioner {
        let mut settings = Settings::default();
        settings.aws.region = Some("us-east-1".to_owned());
        settings.aws.static_credentials = Some(aws_credential_types::Credentials::new(
            "AKIDFAKE", "fake", None, None, "fake",
        ));
        settings.aws.initial_backoff = Duration::from_millis(1);
        settings.aws.http_client = Some(self.client());
        Provisioner::new(settings)
    }

    fn client(&self) -> SharedHttpClient {
        let fake = self.clone();
        aws_smithy_runtime_api::client::http::http_client_fn(move |_, _| {
            SharedHttpConnector::new(Connector(fake.clone()))
        })
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next(&self, action: &str, body: String, json: bool) -> Answer {
        let mut script = self.script();
        script.calls.push(action.to_owned());
        script.bodies.push(body);
        let queue = script.answers.entry(action.to_owned()).or_default();
        let answer = if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        };
        let message = format!("the fake has no answer for {action}");
        answer.unwrap_or_else(|| Answer {
            status: 400,
            body: if json {
                format!("{{\"__type\":\"NotScripted\",\"message\":\"{message}\"}}")
            } else {
                format!(
                    "<ErrorResponse><Error><Code>NotScripted</Code><Message>{message}</Message></Error>\
                     </ErrorResponse>"
                )
            },
        })
    }
}

#[derive(Debug)]
struct Connector(FakeAws);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let json = request.headers().get("x-amz-target").is_some();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        let answer = self.0.next(&action(&request), body, json);
        let status =
            StatusCode::try_from(answer.status).expect("a scripted status is an HTTP status");
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(answer.body))))
    }
}

/// The action of a request: `X-Amz-Target`'s (JSON protocols), else the form's `Action` (IAM, STS), else
/// the method and path (REST protocols).
fn action(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let body = request.body().bytes().unwrap_or_default();
    let form = String::from_utf8_lossy(body);
    form.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map_or_else(
            || format!("{} {}", request.method(), request.uri()),
            str::to_owned,
        )
}
