"""bedrock-provisioner's local AWS emulator: moto server plus the actions and controls this project needs.

Control API (plain JSON over HTTP, under ``/_emulator/``):

* ``GET  /_emulator/health``   -> ``{"ok": true}`` once the server answers.
* ``POST /_emulator/reset``    -> forget every AWS resource, fault rule, recorded request and catalog change.
* ``POST /_emulator/faults``   -> add a fault rule (see :mod:`bpemu.faults`); ``DELETE`` removes them all.
* ``GET  /_emulator/requests`` -> the AWS requests seen so far: service, action, access key id, auth scheme.
  ``?access_key=K`` keeps one caller's requests. Never contains a secret or a header value.

Accounts: a request signed with a 12-digit access key id is served by the moto account of that number, so
tests sharing one emulator stay isolated from each other. ``AssumeRole`` into a role of another account (see
:mod:`bpemu.trust_ext`) returns credentials that act in the role's account.
"""
