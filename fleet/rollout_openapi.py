"""The OpenAPI description of bundles and rollouts (fleet.rollout_api); fleet.openapi merges it
into its document."""

from __future__ import annotations

from typing import Any

from fleet.openapi_blocks import BOOL, INT, NUM, OP_SEC, REF, STR, answer, obj, op
from fleet.rollouts import RolloutState, TargetStatus
from wire.fields import JsonObject

_ROLLOUT_ID = {"name": "rollout_id", "in": "path", "required": True, "schema": STR}
_DIGEST = {"type": "string", "pattern": "^[0-9a-f]{64}$",
           "description": "SHA-256 of the bundle's signed manifest"}


# Any: more OpenAPI operation fields.
def _op(summary: str, responses: JsonObject, **more: Any) -> JsonObject:
    return op(summary, "rollouts", OP_SEC, responses, **more)


_COUNTS = {"type": "object", "additionalProperties": INT,
           "description": "kiosks per status (RolloutKiosk.status)"}

ROLLOUT_SCHEMAS: JsonObject = {
    "UpdateResult": obj(
        ["id", "outcome", "version", "at"], id=STR,
        outcome={"enum": ["staged", "refused", "installed", "updated", "rolled_back"]},
        version=STR, at=NUM, reason={**STR, "description": "a code, e.g. not_healthy_in_time"},
        detail=STR, from_version=STR),
    "UpdateStatus": obj(
        ["running_version"], running_version=STR, slot={"enum": ["", "a", "b"]},
        phase={"enum": ["idle", "downloading", "verifying", "installing", "staged", "refused",
                        "postponed"]},
        request_id={**STR, "description": "the update command the updater works on"},
        target_version=STR, bytes_done={"type": ["integer", "null"]},
        bytes_total={"type": ["integer", "null"]},
        waiting_for={**STR, "description": "why a staged release waits (citizen_present...)"},
        last_result={"anyOf": [{"$ref": REF + "UpdateResult"}, {"type": "null"}]}),
    "Bundle": obj(
        ["digest", "version", "min_version", "key_id", "size"], digest=_DIGEST, version=STR,
        min_version=STR, key_id={**STR, "description": "the release key that signed it"},
        size=INT, runtime_included=BOOL, uploaded_by=STR, uploaded_at=NUM,
        new={**BOOL, "description": "upload answer: false if this manifest was uploaded before"}),
    "BundleRefused": obj(
        ["error", "reason", "message"], error={"const": "bundle_refused"},
        reason={**STR, "description": "wire.update.errors.Refusal: bad_signature,"
                " untrusted_key, bad_hash, not_a_bundle..."}, message=STR),
    "NewRollout": obj(
        ["digest"], digest=_DIGEST, region={**STR, "description": "'' or absent: any"},
        site=STR, tag=STR,
        percent={**INT, "minimum": 1, "maximum": 100, "default": 100,
                 "description": "the stage: this share of the matching kiosks (1, 10, 100)"}),
    "RolloutKiosk": obj(
        ["kiosk_id", "status"], kiosk_id=STR, region=STR, site=STR,
        status={"enum": [s.value for s in TargetStatus]}, command_id={"type": ["string", "null"]},
        from_version=STR, software_version=STR, detail=STR,
        bytes_done={"type": ["integer", "null"]}, bytes_total={"type": ["integer", "null"]},
        added_at=NUM, status_at=NUM),
    "Rollout": obj(
        ["rollout_id", "digest", "version", "state", "percent"], rollout_id=STR, digest=_DIGEST,
        version=STR, bundle_url=STR, region=STR, site=STR, tag=STR, percent=INT,
        state={"enum": [s.value for s in RolloutState]}, created_by=STR, created_at=NUM,
        state_at=NUM, counts=_COUNTS,
        kiosks={"type": "array", "items": {"$ref": REF + "RolloutKiosk"},
                "description": "GET /rollouts/{id} only"}),
}

_REFUSED = {"404": answer("no such rollout", "Error"),
            "409": answer("the rollout was aborted, or the stage would shrink", "Error")}
_ACTIONS = {
    "pause": "Pause: withdraw the update commands not yet delivered (sent again on resume)",
    "resume": "Resume: send the update command to every kiosk waiting in the rollout",
    "abort": "Abort: withdraw the commands not yet delivered, for good; kiosks that have"
             " theirs carry on (a kiosk verifies and rolls back by itself)",
    "stage": "Raise the stage (body {\"percent\": 10}): more of the matching kiosks join",
}

ROLLOUT_PATHS: JsonObject = {
    "/api/v1/bundles": {
        "get": _op("Uploaded release bundles, newest first", {"200": answer("bundles")}),
        "post": _op(
            "Upload a release bundle (the raw file as the body, 1 GiB at most by default)."
            " It is checked as a kiosk checks it (signed by a release key this server trusts,"
            " every file's hash) and kept under its manifest digest; audited",
            {"201": answer("stored", "Bundle"), "200": answer("uploaded before", "Bundle"),
             "409": answer("this server trusts no release key", "Error"),
             "413": answer("larger than the server takes", "Error"),
             "422": answer("refused, with the reason a kiosk would give", "BundleRefused")},
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
                              "404": answer("no such bundle", "Error")}},
    },
    "/api/v1/rollouts": {
        "get": _op("Rollouts, newest first, with kiosks per status", {"200": answer("rollouts")}),
        "post": _op(
            "Start a rollout of an uploaded bundle to the kiosks of a region, site or tag, at a"
            " stage; each chosen kiosk gets the update command at its next heartbeat (audited)",
            {"201": answer("started", "Rollout"), "400": answer("bad request", "Error"),
             "404": answer("no such bundle", "Error")},
            requestBody={"required": True, "content": {"application/json": {
                "schema": {"$ref": REF + "NewRollout"}}}}),
    },
    "/api/v1/rollouts/{rollout_id}": {
        "get": _op("One rollout with each kiosk's progress and result",
                   {"200": answer("the rollout", "Rollout"),
                    "404": answer("no such rollout", "Error")}, parameters=[_ROLLOUT_ID]),
    },
    **{f"/api/v1/rollouts/{{rollout_id}}/{action}": {
        "post": _op(f"{summary} (operator; audited)", {"200": answer("done: counts and the rollout"),
                                                       **_REFUSED}, parameters=[_ROLLOUT_ID])}
       for action, summary in _ACTIONS.items()},
}
