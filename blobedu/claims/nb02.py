"""Notebook 02 (verifyAfterWrite): the numbers its markdown prints."""

from ..versions import behaviour
from . import Model, Source


def _put_times(fault: str) -> str:
    from ..store import put

    times = [f"{r.t:g}" for r in put(faults=[fault]).requests if r.method == "PUT"]
    return ", ".join(times[:-1]) + f" and {times[-1]} s"


CLAIMS = [
    Model("0, 1, 3 and 7 s", lambda: _put_times("lost-write@0"), note="the PUTs of one shared budget"),
    Model("3", lambda: str(behaviour().default_max_retries), note="maxRetries' default"),
    Source("5 seconds", "the predict cell's scenario: lost-write@0-5s (the reader's input)"),
    Source("8 seconds", "the predict cell's scenario: lost-write@0-8s (the reader's input)"),
    Source("5 8", "the same scenarios, written 5-second and 8-second (the reader's input)"),
    Source("10", "the scenarios: lost-write@0-10m in the receiver slider, lost_until=10s in the panel (inputs)"),
]
