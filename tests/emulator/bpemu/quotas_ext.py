"""Service Quotas ``ListServiceQuotas`` for Amazon Bedrock (service code ``bedrock``): the applied quotas of
an account and region, over a default set that tests can change.

Control API: ``POST /_emulator/servicequotas/bedrock`` with ``{"account", "quotas": [{"name", "value",
"code"}]}`` replaces the account's Bedrock quotas (every region).
"""

from __future__ import annotations

import json
import threading

from moto.servicequotas.responses import ServiceQuotasResponse

_DEFAULT = [
    ("L-59759B4A", "On-demand model inference tokens per minute for Anthropic Claude Sonnet 4.5", 2_000_000.0),
    ("L-4A6BFAB1", "On-demand model inference requests per minute for Anthropic Claude Sonnet 4.5", 200.0),
    ("L-2DC80978", "On-demand model inference tokens per minute for Anthropic Claude Haiku 4.5", 4_000_000.0),
    ("L-A052A8F1", "On-demand model inference requests per minute for Anthropic Claude Haiku 4.5", 1_000.0),
    ("L-1F3B9A52", "Model invocation max tokens per day for Anthropic Claude Sonnet 4.5", 2_880_000_000.0),
    ("L-9B7A8C11", "On-demand model inference requests per minute for Amazon Nova Lite", 2_000.0),
]

_lock = threading.Lock()
_quotas: dict[str, list[tuple[str, str, float]]] = {}


def reset() -> None:
    with _lock:
        _quotas.clear()


def control(command: str, method: str, environ, read_body):
    if command == "servicequotas/bedrock" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        with _lock:
            _quotas[data["account"]] = [(q.get("code", f"L-{i:08X}"), q["name"], float(q["value"]))
                                        for i, q in enumerate(data["quotas"])]
        return {"set": len(data["quotas"])}
    return None


def list_service_quotas(self):
    params = json.loads(self.body or "{}")
    if params.get("ServiceCode") != "bedrock":
        return json.dumps({"Quotas": []})
    with _lock:
        quotas = _quotas.get(self.current_account, _DEFAULT)
    page = int(params.get("MaxResults") or 100)
    start = int(params.get("NextToken") or 0)
    chosen = quotas[start:start + page]
    answer = {"Quotas": [
        {"ServiceCode": "bedrock", "ServiceName": "Amazon Bedrock", "QuotaCode": code, "QuotaName": name,
         "QuotaArn": f"arn:aws:servicequotas:{self.region}:{self.current_account}:bedrock/{code}",
         "Value": value, "Unit": "None", "Adjustable": True, "GlobalQuota": False}
        for code, name, value in chosen
    ]}
    if start + page < len(quotas):
        answer["NextToken"] = str(start + page)
    return json.dumps(answer)


def install() -> None:
    ServiceQuotasResponse.list_service_quotas = list_service_quotas
