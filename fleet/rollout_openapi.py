"""The OpenAPI description of bundles and rollouts (fleet.rollout_api); fleet.openapi merges it
into its document."""

from __future__ import annotations

from typing import Any

from fleet.rollouts import RolloutState, TargetStatus

_REF = "#/components/schemas/"
_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_OP_SEC: list[dict[str, list[str]]] = [{"operatorSession": []}]
_ROLLOUT_ID = {"name": "rollout_id", "in": "path", "required": True, "schema": _STR}
_DIGEST = {"type": "string", "pattern": "^[0-9a-f]{64}$",
           "description": "SHA-256 of the bundle's signed manifest"}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


def _answer(description: str, schema: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": {"$ref": _REF + schema}}}
    return out


def _op(summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": ["rollouts"], "security": _OP_SEC, "responses": responses,
            **more}


_COUNTS = {"type": "object", "additionalProperties": _INT,
           "description": "kiosks per status (RolloutKiosk.status)"}

ROLLOUT_SCHEMAS: dict[str, Any] = {
    "UpdateResult": _obj(
        ["id", "outcome", "version", "at"], id=_STR,
        outcome={"enum": ["staged", "refused", "installed", "updated", "rolled_back"]},
        version=_STR, at=_NUM, reason={**_STR, "description": "a code, e.g. not_healthy_in_time"},
        detail=_STR, from_version=_STR),
    "UpdateStatus": _obj(
        ["running_version"], running_version=_STR, slot={"enum": ["", "a", "b"]},
        phase={"enum": ["idle", "downloading", "verifying", "installing", "staged", "refused",
                        "postponed"]},
        request_id={**_STR, "description": "the update command the updater works on"},
        target_version=_STR, bytes_done={"type": ["integer", "null"]},
        bytes_total={"type": ["integer", "null"]},
        waiting_for={**_STR, "description": "why a staged release waits (citizen_present...)"},
        last_result={"anyOf": [{"$ref": _REF + "UpdateResult"}, {"type": "null"}]}),
    "Bundle": _obj(
        ["digest", "version", "min_version", "key_id", "size"], digest=_DIGEST, version=_STR,
        min_version=_STR, key_id={**_STR, "description": "the release key that signed it"},
        size=_INT, runtime_included=_BOOL, uploaded_by=_STR, uploaded_at=_NUM,
        new={**_BOOL, "description": "upload answer: false if this manifest was uploaded before"}),
    "BundleRefused": _obj(
        ["error", "reason", "message"], error={"const": "bundle_refused"},
        reason={**_STR, "description": "wire.update.errors.Refusal: bad_signature,"
                " untrusted_key, bad_hash, not_a_bundle..."}, message=_STR),
    "NewRollout": _obj(
        ["digest"], digest=_DIGEST, region={**_STR, "description": "'' or absent: any"},
        site=_STR, tag=_STR,
        percent={**_INT, "minimum": 1, "maximum": 100, "default": 100,
                 "description": "the stage: this share of the matching kiosks (1, 10, 100)"}),
    "RolloutKiosk": _obj(
        ["kiosk_id", "status"], kiosk_id=_STR, region=_STR, site=_STR,
        status={"enum": [s.value for s in TargetStatus]}, command_id={"type": ["string", "null"]},
        from_version=_STR, software_version=_STR, detail=_STR,
        bytes_done={"type": ["integer", "null"]}, bytes_total={"type": ["integer", "null"]},
        added_at=_NUM, status_at=_NUM),
    "Rollout": _obj(
        ["rollout_id", "digest", "version", "state", "percent"], rollout_id=_STR, digest=_DIGEST,
        version=_STR, bundle_url=_STR, region=_STR, site=_STR, tag=_STR, percent=_INT,
        state={"enum": [s.value for s in RolloutState]}, created_by=_STR, created_at=_NUM,
        state_at=_NUM, counts=_COUNTS,
        kiosks={"type": "array", "items": {"$ref": _REF + "RolloutKiosk"},
                "description": "GET /rollouts/{id} only"}),
}

_REFUSED = {"404": _answer("no such rollout", "Error"),
            "409": _answer("the rollout was aborted, or the stage would shrink", "Error")}
_ACTIONS = {
    "pause": "Pause: withdraw the update commands not yet delivered (sent again on resume)",
    "resume": "Resume: send the update command to every kiosk waiting in the rollout",
    "abort": "Abort: withdraw the commands not yet delivered, for good; kiosks that have"
             " theirs carry on (a kiosk verifies and rolls back by itself)",
    "stage": "Raise the stage (body {\"percent\": 10}): more of the matching kiosks join",
}

ROLLOUT_PATHS: dict[str, Any] = {
    "/api/v1/bundles": {
        "get": _op("Uploaded release bundles, newest first", {"200": _answer("bundles")}),
        "post": _op(
            "Upload a release bundle (the raw file as the body, 1 GiB at most by default)."
            " It is checked as a kiosk checks it (signed by a release key this server trusts,"
            " every file's hash) and kept under its manifest digest; audited",
            {"201": _answer("stored", "Bundle"), "200": _answer("uploaded before", "Bundle"),
             "409": _answer("this server trusts no release key", "Error"),
             "413": _answer("larger than the server takes", "Error"),
             "422": _answer("refused, with the reason a kiosk would give", "BundleRefused")},
            requestBody={"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}),
    },
    "/api/v1/bundles/{digest}.kbundle": {
        "get": {"summary": "A bundle's file for kiosks: no sign-in (its content is signed),"
                " HTTP Range with a strong ETag and If-Range, so downloads resume",
                "tags": ["rollouts"], "security": [],
                "parameters": [{"name": "digest", "in": "path", "required": True,
                                "schema": _DIGEST}],
                "responses": {"200": {"description": "the bundle"},
                              "206": {"description": "the part asked for"},
                              "404": _answer("no such bundle", "Error")}},
    },
    "/api/v1/rollouts": {
        "get": _op("Rollouts, newest first, with kiosks per status", {"200": _answer("rollouts")}),
        "post": _op(
            "Start a rollout of an uploaded bundle to the kiosks of a region, site or tag, at a"
            " stage; each chosen kiosk gets the update command at its next heartbeat (audited)",
            {"201": _answer("started", "Rollout"), "400": _answer("bad request", "Error"),
             "404": _answer("no such bundle", "Error")},
            requestBody={"required": True, "content": {"application/json": {
                "schema": {"$ref": _REF + "NewRollout"}}}}),
    },
    "/api/v1/rollouts/{rollout_id}": {
        "get": _op("One rollout with each kiosk's progress and result",
                   {"200": _answer("the rollout", "Rollout"),
                    "404": _answer("no such rollout", "Error")}, parameters=[_ROLLOUT_ID]),
    },
    **{f"/api/v1/rollouts/{{rollout_id}}/{action}": {
        "post": _op(f"{summary} (operator; audited)", {"200": _answer("done: counts and the rollout"),
                                                       **_REFUSED}, parameters=[_ROLLOUT_ID])}
       for action, summary in _ACTIONS.items()},
}
