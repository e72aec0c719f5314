"""Fetching a bundle over a slow, unreliable link: HTTP with resume (Range), nothing trusted.

The bytes land in `<name>.part` beside their final name; an interrupted transfer (a dropped
connection, a killed updater, a power cut) continues from the bytes already on disk with a
`Range: bytes=N-` request, guarded by `If-Range` so a file changed on the server starts over
rather than being spliced. The finished file is renamed to its final name; its content is
verified afterwards, against the signed manifest (wire.update.bundle).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.update.guard import CrashPoints
from wire.update.errors import Postponed, UpdatePostponed

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class DownloadPolicy:
    read_timeout_s: float = 60.0  # a link that sends nothing for this long is dropped
    attempts: int = 8  # attempts in a row that get no byte, before the run gives up (the
    # updater is restarted later and resumes)
    backoff_s: float = 2.0  # doubled after each failed attempt, up to 60 s
    sync_every_bytes: int = 4 << 20  # fsync the partial file this often


def download(url: str, dest: Path, policy: DownloadPolicy = DownloadPolicy(),
             progress: Callable[[int, int | None], None] | None = None,
             crash: CrashPoints | None = None) -> Path:
    """Fetches `url` to `dest`, resuming a `.part` left by an earlier attempt. Raises
    UpdatePostponed(DOWNLOAD_FAILED) when the link stays down for every attempt."""
    if dest.exists():
        return dest
    part = dest.with_name(dest.name + ".part")
    meta = dest.with_name(dest.name + ".part.json")
    crash = crash or CrashPoints()
    delay = policy.backoff_s
    last_error = ""
    failures = 0
    while failures < policy.attempts:
        before = _size(part)
        try:
            if _fetch(url, part, meta, policy, progress, crash):
                os.replace(part, dest)
                meta.unlink(missing_ok=True)
                return dest
            last_error = "connection closed early"
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"[:200]
        if _size(part) > before:
            # The link works, only not for long (a mobile link dropping every few minutes):
            # carry on at once; only attempts that got nothing count against the limit.
            failures, delay = 0, policy.backoff_s
            continue
        failures += 1
        log.info("download failed (%d of %d): %s", failures, policy.attempts, last_error)
        if failures < policy.attempts:
            time.sleep(delay)
            delay = min(60.0, delay * 2)
    raise UpdatePostponed(Postponed.DOWNLOAD_FAILED, last_error)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _fetch(url: str, part: Path, meta: Path, policy: DownloadPolicy,
           progress: Callable[[int, int | None], None] | None, crash: CrashPoints) -> bool:
    """One request; True when the file is complete."""
    have = part.stat().st_size if part.exists() else 0
    validator = _read_validator(meta) if have else ""
    request = urllib.request.Request(url)
    if have:
        request.add_header("Range", f"bytes={have}-")
        if validator:
            request.add_header("If-Range", validator)
    try:
        response = urllib.request.urlopen(request, timeout=policy.read_timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # Nothing past what we have: either complete, or the file shrank. Start over.
            part.unlink()
        raise
    with response:
        total = _total(response, have)
        if response.status == 206:
            start = _range_start(response.headers.get("Content-Range", ""))
            if start != have:
                raise ValueError(f"server resumed at {start}, not {have}")
            mode = "ab"
        else:
            # 200: the whole file (no partial file, the server ignores Range, or If-Range said
            # the file changed): start from the beginning.
            have, mode = 0, "wb"
            _write_validator(meta, response.headers)
        written_since_sync = 0
        with open(part, mode) as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                have += len(chunk)
                written_since_sync += len(chunk)
                if written_since_sync >= policy.sync_every_bytes:
                    out.flush()
                    os.fsync(out.fileno())
                    written_since_sync = 0
                    crash.reached("download_chunk_synced")
                if progress is not None:
                    progress(have, total)
            out.flush()
            os.fsync(out.fileno())
    return total is None or have >= total


def _total(response: http.client.HTTPResponse, have: int) -> int | None:
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if match and match.group(3) != "*":
            return int(match.group(3))
        return None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _range_start(content_range: str) -> int:
    match = _CONTENT_RANGE.fullmatch(content_range.strip())
    if not match:
        raise ValueError(f"bad Content-Range {content_range[:60]!r}")
    return int(match.group(1))


def _read_validator(meta: Path) -> str:
    try:
        return str(json.loads(meta.read_text()).get("validator", ""))
    except (OSError, ValueError):
        return ""


def _write_validator(meta: Path, headers: http.client.HTTPMessage) -> None:
    """ETag (a strong one), else Last-Modified: what If-Range checks on the next resume."""
    etag = headers.get("ETag", "")
    validator = etag if etag and not etag.startswith("W/") else headers.get("Last-Modified", "")
    meta.write_text(json.dumps({"validator": validator}))
