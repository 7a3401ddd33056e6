"""Deciding, quickly, whether the Hugging Face hub can be reached.

Pages must run the same code online (Colab, GitHub Actions: real models) and offline
(this course's CI, a learner on a plane: stand-in models). `from_pretrained` only fails
after ~20 s of retries, so we decide up front, once per process.
"""

from __future__ import annotations

import os
import socket
import threading
from functools import lru_cache

HUB_HOST = "huggingface.co"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r}: use 1 (true) or 0 (false).")


def _probe(host: str, port: int = 443, timeout: float = 1.5) -> bool:
    """True if a TCP connection to host:port opens within `timeout` seconds (DNS included)."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)  # DNS lookups ignore the socket timeout; don't wait for them
    return bool(result and result[0])


@lru_cache(maxsize=1)
def _probe_hub() -> bool:
    return _probe(HUB_HOST)


def is_offline() -> bool:
    """Whether pages should use the course's stand-in models.

    `MICOURSE_OFFLINE=1` forces stand-ins and `MICOURSE_OFFLINE=0` forces the hub;
    otherwise `HF_HUB_OFFLINE=1` means offline; otherwise one quick connection attempt decides.
    """
    forced = _env_flag("MICOURSE_OFFLINE")
    if forced is not None:
        return forced
    if _env_flag("HF_HUB_OFFLINE"):
        return True
    return not _probe_hub()
