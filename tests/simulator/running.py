"""A running simulator as tests drive it from outside: its endpoints and its control API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.control_client import SimulatorClient


@dataclass
class RunningSimulator:
    state_dir: Path
    endpoints: dict

    def control(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Calls `SimulatorClient.<method>` against the running simulator."""

        async def call() -> Any:
            async with SimulatorClient(self.endpoints["control_url"]) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(call())

    def switch(self, device: str, **switches: bool) -> dict:
        """Sets fault switches through the uniform surface; answers the device's switches."""
        return self.control("set_device_faults", device, **switches)
