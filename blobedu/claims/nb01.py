"""Notebook 01 (the retry loop): the numbers its markdown prints."""

from functools import lru_cache

from ..versions import behaviour
from . import Input, Model, Source
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


@lru_cache(maxsize=None)
def _jitter(jitter: str, max_retries: int):
    """The jitter counterfactual's runs: 100 writers, 503 for 5 s, then 10 requests a second, seed 0."""
    from ..jitter import storm

    return storm(100, 5, jitter, seed=0, max_retries=max_retries, capacity=10)


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
    Input("100 writers 10 requests", "the jitter counterfactual's scenario: 100 writers, S3 serving 10 requests a second after the burst"),
    Source("5-second", "the burst of the first cells, 503@0-5s (the reader's input)"),
    Source("Exponential Backoff And Jitter 2015", "Marc Brooker, AWS Architecture Blog, 2015"),
    Model("1, 3, 7, 15", lambda: ", ".join(f"{t:g}" for t in sorted({t for t, _ in _jitter('none', 10).requests})[1:5])),
    Model("20 writers", lambda: f"{_jitter('none', 10).failed} writers"),
    Model("820 requests", lambda: f"{len(_jitter('none', 10).requests)} requests"),
    Model("26.9s", lambda: dur(_jitter('full', 10).last_end), note="counterfactual, seed 0"),
    Model("542 requests", lambda: f"{len(_jitter('full', 10).requests)} requests", note="counterfactual, seed 0"),
    Model("126", lambda: str(_jitter('full', 10).busiest_retry_second), note="counterfactual, seed 0"),
    Model("instead of 100", lambda: f"instead of {_jitter('none', 10).busiest_retry_second}"),
    Model("11 writes", lambda: f"{_jitter('full', 3).stored} writes", note="counterfactual, seed 0"),
    Model("instead of 10", lambda: f"instead of {_jitter('none', 3).stored}"),
    Model("last write ends after 5m19s", lambda: f"last write ends after {dur(_jitter('none', 10).last_end)}"),
]
