"""What the kiosk asks the updater for: the contract between the two, in request.json."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.json_object import JsonObject


@dataclass(frozen=True)
class UpdateRequest:
    """What the kiosk asks for (part of its request.json): a bundle URL and the digest of the
    manifest the fleet announced; request_id tells one request from the next."""

    url: str
    manifest_digest: str
    request_id: str

    def to_json(self) -> JsonObject:
        return {"url": self.url, "manifest_digest": self.manifest_digest,
                "request_id": self.request_id}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> UpdateRequest | None:
        if not data or not all(isinstance(data.get(k), str) for k in ("url", "request_id")):
            return None
        return cls(data["url"], str(data.get("manifest_digest") or ""), data["request_id"])
