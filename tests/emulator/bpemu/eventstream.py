"""bedrock-runtime's streamed answers, encoded as AWS event streams (``application/vnd.amazon.eventstream``).

Encoding (the AWS event stream format botocore's ``botocore.eventstream`` parses): each message is a prelude
(total length, headers length, CRC32 of those 8 bytes; big-endian 32-bit), the headers (name length as 1 byte,
name, type 7 = string, value length as 2 bytes, value), the payload, and a CRC32 of everything before it. Every
event carries ``:event-type``, ``:content-type: application/json`` and ``:message-type: event``.

Events, from the botocore ``bedrock-runtime`` model:

- ``ConverseStream`` (``ConverseStreamOutput``): ``messageStart`` ``{"role"}``, ``contentBlockDelta``
  ``{"delta": {"text"}, "contentBlockIndex"}``, ``contentBlockStop``, ``messageStop`` ``{"stopReason"}``,
  ``metadata`` ``{"usage", "metrics"}``.
- ``InvokeModelWithResponseStream`` (``ResponseStream``): ``chunk`` events whose ``bytes`` (base64 in the JSON
  payload) hold the provider's own stream events: for Anthropic the Messages API's ``message_start``,
  ``content_block_start``, ``content_block_delta``, ``content_block_stop``, ``message_delta``, ``message_stop``,
  the last with ``amazon-bedrock-invocationMetrics`` (``inputTokenCount``, ``outputTokenCount``,
  ``invocationLatency``, ``firstByteLatency``), as Bedrock sends them; for Amazon Nova the Converse-shaped events
  (``messageStart``, ``contentBlockDelta``, ``contentBlockStop``, ``messageStop``, ``metadata``).
"""

from __future__ import annotations

import base64
import binascii
import json
import struct

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def message(event_type: str, payload: dict) -> bytes:
    """One event-stream message carrying `payload` as JSON."""
    headers = b"".join(_header(name, value) for name, value in (
        (":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")))
    body = json.dumps(payload).encode()
    prelude = struct.pack("!II", 12 + len(headers) + len(body) + 4, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    whole = prelude + headers + body
    return whole + struct.pack("!I", binascii.crc32(whole) & 0xFFFFFFFF)


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value


def converse_stream(answer: dict) -> bytes:
    """A ``ConverseStream`` answer with the same text, stop reason and usage as the ``Converse`` `answer`."""
    text = answer["output"]["message"]["content"][0]["text"]
    return b"".join(message(kind, payload) for kind, payload in _converse_events(text, answer))


def _converse_events(text: str, answer: dict) -> list[tuple[str, dict]]:
    return [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"delta": {"text": text}, "contentBlockIndex": 0}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": answer["stopReason"]}),
        ("metadata", {"usage": answer["usage"], "metrics": {"latencyMs": 1}}),
    ]


def invoke_stream(provider: str, model_id: str, text: str, used: int, answered: int) -> bytes:
    """An ``InvokeModelWithResponseStream`` answer: the provider's stream events, one ``chunk`` each."""
    metrics = {"inputTokenCount": used, "outputTokenCount": answered, "invocationLatency": 1,
               "firstByteLatency": 1}
    if provider == "Anthropic":
        events = _anthropic_events(model_id, text, used, answered)
    else:
        usage = {"inputTokens": used, "outputTokens": answered, "totalTokens": used + answered}
        events = [{kind: payload} for kind, payload in _converse_events(
            text, {"stopReason": "end_turn", "usage": usage})]
    events[-1]["amazon-bedrock-invocationMetrics"] = metrics
    return b"".join(message("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()})
                    for e in events)


def _anthropic_events(model_id: str, text: str, used: int, answered: int) -> list[dict]:
    """The Anthropic Messages API stream (``bedrock-2023-05-31``) of one text block."""
    start = {"id": "msg_bdrk_emulator", "type": "message", "role": "assistant", "model": model_id, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": used, "output_tokens": 1}}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": answered}},
        {"type": "message_stop"},
    ]
