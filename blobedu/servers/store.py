"""The driver that runs a design's store machine against moto: :class:`blobedu.store.S3BlobStore` with another loop.

Only three things differ from Stalwart's store: the machine (the design's ``put``), the request
edge (:class:`DesignRules`: the design's silent-store timeout and the cost of a refused connect),
and a :class:`~.design.SendDrained` step, which never reaches moto (a truncated upload stores
nothing) and fails in the client unless the connect itself is refused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

from .. import policy
from ..edge import RequestRules
from ..faults import Fault
from ..store import S3BlobStore, StoreConfig
from ..trace import StoreTrace
from .design import Design, SendDrained, drained_reply

#: a request that never reaches the client's timeout: what the rules use when a design has none
_UNBOUNDED = 30 * 86400.0


@dataclass(frozen=True)
class DesignRules(RequestRules):
    """:class:`~blobedu.edge.RequestRules` plus the cost of a refused connect (MongoDB's server selection)."""

    refused_cost: float = 0.0

    def cost(self, reply: policy.Reply) -> float:
        """A refused connect costs ``refused_cost``; a drained resend fails at once; the rest as Stalwart's edge."""
        if reply.error == "refused":
            return self.refused_cost
        if reply.error == "drained":
            return 0.0
        return super().cost(reply)


def read() -> policy.Machine:
    """One GET, no retry: found on 2xx, not found on 404, else failed (reads are not modelled in detail)."""
    reply = yield policy.Send("GET")
    assert reply is not None
    if reply.error:
        return policy.Outcome(False, f"read: {reply.error}")
    status = int(reply.status or 0)
    if 200 <= status <= 299:
        return policy.Outcome(True, found=True)
    if status == 404:
        return policy.Outcome(True, found=False)
    return policy.Outcome(False, f"read: HTTP {status}")


class DesignStore(S3BlobStore):
    """A blob store whose writes follow ``design``'s retry loop, on the same endpoint, clock and faults."""

    def __init__(self, design: Design, endpoint, clock, faults, rng: random.Random, latency: float = 0.0) -> None:
        super().__init__(StoreConfig(latency=latency), endpoint, clock, faults)
        self.design = design
        self.rng = rng
        silent = design.edge.silent
        self.rules = DesignRules(bounded=silent is not None, timeout=_UNBOUNDED if silent is None else silent,
                                 latency=latency, refused_cost=design.edge.refused)
        self.settings = {"design": design.name, "timeout": self.rules.timeout if silent is not None else None,
                         "latency": latency, "verify": False, "max_retries": None}

    def _machine(self, operation: str) -> policy.Machine:
        return self.design.put(self.rng) if operation == "put" else read()

    def _new_trace(self, operation: str, key: str) -> StoreTrace:
        return StoreTrace(operation=operation, version=self.design.name, config=dict(self.settings),
                          faults=self.faults.specs(), key=key)

    def _send(self, step: policy.Send, key: str, data: bytes, fault: Optional[Fault]) -> tuple[policy.Reply, float]:
        if isinstance(step, SendDrained):
            return drained_reply(fault.kind if fault is not None else None), 0.0
        return self.endpoint.send(step.method, key, data, fault, self.rules.timeout)
