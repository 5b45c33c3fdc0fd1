"""Cost Explorer cost allocation tags: ``ListCostAllocationTags`` and ``UpdateCostAllocationTagsStatus``
over a per-account set of tag keys known to billing.

Control API: ``POST /_emulator/ce/tags`` with ``{"account", "tags": [{"key", "status": "Active"|"Inactive",
"type": "UserDefined"|"AWSGenerated"}]}`` sets which tag keys billing has seen (keys appear only after
use, as in AWS). Updating a key billing has not seen returns it in ``Errors``.
"""

from __future__ import annotations

import datetime
import json
import threading

from moto.ce.responses import CostExplorerResponse

MAX_UPDATE = 20

_lock = threading.Lock()
# account -> tag key -> tag
_tags: dict[str, dict[str, dict]] = {}


def reset() -> None:
    with _lock:
        _tags.clear()


def control(command: str, method: str, environ, read_body):
    if command == "ce/tags" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        today = datetime.date.today().isoformat()
        with _lock:
            _tags[data["account"]] = {
                t["key"]: {
                    "TagKey": t["key"],
                    "Type": t.get("type", "UserDefined"),
                    "Status": t.get("status", "Inactive"),
                    "LastUsedDate": today,
                }
                for t in data["tags"]
            }
        return {"set": len(data["tags"])}
    return None


def _error(code: str, message: str):
    return 400, {"status": 400, "x-amzn-ErrorType": code}, json.dumps({"__type": code, "Message": message})


def list_cost_allocation_tags(self):
    status = self._get_param("Status")
    kind = self._get_param("Type")
    keys = self._get_param("TagKeys")
    with _lock:
        tags = [
            dict(t)
            for t in _tags.get(self.current_account, {}).values()
            if (status is None or t["Status"] == status)
            and (kind is None or t["Type"] == kind)
            and (not keys or t["TagKey"] in keys)
        ]
    return json.dumps({"CostAllocationTags": sorted(tags, key=lambda t: t["TagKey"])})


def update_cost_allocation_tags_status(self):
    updates = self._get_param("CostAllocationTagsStatus") or []
    if not 1 <= len(updates) <= MAX_UPDATE:
        return _error(
            "ValidationException",
            f"CostAllocationTagsStatus must contain between 1 and {MAX_UPDATE} entries",
        )
    errors = []
    with _lock:
        known = _tags.setdefault(self.current_account, {})
        for update in updates:
            key, status = update["TagKey"], update["Status"]
            if key not in known:
                errors.append(
                    {"TagKey": key, "Code": "TagKeysNotFoundException", "Message": f"Tag key {key} not found"}
                )
                continue
            known[key]["Status"] = status
            known[key]["LastUpdatedDate"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    return json.dumps({"Errors": errors})


def install() -> None:
    CostExplorerResponse.list_cost_allocation_tags = list_cost_allocation_tags
    CostExplorerResponse.update_cost_allocation_tags_status = update_cost_allocation_tags_status
