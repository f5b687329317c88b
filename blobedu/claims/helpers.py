"""Small computations the registry's :class:`~blobedu.claims.Model` entries share (cached model runs)."""

from __future__ import annotations

from functools import lru_cache

from ..durations import format_duration as dur  # noqa: F401  (re-exported: "1d04h", "5m19s", "7s")
from ..schedules import sender_schedule
from ..tolerance import tolerance as tol  # noqa: F401
from ..versions import LATEST, behaviour


def hours(seconds: float) -> str:
    """Whole hours with a space: ``28 h``."""
    return f"{round(seconds / 3600)} h"


def spaced(seconds: float) -> str:
    """A duration the way prose writes it: ``7 s``, ``61 s``, ``5 minutes``, ``3 days``."""
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit if n != 1 else unit[:-1]}"
    return f"{seconds:g} s"


def sleeps(version: str = LATEST, max_retries: int | None = None) -> list[float]:
    """The store loop's sleeps between retries for a version (the version table's backoff)."""
    b = behaviour(version)
    n = b.default_max_retries if max_retries is None else max_retries
    return [b.backoff.seconds(k) for k in range(n)] if b.retries else []


def expiry(sender: str, version: str | None = None) -> float:
    """When a sender gives up: Stalwart's expire, Postfix's lifetime, Exim's last cutoff."""
    s = sender_schedule(sender, version)
    if s.kind == "postfix":
        return s.params["lifetime"]
    if s.kind == "exim":
        return s.params["rules"][-1][1]
    return s.expire


@lru_cache(maxsize=None)
def put_elapsed(fault: str, version: str = LATEST, max_retries: int | None = None, timeout: float | None = None,
                latency: float = 0.0) -> float:
    """How long one ``put_blob`` takes through ``fault`` (virtual seconds, a real run on moto)."""
    from ..store import S3BlobStore, StoreConfig

    kwargs = {"version": version, "latency": latency}
    if max_retries is not None:
        kwargs["max_retries"] = max_retries
    if timeout is not None:
        kwargs["timeout"] = timeout
    with S3BlobStore(StoreConfig(**kwargs), faults=[fault]) as store:
        return store.put(b"x").elapsed


@lru_cache(maxsize=None)
def delivered_at(*faults: str, sender: str = "stalwart", version: str | None = None, **store) -> float:
    """When a delivery through ``faults`` is accepted (a real deliver() run); nan if it is not delivered."""
    from ..delivery import DeliveryConfig, deliver
    from ..store import StoreConfig

    trace = deliver(list(faults), DeliveryConfig(store=StoreConfig(**store), sender=sender, sender_version=version))
    return trace.delivered_at if trace.fate == "delivered" else float("nan")


@lru_cache(maxsize=None)
def first_reply_after(*faults: str, version: str = LATEST, **store) -> float:
    """When the receiver answers the first session (a real deliver() run): the store loop's length."""
    from ..delivery import DeliveryConfig, deliver
    from ..store import StoreConfig

    trace = deliver(list(faults), DeliveryConfig(store=StoreConfig(version=version, **store)))
    return trace.sessions[0].receiver_replied_at


def worst(max_retries: int | None = None, timeout: float | None = None, version: str = LATEST) -> dict:
    """:func:`blobedu.policy.worst_case_seconds` for a version's store settings."""
    from ..policy import worst_case_seconds

    b = behaviour(version)
    return worst_case_seconds(b, max_retries, b.default_timeout if timeout is None else timeout)


# -- added for notebooks 05 and 06 (prose56) ----------------------------------------------------------------

@lru_cache(maxsize=None)
def run(*faults: str, sender: str = "stalwart", **store):
    """One deliver() run through ``faults`` (cached): the trace a notebook cell prints."""
    from ..delivery import DeliveryConfig, deliver
    from ..store import StoreConfig

    return deliver(list(faults), DeliveryConfig(store=StoreConfig(**store), sender=sender))


def first_session_requests(*faults: str, sender: str = "stalwart", **store) -> dict[str, int]:
    """How many requests of each method the first session's store loop sent: ``{"PUT": 11, "HEAD": 1}``."""
    from collections import Counter

    trace = run(*faults, sender=sender, **store)
    return dict(Counter(r["method"] for r in trace.sessions[0].store["requests"]))


def listed(values, unit: str = "") -> str:
    """Numbers the way prose lists them: ``1, 2 and 4 s``."""
    texts = [f"{v:g}" for v in values]
    head = ", ".join(texts[:-1])
    return (f"{head} and {texts[-1]}" if head else texts[-1]) + (f" {unit}" if unit else "")


@lru_cache(maxsize=None)
def purge_race(purge_scan: float = 125.0, delete_at: float = 130.0):
    """:func:`blobedu.purge.race` with its defaults (notebook 06), cached."""
    from ..purge import race

    return race(purge_scan=purge_scan, delete_at=delete_at)
