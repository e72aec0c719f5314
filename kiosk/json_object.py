"""The one name for a JSON object as the kiosk receives and stores it: a backend's answer
(aiohttp's `response.json()`), a catalog step's parameters, a journaled transaction's detail, an
outbox body.

Its values are `Any` because the libraries that produce them (`json.loads`, aiohttp) return
`Any`, and a recursive JSON union would force an `isinstance` at every read of a field whose
shape the catalog schema or the backend's contract already checked. Code that only writes a
JSON object may take `Mapping[str, object]` instead.
"""

from typing import Any

JsonObject = dict[str, Any]  # Any: json.loads / aiohttp return untyped values (see above)
# Any: one value of a JSON document (text, a number, true/false, null, a list, an object), as
# json.loads returns it; a catalog's templates are such values too.
JsonValue = Any
