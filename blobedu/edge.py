"""What one S3 request meets, what it gets back and what it costs on the clock: pure rules every driver shares.

Theory of operation
-------------------
A driver of the retry loop (:class:`~blobedu.store.S3BlobStore` against moto, :mod:`blobedu.fleet`
without it) has to answer three questions for every :class:`~blobedu.policy.Send`, and both must
answer them the same way, so the answers live here, once:

* :meth:`RequestRules.fault_for` — which fault the request really meets.  On a version whose
  timeout bounds the whole request (v0.5.0-v0.8.1, v0.16.x; reqwest), an answer slower than the
  timeout is never read: whatever S3 would have said, the client sees a timeout.  A refused
  connect costs no latency, so it stays refused.
* :meth:`RequestRules.cost` — how long the request takes on the clock: ``refused`` nothing,
  ``timeout`` the whole timeout, anything else the configured latency (capped at the timeout where
  it bounds the whole request; on a connect-only version a latency is just a latency).
* :meth:`RequestRules.hang` — on a connect-only version (v0.8.2-v0.15.x; hyper 0.14's
  ``set_connect_timeout``), a silent S3 is never timed out: the request hangs until the fault's
  window ends (the endpoint restarts and resets the connection), then fails as ``"hung"``; forever
  if the window never ends (facts §1).

:func:`answer` is the fourth rule, the one the fleet needs because it has no moto: what the S3 API
answers to a method that meets a fault, given whether the object exists.  It is what
:mod:`blobedu.endpoint` produces with moto plus its fault injection (``tests/test_fleet.py::test_answer_matches_the_moto_endpoint`` checks
the two agree, request by request), minus the error body text.

Times here are on the fault plan's clock (seconds from the run's origin).  Nothing here does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .faults import Fault
from .policy import Reply
from .versions import Behaviour

#: What a request to a working S3 gets, by method, when the object exists / does not (moto's answers).
_OK = {"PUT": (200, 200), "HEAD": (200, 404), "GET": (200, 404), "DELETE": (204, 204)}
_TIMEOUT = Fault("timeout", 0.0)


@dataclass(frozen=True)
class RequestRules:
    """The request-edge rules for one store's settings: what the timeout bounds, the timeout, the latency."""

    bounded: bool  # the timeout bounds the whole request (reqwest); False: only the TCP connect (hyper 0.14)
    timeout: float
    latency: float

    @classmethod
    def of(cls, behaviour: Behaviour, settings: Mapping[str, Any]) -> "RequestRules":
        """The rules for a version row and a store's resolved settings (:meth:`StoreConfig.resolved`)."""
        return cls(behaviour.timeout_bounds == "request", float(settings["timeout"]), float(settings["latency"]))

    def fault_for(self, fault: Optional[Fault]) -> Optional[Fault]:
        """The fault a request really meets, given the one the fault plan holds at that moment."""
        if self.bounded and self.latency >= self.timeout and (fault is None or fault.kind != "refused"):
            return _TIMEOUT
        return fault

    def cost(self, reply: Reply) -> float:
        """Seconds the request takes on the clock, given its reply (not for a ``hung`` one: see :meth:`hang`)."""
        if reply.error == "refused":
            return 0.0
        if reply.error == "timeout":
            return self.timeout
        if not self.bounded:
            return self.latency
        return min(self.latency, self.timeout)

    def hang(self, reply: Reply, fault: Optional[Fault], t: float) -> tuple[Reply, Optional[float]]:
        """On a connect-only version, a silent S3 is never timed out: the reply and how long it hangs.

        Returns ``(reply, None)`` when nothing changes, ``(Reply("hung"), seconds)`` when the request
        sent at ``t`` hangs until its fault's window ends, and ``(Reply("hung"), inf)`` when the
        window never ends.
        """
        if reply.error != "timeout" or self.bounded or fault is None:
            return reply, None
        if fault.end is None:
            return Reply(error="hung"), math.inf
        return Reply(error="hung"), max(0.0, fault.end - t)


def answer(method: str, fault: Optional[Fault], exists: bool) -> tuple[Reply, bool]:
    """What S3 answers ``method`` meeting ``fault`` when the object ``exists``; and whether a PUT stored it.

    ``refused`` and ``timeout`` are transport errors; an HTTP-status fault answers that status; a
    ``lost-write`` answers a PUT with 200 and keeps nothing, and leaves every other method alone
    (as :class:`~blobedu.endpoint.InProcessEndpoint` does).
    """
    if fault is not None and not (fault.kind == "lost-write" and method != "PUT"):
        if fault.kind == "refused" or fault.kind == "timeout":
            return Reply(error=fault.kind), False
        if fault.kind == "lost-write":
            return Reply(status=200), False
        return Reply(status=int(fault.kind)), False
    found, missing = _OK[method]
    if method == "PUT":
        return Reply(status=found), True
    return Reply(status=found if exists else missing), False
