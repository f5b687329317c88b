"""A fleet scenario: how many messages, over how long, from which senders and servers, to which receiver."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from ..clock import HORIZON_SECONDS
from ..errors import BlobeduError
from ..schedules import SENDERS
from ..store import StoreConfig

#: the designs of :mod:`blobedu.servers` the fleet runs besides Stalwart and the spool (:mod:`.designs`)
FLEET_DESIGNS = ("maddy", "james", "tmail", "dovecot-obox", "wildduck", "cyrus", "postfix-local")
#: designs of :mod:`blobedu.servers` the fleet refuses, with the one line that says why (none today)
REFUSED: dict[str, str] = {}
RECEIVERS = ("stalwart", "wal") + FLEET_DESIGNS
#: Bounds on the inputs: far beyond what fits the speed goals, short of what would exhaust memory.
MAX_MESSAGES = 200_000
MAX_SIZE = 1 << 30
DEFAULT_SENDERS: tuple[tuple[str, float], ...] = (("stalwart", 40.0), ("postfix", 40.0), ("exim", 20.0))
DEFAULT_SIZE = 64 * 1024  # spool.DEFAULT_MESSAGE_BYTES: a text mail with a small attachment
DEFAULT_SAMPLES = 300
REPLY_TEMPFAIL = "451 4.3.5 Unable to accept message at this time."  # receiver.REPLY_TEMPFAIL (data.rs:829)
REPLY_QUOTA = "452 4.3.1 Mail system full, try again later."  # receiver.REPLY_QUOTA
UPLOAD_RETRY_SECONDS = 60.0  # spool.UPLOAD_RETRY_SECONDS (checked equal in tests/test_fleet.py)
#: How many independent sending servers share the mix (``--sending-servers``'s default).  Why 100:
#: a receiver's inbound mail comes from a few large senders and a long tail; 100 servers is enough
#: that no single server's queue run is a large share of any burst (each holds 1 %), while a day of
#: 10,000 messages still gives each server about 100, so its concurrency limit binds in a recovery.
#: Its effect is shown in notebook 07 (the burst with 1 server of each kind against 100).
DEFAULT_SENDING_SERVERS = 100
#: A session's set-up before the body (connect, TLS, EHLO, MAIL, RCPT, DATA): about six round trips
#: of 50 ms.  An assumption, stated; ``--session-setup`` changes it.
DEFAULT_SESSION_SETUP = 0.3
#: The body's transfer rate, bytes a second (10 Mbit/s): an assumption, stated; ``--bandwidth``.
DEFAULT_BANDWIDTH = 1_250_000.0
#: A Stalwart listener's connection cap: ``server.max-connections`` 8192
#: (common/src/config/server/listener.rs:197-203@v0.15.5; SystemSettings.maxConnections 8192,
#: registry/src/schema/structs_impl.rs:41477@v0.16.18, enforced in network/listen.rs:258).  A
#: connection over it is accepted and dropped at once: its sender sees no greeting and defers.
DEFAULT_MAX_CONNECTIONS = 8192
MAX_SENDING_SERVERS = 100_000
_SENDERS_RE = re.compile(r"^\s*([a-z0-9]+)\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*$")


def parse_senders(text: str) -> tuple[tuple[str, float], ...]:
    """Parse ``stalwart:40,postfix:40,exim:20`` into ``(name, share)`` pairs (shares are weights)."""
    pairs: list[tuple[str, float]] = []
    for part in str(text).split(","):
        match = _SENDERS_RE.match(part)
        if not match:
            raise BlobeduError(f"bad sender share {part.strip()[:40]!r}: write NAME:SHARE,... e.g. "
                               "stalwart:40,postfix:40,exim:20")
        name, share = match.group(1), float(match.group(2))
        if name not in SENDERS:
            raise BlobeduError(f"unknown sender {name!r} in --senders: {', '.join(SENDERS)}")
        if any(name == n for n, _ in pairs):
            raise BlobeduError(f"sender {name!r} is listed twice in --senders")
        pairs.append((name, share))
    if not sum(s for _, s in pairs) > 0:
        raise BlobeduError("--senders: at least one share must be more than 0")
    if not sum(s for _, s in pairs) < math.inf:
        raise BlobeduError("--senders: the shares must add up to a finite number")
    return tuple(pairs)


@dataclass(frozen=True)
class FleetConfig:
    """A fleet scenario: the receiver's store, how many messages over how long, from whom, and S3's capacity."""

    store: StoreConfig = field(default_factory=StoreConfig)
    messages: int = 1000
    over: float = 86400.0
    senders: tuple[tuple[str, float], ...] = DEFAULT_SENDERS
    receiver: str = "stalwart"
    s3_capacity: Optional[float] = None
    s3_burst: float = 1.0  # seconds of capacity S3 may save up (an assumption: S3 documents rates, not bursts)
    size: int = DEFAULT_SIZE
    data_timeout: Optional[float] = None  # None: each sender's own final-dot wait
    queue_runs: str = "server"
    samples: int = DEFAULT_SAMPLES
    #: 0: the idealised fleet (one server per kind, no concurrency limit, instant sessions), which is
    #: what deliver() models; N > 0: N real sending servers (blobedu.fleet.senders)
    sending_servers: int = 0
    session_setup: float = 0.0  # seconds before the body (DEFAULT_SESSION_SETUP with real senders)
    bandwidth: float = 0.0  # bytes a second for the body; 0: instant
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: real senders' queue-run phases: "spread" evenly over the run interval (independent servers),
    #: or "aligned" (every server runs its queue at the same instants: the burst with no jitter)
    phases: str = "spread"
    #: the receiver's store backoff: "none" is Stalwart's (1, 2, 4 ... s exactly); "full" is a
    #: COUNTERFACTUAL, not Stalwart: Brooker's full jitter (blobedu.jitter), drawn from ``jitter_seed``
    jitter: str = "none"
    jitter_seed: int = 0
    #: seeds the designs' random draws (ids, jitter), as ``DeliveryConfig.seed`` seeds deliver()'s
    seed: int = 0

    @classmethod
    def real(cls, **kw) -> "FleetConfig":
        """A config with real senders and the stated defaults (the CLI's and notebook 07's)."""
        base = dict(sending_servers=DEFAULT_SENDING_SERVERS, session_setup=DEFAULT_SESSION_SETUP,
                    bandwidth=DEFAULT_BANDWIDTH)
        base.update(kw)
        return cls(**base)

    @property
    def transfer_seconds(self) -> float:
        """How long a session takes before its final dot."""
        return self.session_setup + (self.size / self.bandwidth if self.bandwidth else 0.0)

    def check(self) -> None:
        """Raise :class:`BlobeduError` for any bad value (a store whose one write could outlast the horizon too)."""
        self.store.check_horizon()
        if not isinstance(self.messages, int) or not 1 <= self.messages <= MAX_MESSAGES:
            raise BlobeduError(f"messages must be a whole number from 1 to {MAX_MESSAGES:,}, got {self.messages!r}")
        if not (0 <= self.over <= HORIZON_SECONDS):
            raise BlobeduError(f"--over must be from 0 to 30d, got {self.over!r}")
        if self.receiver not in RECEIVERS:
            if self.receiver in REFUSED:
                raise BlobeduError(f"receiver {self.receiver} is not in the fleet: {REFUSED[self.receiver]}")
            raise BlobeduError(f"unknown receiver {self.receiver!r}: {', '.join(RECEIVERS)}")
        if self.receiver in FLEET_DESIGNS:
            from .designs import check

            check(self)
        if self.s3_capacity is not None and not (0 < self.s3_capacity < math.inf):
            raise BlobeduError(f"S3 capacity must be a number of requests per second above 0, got {self.s3_capacity!r}")
        if not (0 < self.s3_burst <= 3600):
            raise BlobeduError(f"S3 burst must be more than 0 and at most 3600 seconds of capacity, got {self.s3_burst!r}")
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_SIZE:
            raise BlobeduError(f"size must be a whole number of bytes from 1 to {MAX_SIZE:,}, got {self.size!r}")
        if self.data_timeout is not None and not (0 < self.data_timeout < math.inf):
            raise BlobeduError(f"data timeout must be more than 0 seconds, got {self.data_timeout!r}")
        if self.queue_runs not in ("server", "message"):
            raise BlobeduError(f"queue_runs must be 'server' or 'message', got {self.queue_runs!r}")
        if not self.senders or not sum(s for _, s in self.senders) > 0:
            raise BlobeduError("senders: at least one share must be more than 0")
        for name, share in self.senders:
            if name not in SENDERS:
                raise BlobeduError(f"unknown sender {name!r}: {', '.join(SENDERS)}")
            if not (0 <= share < math.inf):
                raise BlobeduError(f"sender share must be 0 or more, got {share!r}")
        if not sum(s for _, s in self.senders) < math.inf:
            raise BlobeduError("senders: the shares must add up to a finite number")
        if not isinstance(self.sending_servers, int) or not 0 <= self.sending_servers <= MAX_SENDING_SERVERS:
            raise BlobeduError(f"sending servers must be a whole number from 0 to {MAX_SENDING_SERVERS:,}, "
                               f"got {self.sending_servers!r}")
        if not (0 <= self.session_setup <= 3600):
            raise BlobeduError(f"session set-up must be from 0 to 3600 seconds, got {self.session_setup!r}")
        if not (self.bandwidth == 0 or 1 <= self.bandwidth < math.inf):
            raise BlobeduError(f"bandwidth must be 0 (instant) or at least 1 byte a second, got {self.bandwidth!r}")
        if not isinstance(self.max_connections, int) or not 1 <= self.max_connections <= 10_000_000:
            raise BlobeduError(f"max connections must be a whole number from 1 to 10,000,000, got {self.max_connections!r}")
        if self.jitter not in ("none", "full"):
            raise BlobeduError(f"jitter must be 'none' (Stalwart's) or 'full' (a counterfactual), got {self.jitter!r}")
        if not isinstance(self.seed, int):
            raise BlobeduError(f"seed must be a whole number, got {self.seed!r}")
        if not isinstance(self.jitter_seed, int):
            raise BlobeduError(f"jitter_seed must be a whole number, got {self.jitter_seed!r}")
        if self.phases not in ("spread", "aligned"):
            raise BlobeduError(f"phases must be 'spread' or 'aligned', got {self.phases!r}")
        if not 2 <= self.samples <= 10_000:
            raise BlobeduError(f"samples must be from 2 to 10,000, got {self.samples!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the store's resolved settings."""
        d = asdict(self)
        d["store"] = self.store.resolved()
        d["senders"] = {name: share for name, share in self.senders}
        return d


def assign_senders(shares: Sequence[tuple[str, float]], n: int) -> list[str]:
    """Which sender sends each of ``n`` messages: smooth weighted round robin, so every prefix keeps the shares."""
    credit = [0.0] * len(shares)
    total = sum(s for _, s in shares)
    weights = [share for _, share in shares]
    kinds = range(len(shares))
    out: list[str] = []
    for _ in range(n):
        for k in kinds:
            credit[k] += weights[k]
        best = max(kinds, key=credit.__getitem__)
        credit[best] -= total
        out.append(shares[best][0])
        if not any(credit):  # back where it started: the rest repeats this cycle exactly (100,000s of messages)
            cycle = out
            out = cycle * (n // len(cycle)) + cycle[:n % len(cycle)]
            break
    return out
