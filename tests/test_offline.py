"""Offline detection: fast, forced either way, and honest."""

import time

import pytest

from micourse import offline


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("MICOURSE_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    offline._probe_hub.cache_clear()
    yield
    offline._probe_hub.cache_clear()


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
