"""The emulator process: moto's WSGI app wrapped in this project's middleware and control API."""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import sys
import threading
import time
import uuid

# Load AWS managed policies (AmazonBedrockLimitedAccess, ...) so they can be attached as on AWS.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

from . import (  # noqa: E402
    access_ext, bedrock_ext, billing_ext, budget_actions, consistency, iam_ext, logging_ext, logs_ext, outputs,
    pricing_ext, quotas_ext, rules, runtime_ext, sessions_ext, tags_ext, trust_ext, validation_ext,
)
from .faults import FaultRule, FaultTable  # noqa: E402
from .protocol import describe, error_response  # noqa: E402

CONTROL_PREFIX = "/_emulator/"
# The WSGI environ key of the request's log entry (extensions may add facts to it).
LOG_ENTRY = "bpemu.log_entry"
# The request log keeps the first MAX_RECORDED requests after a reset (benches/fleet.py raises it).
MAX_RECORDED = int(os.environ.get("BPEMU_MAX_RECORDED", "10000"))

# Every extension module, in installation order: the only list of them (runtime_ext serves bedrock-runtime and
# pricing_ext the Price List API themselves, called by :meth:`Emulator.serve`, see SERVERS; consistency wraps what
# tags_ext installed, so it comes after it). Hooks, each
# optional: ``install()``; ``reset()`` for state; ``control(command, method, environ, read_body)`` for a control
# API; ``enforce(info, environ)`` to refuse a request before it is served (an error response, else None; the
# first refusal in this order answers, so the order is AWS's: authentication (sessions_ext), the input shape
# (validation_ext), authorisation (access_ext, trust_ext), then the documented rules across members (rules)).
# Every answer is then checked against its output shape (:mod:`bpemu.outputs`).
EXTENSIONS = (bedrock_ext, iam_ext, sessions_ext, validation_ext, access_ext, trust_ext, rules, billing_ext,
              budget_actions, quotas_ext, tags_ext, consistency, outputs, logging_ext, logs_ext, pricing_ext,
              runtime_ext)
# Services moto does not have, which a module answers itself: ``handles(info)`` and ``serve(environ,
# start_response, info, body)`` (WSGI).
SERVERS = (runtime_ext, pricing_ext)


class Emulator:
    """WSGI middleware: control API, request log, fault injection, per-access-key accounts."""

    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.faults = FaultTable()
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        for extension in EXTENSIONS:
            _call(extension, "install")

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(environ, start_response, path[len(CONTROL_PREFIX) :])
        body = _read_body(environ)
        info = describe(environ, body)
        if info.access_key and info.access_key.isdigit() and len(info.access_key) == 12:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = info.access_key
        entry = info.as_json()
        environ[LOG_ENTRY] = entry
        with self.lock:
            if len(self.requests) < MAX_RECORDED:
                self.requests.append(entry)

        start_response = _recording(start_response, entry)
        for extension in EXTENSIONS:
            denied = _call(extension, "enforce", info, environ)
            if denied is not None:
                return _answer(start_response, denied)
        rule = self.faults.take(info)
        if rule is None:
            return _answer(start_response, self.serve(environ, info, body))
        entry["fault"] = rule.kind
        if rule.kind in ("reached", "stall"):
            return self.late(environ, start_response, info, body, rule, entry)
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        error = rule.error_for(info.service)
        if error is not None:
            return _answer(start_response, error_response(info.service, *error))
        return _answer(start_response, self.serve(environ, info, body))

    def serve(self, environ, info, body: bytes) -> tuple[str, list, bytes]:
        """The AWS answer, in full: bedrock-runtime and the Price List from their modules (:data:`SERVERS`),
        everything else from moto and its extensions; then checked against the operation's output shape
        (:mod:`bpemu.outputs`)."""
        server = next((module for module in SERVERS if module.handles(info)), None)
        if server is not None:
            answer = _captured(lambda start: server.serve(environ, start, info, body))
        else:
            answer = _captured(lambda start: self.moto(environ, start))
        return outputs.checked(environ, info, answer)

    def late(self, environ, start_response, info, body: bytes, rule: FaultRule, entry: dict):
        """Serve the request (AWS carried it out), wait ``latency_ms``, then answer: "stall" the real answer,
        "reached" the rule's error or, with ``drop``, no answer at all (see :mod:`bpemu.faults`)."""
        answer = self.serve(environ, info, body)
        entry["reached_status"] = int(answer[0].split(" ", 1)[0])
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if rule.kind == "stall":
            return _answer(start_response, answer)
        if rule.drop:
            entry["dropped"] = True
            _drop_connection(environ)
        return _answer(start_response, error_response(info.service, *rule.error_for(info.service)))

    def control(self, environ, start_response, command: str):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if command == "health":
                return _json(start_response, {"ok": True})
            if command == "reset" and method == "POST":
                self.reset()
                return _json(start_response, {"reset": True})
            if command == "faults" and method == "POST":
                self.faults.add(FaultRule.from_json(json.loads(_read_body(environ) or b"{}")))
                return _json(start_response, {"added": True})
            if command == "faults" and method == "DELETE":
                from urllib.parse import parse_qs

                only = parse_qs(environ.get("QUERY_STRING", "")).get("access_key", [None])[0]
                self.faults.clear(only)
                return _json(start_response, {"cleared": True})
            if command == "requests" and method == "GET":
                from urllib.parse import parse_qs

                wanted = parse_qs(environ.get("QUERY_STRING", "")).get("access_key", [None])[0]
                with self.lock:
                    seen = [r for r in self.requests if wanted is None or r["access_key"] == wanted]
                return _json(start_response, {"requests": seen})
            for extension in EXTENSIONS:
                answer = _call(extension, "control", command, method, environ, _read_body)
                if answer is not None:
                    return _json(start_response, answer)
        except (ValueError, KeyError, TypeError) as error:
            return _json(start_response, {"error": str(error)}, "400 Bad Request")
        return _json(start_response, {"error": f"unknown control {method} {command}"}, "404 Not Found")

    def reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        self.faults.clear()
        for extension in EXTENSIONS:
            _call(extension, "reset")
        with self.lock:
            self.requests.clear()


