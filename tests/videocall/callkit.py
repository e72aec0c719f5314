"""What the video-call test and bench.videocall set up: a link that can be cut (a TCP proxy in
front of the fleet), coturn as the TURN relay, the kiosk process, and Chromium as the agent."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import tomli_w

from tests.fleet.fleetkit import PASSWORD, free_port

CHROMIUM = Path("/usr/bin/chromium")
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
# Debian's chromium as tests/fleet/test_dashboard.py launches it, with fake camera and microphone
# (a test pattern and a beep) that need no permission prompt, and real host candidates (no mDNS
# names, which the kiosk's aiortc would have to resolve).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Where the call goes through coturn: the agent's browser relays too, so all media stays on
# loopback (kiosk -> coturn -> coturn -> browser).
RELAYED = ["--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]


class CuttableLink:
    """A TCP proxy standing for the village's link to the hall: `cut()` drops every connection
    through it and refuses new ones, `restore()` lets them through again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}


class Coturn:
    """Debian's coturn on loopback with TURN REST credentials (`static-auth-secret`)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="coturn-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def start(self) -> None:
        relay = 49152 + (self.port % 1000) * 10
        self.proc = subprocess.Popen(
            [TURNSERVER, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             f"--listening-port={self.port}", f"--min-port={relay}", f"--max-port={relay + 9}",
             "--use-auth-secret", f"--static-auth-secret={self.secret}", "--realm=kiosk",
             "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--no-tcp-relay",
             # Relays to this machine's loopback only, whatever candidates the peers list.
             "--denied-peer-ip=0.0.0.0-255.255.255.255", "--allowed-peer-ip=127.0.0.1",
             "--simple-log", f"--log-file={self.dir / 'turn.log'}",
             f"--pidfile={self.dir / 'turn.pid'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"turnserver exited: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def log(self) -> str:
        logs = sorted(self.dir.glob("turn*.log"))
        return logs[-1].read_text(errors="replace") if logs else ""


class KioskProcess:
    """The kiosk (tests/videocall/kiosk_process.py) and its control API."""

    def __init__(self, workdir: Path, kiosk_id: str, fleet_url: str, key_pem: bytes,
                 env: dict[str, str], call: dict[str, Any] | None = None,
                 ui: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        key = workdir / "device.key"
        key.write_bytes(key_pem)
        key.chmod(0o600)
        config = {
            "kiosk_id": kiosk_id,
            "ui": ui or {},
            "fleet": {"server_url": fleet_url, "device_key_path": str(key),
                      "heartbeat_interval_s": 15.0},
            "call": {"grace_s": 4.0, "policy_interval_s": 2.0, **(call or {})},
        }
        (workdir / "kiosk.toml").write_text(tomli_w.dumps(config))
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None

    async def start(self, timeout: float = 90.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.videocall.kiosk_process",
             "--config", str(self.workdir / "kiosk.toml"),
             "--state-dir", str(self.workdir / "state"), "--port", str(self.port)],
            env=self.env, stdout=subprocess.PIPE, stderr=open(self.workdir / "kiosk.err", "wb"))
        self.http = aiohttp.ClientSession()
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        if b"ready" not in line:
            raise RuntimeError(f"kiosk did not start: {self.stderr()[-3000:]}")

    def stderr(self) -> str:
        return (self.workdir / "kiosk.err").read_text(errors="replace")

    async def get(self, path: str) -> Any:
        assert self.http is not None
        async with self.http.get(f"http://127.0.0.1:{self.port}{path}") as r:
            return await (r.json() if r.content_type == "application/json" else r.read())

    async def post(self, path: str, data: dict[str, Any]) -> Any:
        assert self.http is not None
        async with self.http.post(f"http://127.0.0.1:{self.port}{path}", json=data) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def state(self) -> dict[str, Any]:
        return await self.get("/state")

    async def until(self, predicate, what: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"kiosk: waited {timeout} s for {what}; state {state}")
            await asyncio.sleep(0.2)

    async def ask_for_video(self) -> dict[str, Any]:
        """What the citizen does: "呼叫工作人员" on the screen shown, then "视频连线" on the help
        panel (offered where the site allows calls). Returns the state with the consent up."""
        state = await self.state()
        await self.post("/tap", {"id": f"{state['screen']}.help"})
        await self.until(lambda s: s["help_shown"], "the help panel")
        await asyncio.sleep(0.3)   # laid out, as a citizen would see it first
        await self.post("/tap", {"id": "help.video"})
        return await self.until(lambda s: s["call_phase"] == "consent", "the consent panel")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                await self.post("/stop", {})
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.http is not None:
            await self.http.close()


async def agent_page(browser, fleet_url: str, username: str):
    """Chromium on the agent's page, signed in as `username`, waiting for calls."""
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.notes = []  # what the page said: shown when a test fails
    page.on("console", lambda m: page.notes.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.notes.append(f"page error: {e}"))
    await page.goto(fleet_url + "/dashboard/agent")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in-form button")
    await page.wait_for_selector("#agent-view:not([hidden])")
    await page.wait_for_function("document.querySelector('#link-state').textContent"
                                 ".startsWith('Connected')")
    return page


async def agent_stats(page) -> dict[str, Any]:
    return await page.evaluate("window.callStats()")
