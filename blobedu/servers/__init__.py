"""Other mail servers' receivers, one module per design: what each does with a message when its store fails.

Theory of operation
-------------------
Notebook 08 asks whether another server would have kept the message Stalwart leaves with the
sender.  Each design here is the answer one server's source gives (``shared/other-servers.md``, read
at the tags named in each module), in the shape of :mod:`blobedu.policy`:

* a **pure** part (:class:`~.design.Design`): the store write as a generator of Send/Sleep steps
  (count, backoff, jitter from an injected seeded ``rng``, which errors are retried), the timeouts
  that bound one request (:class:`~.design.Edge`), and the replies to the final dot; plus what the
  250 promises and when that promise breaks, and every fact with its source and grade (``code``,
  ``docs``, ``experiment``, ``unverified``);
* a **driver** (:mod:`.store`, :mod:`.receivers`): the same :class:`blobedu.store.S3BlobStore`
  loop against moto, the same fault plan, the same aiosmtpd on loopback, and the same sending
  MTAs with unchanged schedules (:mod:`blobedu.sender`).  A 5xx reply makes the sender bounce at once.

The rules each module keeps: no I/O and no clock in a design module; every number and reply text
named once, where it is defined, with its source line; what blobedu decided where the source is
silent (a stand-in store, a pause to keep a trace finite) is said as such, never passed off as the
server's.

Designs (name → module): ``stalwart`` (:mod:`.stalwart`, the baseline), ``wal`` (:mod:`.wal`, the
write-ahead contrast), ``maddy``, ``james``, ``tmail``, ``dovecot-obox`` (:mod:`.dovecot_obox`,
documentation only), ``wildduck``, ``cyrus`` and ``postfix-local`` (:mod:`.postfix_local`, the
local fsynced queue of Postfix, chasquid and mox).

What each 250 promises, and what the model does on each store event:

==============  ===========================  =================================================
design          store fails (refused/5xx)     after the 250
==============  ===========================  =================================================
stalwart        451 4.3.5, sender keeps it    S3 has the blob (lost only if S3 drops an ack'd PUT)
wal             250 at once (spool)           one local disk until the upload
maddy           **554 5.0.0: a bounce**       S3 has it; a lost write is lost unseen
james           451 4.0.0                     S3 + RabbitMQ; a missing blob is *discarded*
tmail           250 if one store took it      one store until the repair (8 retries, then dead letter)
dovecot-obox    451 4.2.0 (docs + inference)  the object store has it
wildduck        450 (plugin timeout at 30 s)  majority-acked; a late insert duplicates the retry
cyrus           250 (local spool, fsynced)    the local disk (objects >1 MiB: the store only)
postfix-local   250 (local queue, fsynced)    the local disk, until it is lost
==============  ===========================  =================================================
"""

from __future__ import annotations

from types import MappingProxyType

from ..errors import BlobeduError
from . import cyrus, dovecot_obox, james, maddy, postfix_local, stalwart, tmail, wal, wildduck
from .design import Design, Edge, Fact, Ids

DESIGNS = MappingProxyType({d.name: d for d in (
    stalwart.DESIGN, wal.DESIGN, maddy.DESIGN, james.DESIGN, tmail.DESIGN, dovecot_obox.DESIGN,
    wildduck.DESIGN, cyrus.DESIGN, postfix_local.DESIGN)})
NAMES = tuple(DESIGNS)


def design(name: str) -> Design:
    """The design called ``name``; :class:`BlobeduError` naming the choices otherwise."""
    try:
        return DESIGNS[name]
    except (KeyError, TypeError):
        raise BlobeduError(f"unknown receiver {name!r}: {', '.join(NAMES)}") from None


def facts_table(names=NAMES) -> list[dict[str, str]]:
    """Every design's facts as rows (design, what, source, grade)."""
    return [row for n in names for row in design(n).facts_table()]


__all__ = ["DESIGNS", "Design", "Edge", "Fact", "Ids", "NAMES", "design", "facts_table"]
