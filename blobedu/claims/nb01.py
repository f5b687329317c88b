"""Notebook 01 (the retry loop): the numbers its markdown prints."""

from functools import lru_cache

from ..versions import behaviour
from . import Model, Source
from .helpers import dur, put_elapsed, sleeps


@lru_cache(maxsize=None)
def _storm(max_retries: int):
    """One message through a 1-hour 503 storm (the predict cell's run)."""
    from ..delivery import DeliveryConfig, deliver
    from ..store import StoreConfig

    return deliver(["503@0-1h"], DeliveryConfig(store=StoreConfig(max_retries=max_retries)))


def _requests(fault: str) -> int:
    from ..store import put

    return len(put(faults=[fault]).requests)


def _and(values, unit: str) -> str:
    text = [f"{v:g}" for v in values]
    return ", ".join(text[:-1]) + f" and {text[-1]} {unit}"


CLAIMS = [
    Model("1, 2, 4 s", lambda: ", ".join(f"{s:g}" for s in sleeps()) + " s"),
    Model("1, 2, 4", lambda: ", ".join(f"{s:g}" for s in sleeps()), note="written '1, 2, 4 ... 64 s'"),
    Model("8, 16, 32 and 64 s", lambda: _and(sleeps(max_retries=7)[3:], "s")),
    Source("0", "crates/store/src/backend/s3/mod.rs:137-201@v0.16.18: retry k counts from 0, `1 << min(k, 6)`"),
    Model("3", lambda: str(behaviour().default_max_retries), note="maxRetries' default"),
    Model("10", lambda: str(behaviour().max_retries_range[1]), note="the top of 0.16's maxRetries range"),
    Source("5", "the scenario of the first cells: the fault 503@0-5s (the reader's input)"),
    Source("20", "the panel's stored default: the fault 503@0-20s with maxRetries 5 (the reader's input)"),
    Source("503s", "HTTP 503 Service Unavailable (RFC 9110 §15.6.4), the fault kind 503"),
    Model("4 requests", lambda: f"{_requests('503@0')} requests"),
    Model("5m19s", lambda: dur(put_elapsed("503@0", max_retries=10))),
    Model("1h27m", lambda: dur(_storm(10).delivered_at)),
    Model("1h02m", lambda: dur(_storm(3).delivered_at)),
    Model("65,536 s", lambda: f"{sleeps('0.10.5')[0]:,.0f} s"),
    Model("18 hours", lambda: f"{round(sleeps('0.10.5')[0] / 3600)} hours"),
    Model("18-hour", lambda: f"{round(sleeps('0.10.5')[0] / 3600)}-hour"),
    Model("18 h", lambda: f"{round(sleeps('0.10.5')[0] / 3600)} h"),
    Source("2025", "the fix's date, 2025-01-16: stalwartlabs/stalwart commits bfba299e and 4901411 (CHANGELOG v0.11.2)"),
]
