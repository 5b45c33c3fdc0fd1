"""Bedrock control-plane actions over a per-region model catalog that tests can change.

Control API:
- ``POST /_emulator/bedrock/catalog`` with ``{"region": "us-west-2", "models": [MODEL_ID, ...]}`` sets which
  models a region offers (an empty list: no model at all); with ``"account"`` only for that account.
- ``POST /_emulator/bedrock/availability`` with ``{"account", "model", "agreement": AVAILABLE|PENDING|
  NOT_AVAILABLE, "authorization": AUTHORIZED|NOT_AUTHORIZED, "entitlement": AVAILABLE|NOT_AVAILABLE}``
  sets what ``GetFoundationModelAvailability`` answers for one model in one account (default: all available).
- ``POST /_emulator/bedrock/use-case`` with ``{"account", "submitted": bool}``: whether the account filed
  Anthropic's use-case form (default true); ``GetUseCaseForModelAccess`` answers 404 when it did not.
- ``POST /_emulator/bedrock/page-size`` with ``{"page_size": N}`` (optionally ``"account"``): how many
  inference profiles ``ListInferenceProfiles`` returns a page at most, whatever ``maxResults`` asks
  (default :data:`PROFILE_PAGE_SIZE`, small so that clients must follow ``nextToken``, as on AWS).
The default catalog is below.

System-defined inference profiles follow AWS's cross-Region inference
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html): a source region
offers the ``global.`` profile and one per geography it belongs to (:func:`geographies`), for each model
invoked through profiles; a profile's ``models`` name the foundation model in every destination region of
the geography, and a ``global.`` profile's ARN has an empty region (``arn:aws:bedrock:::foundation-model/…``).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from urllib.parse import parse_qs

from moto.bedrock.responses import BedrockResponse

from .protocol import handler_error

_MODELS = {
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ("Claude Sonnet 4.5", "Anthropic", "INFERENCE_PROFILE"),
    "anthropic.claude-haiku-4-5-20251001-v1:0": ("Claude Haiku 4.5", "Anthropic", "INFERENCE_PROFILE"),
    "anthropic.claude-opus-4-5-20251101-v1:0": ("Claude Opus 4.5", "Anthropic", "INFERENCE_PROFILE"),
    "anthropic.claude-3-haiku-20240307-v1:0": ("Claude 3 Haiku", "Anthropic", "ON_DEMAND"),
    "amazon.nova-lite-v1:0": ("Nova Lite", "Amazon", "ON_DEMAND"),
}
_ALL = list(_MODELS)
_DEFAULT_CATALOG = {
    "us-east-1": _ALL,
    "us-west-2": _ALL,
    "eu-west-1": [m for m in _ALL if "opus" not in m],
    "ap-southeast-1": ["anthropic.claude-haiku-4-5-20251001-v1:0", "amazon.nova-lite-v1:0"],
    "eu-central-1": [m for m in _ALL if "opus" not in m],
    "ap-northeast-1": [m for m in _ALL if "opus" not in m],
    "ap-southeast-2": [m for m in _ALL if "opus" not in m],
}
# Destination regions of each geography's profiles ("global" routes to every commercial region).
_DESTINATIONS = {
    "us": ["us-east-1", "us-east-2", "us-west-2"],
    "eu": ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"],
    "apac": ["ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1",
             "ap-southeast-2", "ap-southeast-4"],
    "jp": ["ap-northeast-1", "ap-northeast-3"],
    "au": ["ap-southeast-2", "ap-southeast-4"],
    "global": [""],
}
_LABELS = {"us": "US", "eu": "EU", "apac": "APAC", "jp": "JP", "au": "AU", "global": "Global"}
PROFILE_PAGE_SIZE = 3

_catalog: dict[str, list[str]] = copy.deepcopy(_DEFAULT_CATALOG)
# account -> region -> models: per-account overrides of the catalog.
_account_catalog: dict[str, dict[str, list[str]]] = {}
# (account, model) -> availability fields
_availability: dict[tuple[str, str], dict] = {}
# accounts that have not filed the use-case form
_no_use_case: set[str] = set()
# account (or "*" for every account) -> ListInferenceProfiles page size
_page_size: dict[str, int] = {}
_lock = threading.Lock()


def reset() -> None:
    global _catalog
    with _lock:
        _catalog = copy.deepcopy(_DEFAULT_CATALOG)
        _account_catalog.clear()
        _availability.clear()
        _no_use_case.clear()
        _page_size.clear()


def control(command: str, method: str, environ, read_body):
    if command == "bedrock/catalog" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        region, models = data["region"], data["models"]
        unknown = [m for m in models if m not in _MODELS]
        if unknown:
            raise ValueError(f"unknown model ids {unknown}; known: {_ALL}")
        with _lock:
            if "account" in data:
                _account_catalog.setdefault(data["account"], {})[region] = list(models)
            else:
                _catalog[region] = list(models)
        return {"region": region, "models": models}
    if command == "bedrock/availability" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        if data["model"] not in _MODELS:
            raise ValueError(f"unknown model id {data['model']}")
        with _lock:
            _availability[(data["account"], data["model"])] = {
                "agreement": data.get("agreement", "AVAILABLE"),
                "authorization": data.get("authorization", "AUTHORIZED"),
                "entitlement": data.get("entitlement", "AVAILABLE"),
            }
        return {"set": True}
    if command == "bedrock/use-case" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        with _lock:
            if data.get("submitted", True):
                _no_use_case.discard(data["account"])
            else:
                _no_use_case.add(data["account"])
        return {"set": True}
    if command == "bedrock/page-size" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        size = int(data["page_size"])
        if size < 1:
            raise ValueError("page_size must be at least 1")
        with _lock:
            _page_size[data.get("account", "*")] = size
        return {"page_size": size}
    if command == "bedrock/catalog" and method == "GET":
        with _lock:
            return {"catalog": copy.deepcopy(_catalog)}
    return None


def _models_in(region: str, account: str = "") -> list[str]:
    with _lock:
        overrides = _account_catalog.get(account, {})
        return list(overrides[region] if region in overrides else _catalog.get(region, []))


def _summary(region: str, model_id: str) -> dict:
    name, provider, inference = _MODELS[model_id]
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": name,
        "providerName": provider,
        "inputModalities": ["TEXT", "IMAGE"] if provider == "Anthropic" else ["TEXT"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": [],
        "inferenceTypesSupported": [inference],
        "modelLifecycle": {"status": "ACTIVE"},
    }


def list_foundation_models(self):
    provider = self._get_param("byProvider") or self.querystring.get("byProvider", [None])[0]
    models = [
        _summary(self.region, m)
        for m in _models_in(self.region, self.current_account)
        if provider is None or _MODELS[m][1].lower() == provider.lower()
    ]
    return json.dumps({"modelSummaries": models})


def _model_id_from_path(self) -> str:
    from urllib.parse import unquote

    return unquote(self.path.rstrip("/").rsplit("/", 1)[-1])


def get_foundation_model(self):
    model_id = _model_id_from_path(self)
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    if model_id not in _models_in(self.region, self.current_account):
        return handler_error(
            "ResourceNotFoundException", f"The model {model_id} does not exist in {self.region}.", 404
        )
    return json.dumps({"modelDetails": _summary(self.region, model_id)})


def geographies(region: str) -> list[str]:
    """The cross-region inference geographies a source region belongs to, ``global`` last."""
    if region in ("ap-northeast-1", "ap-northeast-3"):
        regional = ["jp", "apac"]
    elif region in ("ap-southeast-2", "ap-southeast-4"):
        regional = ["au", "apac"]
    else:
        regional = {"us": ["us"], "ca": ["us"], "eu": ["eu"], "ap": ["apac"]}.get(region.split("-")[0], [])
    return regional + ["global"]


def _profile(region: str, account: str, geography: str, model_id: str) -> dict:
    name, provider, _ = _MODELS[model_id]
    profile_id = f"{geography}.{model_id}"
    return {
        "inferenceProfileName": f"{_LABELS[geography]} {provider} {name}",
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{account}:inference-profile/{profile_id}",
        "inferenceProfileId": profile_id,
        "models": [
            {"modelArn": f"arn:aws:bedrock:{destination}::foundation-model/{model_id}"}
            for destination in _DESTINATIONS[geography]
        ],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def _profiles(self) -> list[dict]:
    return [
        _profile(self.region, self.current_account, geography, model_id)
        for model_id in _models_in(self.region, self.current_account)
        if _MODELS[model_id][2] == "INFERENCE_PROFILE"
        for geography in geographies(self.region)
    ]


def _profile_page_size(account: str) -> int:
    with _lock:
        return _page_size.get(account, _page_size.get("*", PROFILE_PAGE_SIZE))


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"profiles:{offset}".encode()).decode()


def _offset(token: str | None) -> int | None:
    """The offset a ``nextToken`` of ours stands for (0 without one), None for anything else."""
    if token is None:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(offset) if kind == "profiles" else None
    except ValueError:
        return None


def list_inference_profiles(self):
    query = parse_qs(self.parsed_url.query)
    wanted = query.get("type", [None])[0]
    profiles = [p for p in _profiles(self) if wanted in (None, p["type"])]
    start = _offset(query.get("nextToken", [None])[0])
    if start is None or start > len(profiles):
        return handler_error("ValidationException", "The nextToken is invalid.")
    asked = int(query.get("maxResults", [1000])[0])
    end = start + min(asked, _profile_page_size(self.current_account))
    answer: dict = {"inferenceProfileSummaries": profiles[start:end]}
    if end < len(profiles):
        answer["nextToken"] = _token(end)
    return json.dumps(answer)


def get_inference_profile(self):
    wanted = _model_id_from_path(self)
    for profile in _profiles(self):
        if wanted in (profile["inferenceProfileId"], profile["inferenceProfileArn"]):
            return json.dumps(profile)
    return handler_error("ResourceNotFoundException", f"Inference profile {wanted} not found.", 404)


def get_foundation_model_availability(self):
    model_id = _model_id_from_path(self)
    if model_id not in _MODELS:
        return handler_error("ResourceNotFoundException", f"The model {model_id} does not exist.", 404)
    with _lock:
        state = dict(_availability.get((self.current_account, model_id), {}))
    agreement = state.get("agreement", "AVAILABLE")
    return json.dumps(
        {
            "modelId": model_id,
            "agreementAvailability": {"status": agreement},
            "authorizationStatus": state.get("authorization", "AUTHORIZED"),
            "entitlementAvailability": state.get("entitlement", "AVAILABLE"),
            "regionAvailability": (
                "AVAILABLE" if model_id in _models_in(self.region, self.current_account) else "NOT_AVAILABLE"
            ),
        }
    )


def get_use_case_for_model_access(self):
    with _lock:
        missing = self.current_account in _no_use_case
    if missing:
        return handler_error("ResourceNotFoundException", "No use case form has been submitted for this account.", 404)
    form = base64.b64encode(json.dumps({"companyName": "Example Corp", "intendedUsers": "0"}).encode()).decode()
    return json.dumps({"formData": form})


def install() -> None:
    """Register the actions on moto's Bedrock response class."""
    BedrockResponse.list_foundation_models = list_foundation_models
    BedrockResponse.get_foundation_model = get_foundation_model
    BedrockResponse.list_inference_profiles = list_inference_profiles
    BedrockResponse.get_inference_profile = get_inference_profile
    BedrockResponse.get_foundation_model_availability = get_foundation_model_availability
    BedrockResponse.get_use_case_for_model_access = get_use_case_for_model_access