def _answer(start_response, response: tuple[str, list, bytes]):
    """Send a (status line, headers, body) response, with its Content-Length."""
    status_line, headers, payload = response
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    start_response(status_line, headers + [("Content-Length", str(len(payload)))])
    return [payload]


def _captured(app) -> tuple[str, list, bytes]:
    """The whole answer of the WSGI `app` (called with a ``start_response``): status line, headers, body."""
    seen: dict = {"written": []}

    def start(status_line, headers, exc_info=None):
        seen["status"], seen["headers"] = status_line, list(headers)
        return seen["written"].append

    result = app(start)
    try:
        body = b"".join(seen["written"]) + b"".join(result)  # a streamed answer is produced in full
    finally:
        if hasattr(result, "close"):
            result.close()
    return seen["status"], seen["headers"], body


def _drop_connection(environ) -> None:
    """Close the client's connection without an answer.

    Werkzeug's development server passes its socket as ``werkzeug.socket``; shutting it down and raising a
    ``ConnectionError`` before ``start_response`` makes the server treat the request as a dropped connection
    (``WSGIRequestHandler.run_wsgi`` catches it and writes nothing), so no status line ever reaches the client.
    """
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("emulator fault: connection dropped after the request was served")


def _call(extension, name: str, *args):
    """Call ``extension.name(*args)`` when the extension has that hook, else None."""
    hook = getattr(extension, name, None)
    return hook(*args) if hook is not None else None


def _recording(start_response, entry: dict):
    """Wrap `start_response` so the request log also records the response status, and every answer carries
    an ``x-amzn-RequestId`` header, as AWS's do (the SDKs read the request id of an error from it)."""

    def wrapped(status_line, headers, exc_info=None):
        entry["status"] = int(status_line.split(" ", 1)[0])
        if not any(name.lower() in ("x-amzn-requestid", "x-amz-request-id") for name, _ in headers):
            headers = list(headers) + [("x-amzn-RequestId", str(uuid.uuid4()))]
        return start_response(status_line, headers, exc_info)

    return wrapped


def _read_body(environ) -> bytes:
    """Read the request body once and put it back for the next reader."""
    cached = environ.get("bpemu.body")
    if cached is not None:
        return cached
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["bpemu.body"] = body
    return body


def _json(start_response, payload: dict, status: str = "200 OK"):
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def main() -> None:
    parser = argparse.ArgumentParser(prog="serve", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one")
    parser.add_argument(
        "--watch-stdin",
        action="store_true",
        help="exit when stdin closes (used by tests, so the emulator dies with its parent)",
    )
    args = parser.parse_args()
    server = make_server(
        "127.0.0.1", args.port, Emulator(), threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"READY {server.server_port}", flush=True)
    try:
        if args.watch_stdin:
            sys.stdin.read()
        else:
            thread.join()
    except KeyboardInterrupt:
        pass
    server.shutdown()
