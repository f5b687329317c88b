"""How long S3 may be down before a sender gives up: the number every "is my mail safe" sentence needs.

Theory of operation
-------------------
A sender's *expiry* (a 0.16 Stalwart's 3-day ttl, Postfix's 5-day ``maximal_queue_lifetime``) is not
how long an outage it survives.  What counts is its **last try** before that expiry: if S3 is back by
then, the message is delivered at that try; if not, the sender never tries again and bounces at its
expiry.  A sending Stalwart 0.16 tries at about 0, 2m, 7m, 17m, 32m, 1h02m, 2h02m, 4h02m and
**1d04h02m**; its next try would be at 4d04h, past the 3-day ttl, so it delivers only outages that end
by about 28 h, and bounces the rest at 3 d (``outbound/delivery.rs:1588-1590@v0.16.18``,
``queue/manager.rs:436-462``; facts §3, revision 3).

This module does not re-derive that from the schedule tables: it *runs the model*.  One
:func:`~blobedu.delivery.deliver` run with an outage that never ends gives the sender's attempt times
and its bounce; the last attempt's last S3 request is the latest moment S3 may come back (on v0.16 a
refused PUT is retried once by rust-s3 after 1 s, so that is the try plus 1 s).  A second run with
the outage ending at exactly that moment confirms the delivery and gives its time.  So the number a
reader sees is what ``blobedu deliver`` shows, by construction, for every sender and version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Optional

from .durations import format_duration
from .errors import BlobeduError
from .versions import LATEST

#: The outage :func:`tolerance` assumes: S3 refuses connections (unreachable), from the first try on.
DEFAULT_FAULT = "refused"


@dataclass(frozen=True)
class Tolerance:
    """For one sender: its last try, the longest outage it still delivers, when, and when it bounces."""

    sender: str
    sender_version: Optional[str]
    receiver_version: str
    fault: str
    #: attempts made during an outage that never ends (the first at 0)
    attempts: int
    #: the start of the last attempt, in seconds after the first
    last_try_at: float
    #: an outage from the first try that ends by this many seconds is still delivered
    longest_outage_delivered: float
    #: when that longest delivered outage's message is accepted (the 250)
    delivered_at: float
    #: when a longer outage bounces (the author is told)
    bounce_at: float

    def to_dict(self) -> dict:
        """JSON-ready, in seconds."""
        return asdict(self)

    def line(self) -> str:
        """One sentence for a card or a snippet."""
        return (f"{self.sender}: delivers an outage of up to {format_duration(self.longest_outage_delivered)} "
                f"(last try at {format_duration(self.last_try_at)}); a longer one bounces at "
                f"{format_duration(self.bounce_at)}")


def tolerance(sender: str = "stalwart", version: Optional[str] = None, receiver_version: Optional[str] = None,
              fault: str = DEFAULT_FAULT) -> Tolerance:
    """The outage tolerance of ``sender`` (``version``: a Stalwart sender's release) against a Stalwart receiver.

    ``receiver_version`` is the receiving Stalwart's release (default the latest); ``fault`` the kind
    of outage (default ``refused``: S3 unreachable).  Computed by running :func:`deliver` (cached).
    """
    if version is not None and sender != "stalwart":
        raise BlobeduError(f"a version applies to a Stalwart sender only, not {sender}")
    return _tolerance(sender, version, receiver_version or LATEST, fault)


@lru_cache(maxsize=256)
def _tolerance(sender: str, version: Optional[str], receiver_version: str, fault: str) -> Tolerance:
    from .delivery import DeliveryConfig, deliver
    from .store import StoreConfig

    config = DeliveryConfig(store=StoreConfig(version=receiver_version), sender=sender, sender_version=version)
    forever = deliver([f"{fault}@0"], config)
    if forever.fate != "bounced" or not forever.sessions:
        raise BlobeduError(f"{sender} against a {fault} S3 that never returns ends {forever.fate}, not in a bounce: "
                           "it has no outage tolerance to give")
    last = forever.sessions[-1]
    requests = (last.store or {}).get("requests") or []
    back_by = max([last.t] + [r["t"] for r in requests])
    bounce_at = min(d["t"] for d in forever.dsns if d["kind"] == "failed")
    confirm = deliver([f"{fault}@0-{back_by:g}s"], config) if back_by > 0 else None
    if confirm is None or confirm.fate != "delivered":
        raise BlobeduError(f"model disagreement: an outage ending at {format_duration(back_by)} should be delivered "
                           f"by {sender}'s last try")
    return Tolerance(sender, version, receiver_version, fault, len(forever.sessions), last.t, back_by,
                     confirm.delivered_at, bounce_at)


def tolerances(senders=("stalwart", "postfix", "exim"), version: Optional[str] = None,
               receiver_version: Optional[str] = None) -> dict[str, Tolerance]:
    """:func:`tolerance` for several senders; ``version`` is the Stalwart sender's release."""
    return {s: tolerance(s, version if s == "stalwart" else None, receiver_version) for s in senders}
