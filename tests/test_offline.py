"""Offline detection: fast, forced either way, and honest."""

import time

import pytest

from micourse import offline


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("MICOURSE_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("MICOURSE_REHEARSAL", raising=False)
    offline._probe_endpoint.cache_clear()
    yield
    offline._probe_endpoint.cache_clear()


def test_hf_hub_offline_is_honoured_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(offline, "_probe", lambda *a, **k: pytest.fail("must not touch the network"))
    start = time.perf_counter()
    assert offline.is_offline()
    assert time.perf_counter() - start < 0.1


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("off", False)])
def test_forced(monkeypatch, value, expected):
    monkeypatch.setenv("MICOURSE_OFFLINE", value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the course's own switch wins
    monkeypatch.setattr(offline, "_probe", lambda *a, **k: pytest.fail("must not touch the network"))
    assert offline.is_offline() is expected


def test_bad_flag_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MICOURSE_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="MICOURSE_OFFLINE"):
        offline.is_offline()


def test_real_probe_is_fast():
    start = time.perf_counter()
    result = offline.is_offline()
    assert isinstance(result, bool)
    assert time.perf_counter() - start < 3.0  # no 20-second retry loop


def test_probe_of_closed_port_says_unreachable():
    assert offline._probe("127.0.0.1", port=9, timeout=0.5) is False


def test_dead_custom_endpoint_is_a_clear_error_within_seconds(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    start = time.perf_counter()
    with pytest.raises(offline.HubUnreachableError, match=r"HF_ENDPOINT=http://127.0.0.1:9"):
        offline.is_offline()
    assert time.perf_counter() - start < 3.0


def test_probe_goes_to_the_endpoint_host(monkeypatch):
    seen = []
    monkeypatch.setenv("HF_ENDPOINT", "http://example.invalid:8123/")
    monkeypatch.setattr(offline, "_probe", lambda host, port: seen.append((host, port)) or True)
    assert offline.is_offline() is False
    assert seen == [("example.invalid", 8123)]


def test_bad_endpoint_url(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "localhost:8000")
    with pytest.raises(ValueError, match="not an http"):
        offline.is_offline()


def test_rehearsal_needs_a_custom_endpoint(monkeypatch):
    monkeypatch.setenv("MICOURSE_REHEARSAL", "1")
    assert not offline.in_rehearsal()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:8123")
    assert offline.in_rehearsal()
