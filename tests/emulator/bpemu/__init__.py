"""bedrock-provisioner's local AWS emulator: moto server plus the actions and controls this project needs.

Control API (plain JSON over HTTP, under ``/_emulator/``):

* ``GET  /_emulator/health``   -> ``{"ok": true}`` once the server answers.
* ``POST /_emulator/reset``    -> forget every AWS resource, fault rule, recorded request and catalog change.
* ``POST /_emulator/faults``   -> add a fault rule (see :mod:`bpemu.faults`); ``DELETE`` removes them all.
* ``GET  /_emulator/requests`` -> the AWS requests seen so far: service, action, access key id, auth scheme.
  ``?access_key=K`` keeps one caller's requests. Never contains a secret or a header value.
* ``POST /_emulator/consistency`` ``{"stale_ms": N, "account": optional}`` -> IAM reads as of N ms ago
  (:mod:`bpemu.consistency`); ``GET`` shows the settings.
* ``POST /_emulator/output-check`` ``{"mode": "fail"|"log"}``; ``GET /_emulator/output-problems`` -> answers
  that broke their output shape (:mod:`bpemu.outputs`).
* ``GET  /_emulator/rules`` -> the documented rules across members the emulator enforces (:mod:`bpemu.rules`).
* ``POST /_emulator/bedrock-runtime/auth-errors`` ``{"error_type_header": bool}`` (:mod:`bpemu.runtime_ext`).
* ``POST /_emulator/clock`` ``{"offset_seconds"|"advance_days", "account": optional}`` (:mod:`bpemu.iam_ext`):
  the emulator's clock, for key expiry and role sessions (:mod:`bpemu.sessions_ext`), invocation log timestamps,
  Logs Insights retention and budget periods.
* ``POST /_emulator/bedrock-runtime/log-delay`` ``{"ms": N, "account": optional}`` and
  ``POST /_emulator/bedrock-runtime/log-model-id`` ``{"profile": "arn"|"id"}``: model invocation log delivery
  (:mod:`bpemu.logging_ext`).
* ``POST /_emulator/logs/query-polls`` ``{"polls": N, "account": optional}``: Logs Insights queries answer
  ``Scheduled``/``Running`` N times before ``Complete`` (:mod:`bpemu.logs_ext`; the query language:
  :mod:`bpemu.insights`).
* ``POST /_emulator/pricing/products`` ``{"products": [...], "account": optional}``, ``DELETE`` to go back to the
  seeded Claude prices: the Price List API (:mod:`bpemu.pricing_ext`).
* ``POST /_emulator/budgets/evaluate`` ``{"account"}`` and ``POST /_emulator/budgets/spend`` ``{"account",
  "budget", "amount"}``: Budgets' evaluation of spend and budget actions (:mod:`bpemu.budget_actions`).

Every request is held to its botocore input shape (:mod:`bpemu.validation_ext`) and every successful answer to
its output shape (:mod:`bpemu.outputs`).

Accounts: a request signed with a 12-digit access key id is served by the moto account of that number, so
tests sharing one emulator stay isolated from each other. ``AssumeRole`` into a role of another account (see
:mod:`bpemu.trust_ext`) returns credentials that act in the role's account.
"""
