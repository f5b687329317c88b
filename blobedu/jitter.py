"""Full jitter: a counterfactual backoff for Stalwart's store loop. NOT Stalwart's behaviour.

Theory of operation
-------------------
Stalwart's S3 loop sleeps exactly ``1 << min(k, 6)`` seconds before retry *k*, with no jitter
(``crates/store/src/backend/s3/mod.rs:137-201@v0.16.18``; facts §1).  Readers ask what jitter
would change (issue #19 item 7), so this module offers the comparison Marc Brooker draws in
"Exponential Backoff And Jitter" (AWS Architecture Blog, 2015): **full jitter** sleeps a uniformly
random time between 0 and that same cap.

Everything here is a counterfactual and says so in its labels: :class:`FullJitter` is a drop-in for
:class:`~blobedu.versions.Backoff` (the same ``seconds(k)``/``formula()``), and :func:`jittered`
returns a copy of a version row whose backoff is jittered, so the *same* :func:`blobedu.policy.put`
generator runs with it.  Randomness is injected: a ``random.Random`` built from a seed, so a run is
reproducible and nbval can check it.

:func:`storm` is the store-loop experiment of notebook 01: ``writers`` PUTs that start together meet
a 503 storm (and, optionally, an S3 that serves at most ``capacity`` requests in any whole second
after it, answering 503 SlowDown above that), each driven by ``policy.put`` on a virtual clock.
Notebook 07 runs the fleet with ``FleetConfig(jitter="full")``, which uses :func:`jittered` too.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Optional

from . import policy
from .versions import LATEST, Backoff, Behaviour, behaviour

#: How every figure and table labels the counterfactual.
LABEL = "full jitter (counterfactual, not Stalwart)"
TODAY = "Stalwart today (no jitter)"
JITTERS = ("none", "full")


@dataclass(frozen=True)
class FullJitter:
    """Full jitter over a Stalwart backoff: retry *k* sleeps ``uniform(0, base.seconds(k))``. Counterfactual."""

    base: Backoff
    rng: random.Random = field(compare=False, repr=False)

    def seconds(self, k: int) -> float:
        """A random sleep in ``[0, base.seconds(k)]``, drawn from the injected generator."""
        return self.rng.uniform(0.0, self.base.seconds(k))

    def formula(self) -> str:
        """The expression, marked as not Stalwart's."""
        return f"uniform(0, {self.base.formula()})  [counterfactual, not Stalwart]"


def jittered(b: Behaviour, seed: int = 0) -> Behaviour:
    """A copy of version row ``b`` with full jitter on its backoff (a row that never retries is returned as is)."""
    if b.backoff is None:
        return b
    return replace(b, label=f"{b.label} + {LABEL}", backoff=FullJitter(b.backoff, random.Random(seed)))


@dataclass
class StormRun:
    """What :func:`storm` produced: every request's time and answer, and each writer's end."""

    jitter: str
    writers: int
    storm_seconds: float
    capacity: Optional[int]
    max_retries: int
    requests: list[tuple[float, int]]  # (time, status), in time order
    ended: list[float]  # per writer: when its PUT returned
    ok: list[bool]  # per writer: whether the PUT succeeded (else a 451 to its sender)

    def per_second(self) -> Counter:
        """Requests in each whole second: ``{second: count}``."""
        return Counter(int(t) for t, _ in self.requests)

    @property
    def busiest_second(self) -> int:
        """The most requests S3 met in one whole second."""
        return max(self.per_second().values(), default=0)

    @property
    def busiest_retry_second(self) -> int:
        """The most *retries* in one whole second (each writer's first PUT, the same in both, left out)."""
        firsts = self.writers
        retries = Counter(int(t) for t, _ in self.requests[firsts:]) if self.requests else Counter()
        return max(retries.values(), default=0)

    @property
    def stored(self) -> int:
        """Writers whose PUT succeeded."""
        return sum(self.ok)

    @property
    def failed(self) -> int:
        """Writers whose PUT ended in an ``S3Error``: their senders get ``451 4.3.5``."""
        return len(self.ok) - sum(self.ok)

    @property
    def last_end(self) -> float:
        """When the last writer's PUT returned (stored or failed)."""
        return max(self.ended, default=0.0)


def storm_rows(runs: dict) -> list[dict[str, str]]:
    """One row per :class:`StormRun`: writes stored, 451s, requests, the busiest second of retries, the last end."""
    from .durations import format_duration

    return [{"run": label, "maxRetries": str(r.max_retries), "stored": f"{r.stored:,}", "451 to the sender": f"{r.failed:,}",
             "requests": f"{len(r.requests):,}", "retries in the busiest second": f"{r.busiest_retry_second:,}",
             "last write done at": format_duration(r.last_end)} for label, r in runs.items()]


def storm(writers: int, storm_seconds: float, jitter: str = "none", seed: int = 0, version: str = LATEST,
          max_retries: Optional[int] = None, capacity: Optional[int] = None) -> StormRun:
    """``writers`` PUTs starting at 0 through a 503 storm of ``storm_seconds``, with or without full jitter.

    During the storm every request gets 503.  After it, S3 serves every request, or, with
    ``capacity``, the first ``capacity`` requests of each whole second and 503 SlowDown to the rest.
    Each writer runs :func:`blobedu.policy.put` of ``version``'s row (jittered if ``jitter="full"``,
    all writers drawing from one generator seeded with ``seed``); requests are served in time order
    (ties by writer number).  No verify HEAD, no transport errors: only the backoff differs.
    """
    if jitter not in JITTERS:
        raise ValueError(f"jitter must be one of {JITTERS}, got {jitter!r}")
    if not isinstance(writers, int) or writers < 1:
        raise ValueError(f"writers must be a whole number of at least 1, got {writers!r}")
    b = behaviour(version)
    if jitter == "full":
        b = jittered(b, seed)
    machines = [policy.put(b, max_retries, verify=False) for _ in range(writers)]
    steps: list = [next(m) for m in machines]
    heap = [(0.0, i) for i in range(writers)]
    served: Counter = Counter()
    requests: list[tuple[float, int]] = []
    ended = [0.0] * writers
    ok = [False] * writers
    while heap:
        t, i = heapq.heappop(heap)
        step = steps[i]
        try:
            while True:
                if isinstance(step, policy.Sleep):
                    break
                second = int(t)
                if t < storm_seconds or (capacity is not None and served[second] >= capacity):
                    status = 503
                else:
                    status = 200
                    served[second] += 1
                requests.append((t, status))
                step = machines[i].send(policy.Reply(status=status))
        except StopIteration as done:
            ended[i], ok[i] = t, bool(done.value.ok)
            continue
        steps[i] = machines[i].send(None)
        heapq.heappush(heap, (t + step.seconds, i))
    requests.sort()
    budget = b.default_max_retries if max_retries is None else max_retries
    return StormRun(jitter, writers, float(storm_seconds), capacity, budget, requests, ended, ok)


__all__ = ["FullJitter", "JITTERS", "LABEL", "StormRun", "TODAY", "jittered", "storm", "storm_rows"]
