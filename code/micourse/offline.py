"""Deciding, quickly, whether the Hugging Face hub can be reached.

Pages must run the same code online (Colab, GitHub Actions: real models) and offline
(this course's CI, a learner on a plane: stand-in models). `from_pretrained` only fails
after ~23 s of retries, so we decide up front, once per process, with one short connection
attempt to the host huggingface_hub will really talk to (`HF_ENDPOINT` when it is set).
"""

from __future__ import annotations

import os
import socket
import threading
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class HubUnreachableError(ConnectionError):
    """`HF_ENDPOINT` names a server that does not answer: a clear error instead of 23 s of retries."""


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


def hub_endpoint() -> str:
    """The hub huggingface_hub uses: `HF_ENDPOINT` if set, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "").strip().rstrip("/") or DEFAULT_ENDPOINT


def custom_endpoint() -> bool:
    """Whether `HF_ENDPOINT` points somewhere other than the public hub (a mirror, or the rehearsal)."""
    return hub_endpoint() != DEFAULT_ENDPOINT


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"HF_ENDPOINT={url!r} is not an http(s) URL such as https://huggingface.co.")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


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


@lru_cache(maxsize=4)
def _probe_endpoint(url: str) -> bool:
    return _probe(*_host_port(url))


def _probe_hub() -> bool:
    return _probe_endpoint(hub_endpoint())


def is_offline() -> bool:
    """Whether pages should use the course's stand-in models.

    `MICOURSE_OFFLINE=1` forces stand-ins and `MICOURSE_OFFLINE=0` forces the hub;
    otherwise `HF_HUB_OFFLINE=1` means offline; otherwise one quick connection attempt decides.
    A custom `HF_ENDPOINT` that does not answer is an error, not a silent switch to stand-ins:
    whoever set it expects that server to serve the models.
    """
    forced = _env_flag("MICOURSE_OFFLINE")
    if forced is not None:
        return forced
    if _env_flag("HF_HUB_OFFLINE"):
        return True
    if _probe_hub():
        return False
    if custom_endpoint():
        raise HubUnreachableError(
            f"HF_ENDPOINT={hub_endpoint()} is set, but nothing answers at "
            f"{':'.join(map(str, _host_port(hub_endpoint())))}. Start that server, or unset HF_ENDPOINT "
            "(the public hub, or the course's stand-ins when it is unreachable)."
        )
    return True


def require_hub() -> None:
    """Fail fast, naming the server, before a load that would retry a dead endpoint for ~23 s."""
    if not _probe_hub():
        raise HubUnreachableError(
            f"The Hugging Face hub at {hub_endpoint()} does not answer. Without it, load the course's "
            "stand-ins (MICOURSE_OFFLINE=1) or unset HF_ENDPOINT."
        )


def in_rehearsal() -> bool:
    """Whether models come from the course's local stand-in for the hub (`MICOURSE_REHEARSAL=1`)."""
    return bool(_env_flag("MICOURSE_REHEARSAL")) and custom_endpoint()
