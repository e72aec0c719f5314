"""The versioned wire schema between a kiosk's fleet agent and the fleet server: its public
face, one import for both sides.

The schema lives in the modules it is made of: `wire.fields` (the version, limits and the field
readers, so bad input is a WireError), `wire.devices` (health and supplies), `wire.events`
(events and the goodbye), `wire.commands` (commands, acknowledgements, the service order),
`wire.heartbeat` (the heartbeat and its reply), `wire.update.status` (software updates as the
kiosk reports them) and `wire.signing` (enrollment and the request-signing scheme). The fleet
server imports these; nothing here imports the fleet server or the kiosk. Bump WIRE_VERSION on
any change a peer of the previous version could not read. No personal data travels in any
message here.
"""

from __future__ import annotations

from wire.commands import (
    DISRUPTIVE_COMMANDS,
    SERVICE_COMMANDS,
    AckOutcome,
    Command,
    CommandAck,
    CommandKind,
    ServiceOrder,
    ServiceState,
    parse_params,
)
from wire.devices import (
    DeviceHealth,
    DeviceStatus,
    Supply,
    SupplyLevel,
)
from wire.events import (
    Event,
    EventBatch,
    EventKind,
    Goodbye,
    Severity,
)
from wire.fields import (
    API_PREFIX,
    MAX_EPOCH_S,
    MAX_ID_LEN,
    MAX_ITEMS,
    MAX_SEQ,
    MAX_TEXT_LEN,
    READABLE_VERSIONS,
    WIRE_VERSION,
    WireError,
    WireErrorReason,
)
from wire.heartbeat import (
    AttentionItem,
    Heartbeat,
    HeartbeatReply,
    ItemAvailability,
)
from wire.signing import (
    HEADER_DIGEST,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNATURE_SCHEME,
    AuthRefusal,
    EnrollmentRequest,
    canonical_string,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_request,
)
from wire.update.status import (
    UpdateResult,
    UpdateStatus,
)

__all__ = [
    "API_PREFIX",
    "AckOutcome",
    "AttentionItem",
    "AuthRefusal",
    "Command",
    "CommandAck",
    "CommandKind",
    "DISRUPTIVE_COMMANDS",
    "DeviceHealth",
    "DeviceStatus",
    "EnrollmentRequest",
    "Event",
    "EventBatch",
    "EventKind",
    "Goodbye",
    "HEADER_DIGEST",
    "HEADER_KEY_ID",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "Heartbeat",
    "HeartbeatReply",
    "ItemAvailability",
    "MAX_EPOCH_S",
    "MAX_ID_LEN",
    "MAX_ITEMS",
    "MAX_SEQ",
    "MAX_TEXT_LEN",
    "READABLE_VERSIONS",
    "SERVICE_COMMANDS",
    "SIGNATURE_SCHEME",
    "ServiceOrder",
    "ServiceState",
    "Severity",
    "Supply",
    "SupplyLevel",
    "UpdateResult",
    "UpdateStatus",
    "WIRE_VERSION",
    "WireError",
    "WireErrorReason",
    "canonical_string",
    "key_id",
    "load_private_key",
    "load_public_key",
    "parse_params",
    "public_key_pem",
    "sign_request",
]
