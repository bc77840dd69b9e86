"""Facts about the machine a benchmark ran on, written next to its numbers."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

import psutil
import zmq

__all__ = ["machine_facts", "LIBRARIES"]

LIBRARIES = ("pyzmq", "msgspec", "websockets", "aiohttp", "uvloop", "redis", "psutil")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "cpu_mhz": round(freq.current) if freq else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "libzmq": zmq.zmq_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
