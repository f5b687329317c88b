"""A day of mail through an outage: thousands of messages through the same model, in seconds.

Theory of operation
-------------------
:func:`run` sends ``messages`` messages, arriving evenly over ``over`` seconds from senders in the
given shares, to one receiver whose S3 meets the faults of a :class:`~blobedu.faults.FaultPlan`.
It is a discrete-event simulation: one heap of ``(time, seq)`` wake-ups and, per message, a few
small processes written as generators that yield the time they want to wake at:

* the **sender** (``_sender``): an attempt, the wait for the final-dot reply (at most the sender's
  ``final_dot_wait``: Stalwart 5 min, Postfix and Exim 10), then :meth:`Schedule.next_attempt`
  or the bounce, exactly as :class:`~blobedu.sender.SendingMTA` does;
* the receiver's **final dot** (``_stalwart_dot``): Stalwart's ``put_blob`` driven by the *same*
  :func:`blobedu.policy.put` generator the S3 store runs, fed :class:`~blobedu.policy.Reply`\\ s from
  the *same* request-edge rules (:mod:`blobedu.edge`); 250 when it succeeds, 451 4.3.5 when not.
  A sender that stopped waiting has hung up; the loop still finishes and may still accept, which is
  how duplicates happen (:mod:`blobedu.receiver`);
* the **write-ahead spool** (``_wal_dot``, ``_upload``) for contrast: 250 once on local disk, an
  upload every :data:`~blobedu.spool.UPLOAD_RETRY_SECONDS`, 452 on a full disk, the spool lost with
  the disk (:mod:`blobedu.spool`'s rules and constants);
* **local delivery** after the 250 (``_local``): :func:`blobedu.policy.get` through the same faults,
  retried on the receiver's own Stalwart queue schedule until its expiry bounces it.

No sockets, no moto: the engine keeps, per message, whether its blob is in S3 (:func:`edge.answer`
says what S3 would answer).  That is what makes it fast, and why it must be *proven* equal to the
real engine: ``tests/test_fleet_equivalence.py`` runs a fleet of one against
:func:`blobedu.delivery.deliver` over hundreds of random scenarios, session by session.

What couples the messages
-------------------------
Without ``s3_capacity`` nothing does: each message's blob has its own key, so each message in a
fleet behaves exactly as it would alone at its arrival time (tested).  The couplings are:

* **S3 capacity** (``s3_capacity`` requests per second, :class:`~blobedu.fleet.s3._Capacity`):
  writes (PUT, DELETE) and reads (GET, HEAD) each limited, in the 3,500 : 5,500 ratio S3 documents
  per prefix, by a token bucket that saves up ``s3_burst`` seconds of its rate (an assumption: S3
  documents rates, not bursts) and at least one message's requests.  A request that reaches a
  working S3 (no fault, or a lost write) takes a token; with none left S3 answers ``503 SlowDown``,
  which Stalwart's loop retries with its backoff, without jitter.  Refused, silent or faulted
  requests never reach it and take nothing.
* **Sending servers** (``sending_servers``, :mod:`.senders`): with real senders each server has its
  own queue-run phase and its MTA's session limit (Postfix's window with its feedback, Exim's 5
  runners, Stalwart's 25), so its messages wait for each other's sessions.  With the idealised
  fleet (``sending_servers=0``), a Postfix or Exim *server* per kind retries its deferred mail at
  its queue runs, every 300 s and 30 min from the run's start (``queue_runs="server"``), so the
  retries of every message it holds come in one burst.  ``queue_runs="message"`` times each
  message's runs from its own arrival, as a server holding one message would (that is what
  :func:`blobedu.delivery.deliver` models).
* **The receiver's connection cap** (``max_connections``, 8,192): a connection over it is refused
  and its sender defers.
* **Receiver faults**: a crash ends every in-flight store loop and drops its session (the spool is
  replayed); a disk loss loses every spooled message at once.

What bounds the speed
---------------------
The interpreter stepping generators.  Profiled with cProfile (``benchmarks/fleet.py --profile``:
10,000 messages, 6 h refused on 0.16.18, 24,721 SMTP sessions, 59,442 S3 requests, about 0.25 s
without the profiler): half the time is the generators' own code (the store-loop driver ``_s3``,
``policy.put``/``_request``, the sender and final-dot processes, ``send`` frame switches), about
7 % heap pushes and pops, 7 % recording the series, 5 % assigning senders, the rest schedule
arithmetic and bookkeeping; about 10 µs per SMTP session.  A final dot whose S3 fault cannot change
while it runs goes the fast path (:mod:`.fastpath`): its store loop runs from a plan worked out once
by the same policy machines, as one small object in the calendar (or none, when it ends at once),
not four or five generators, and its sender asks for no deadline wake-up that the plan's reply is
sure to beat; wake-ups for the current instant skip the calendar; the cyclic GC is paused during a
run.  With real senders, figures on a quiet machine are in benchmarks/README.md (issue #21's goal:
1,000,000 messages in 20 s and 1 GB).  So the cost grows with *steps*: messages × attempts during
the outage × requests per attempt; a deferred attempt costs four (its retry, the end of its
transfer, rust-s3's transport retry, the reply).  A 503 storm with maxRetries 10 or a write-ahead
spool (every spooled message retries its upload every minute: 918,055 requests for the same day)
cost 2 to 10 times more.  What keeps it there: zero-cost requests (a refused connect, a
zero-latency answer) never wait in the calendar; a request's answer and cost are computed once per
(method, fault, object state); a store loop hung for good is kept as data, not as a suspended
generator; the series are built after the run with numpy from typed arrays.

What bounds the memory
----------------------
The records of every message, kept for :attr:`FleetResult.detail`.  A session the sender is done
with is a 36-byte row of typed arrays (:class:`~.results.SessionRows`), not a 120-byte object, so a
message deferred through a long outage holds none while it waits; the common one copy that was in
S3 and the mailbox at once is kept as its time; the level logs and request times are typed arrays.
:attr:`Message.sessions` and :attr:`Message.copies` read as before.

Run end
-------
The run ends when nothing is left to happen, or at :data:`~blobedu.clock.HORIZON_SECONDS`.  A
message is ``delivered`` (a copy reached the mailbox: ``delivered_at`` is when its blob was durable
in S3 with a queue entry, as in :func:`delivery.deliver`), ``bounced`` (its author was told),
``lost`` (a 250 was given and the copy is gone: a spool on a lost disk) or ``queued`` (still with a
sender or in the receiver's queue at the end: for instance a read hung for good on a silent S3 on
v0.8.2-v0.15.x, which :func:`delivery.deliver` reports as lost when its run ends).

Where each part lives
---------------------
:mod:`.config` the scenario and its checks; :mod:`.kernel` the calendar, the clock and the lazy
arrivals; :mod:`.s3` the store loop's driver and S3's capacity; :mod:`.senders` the sending
side; :mod:`.receivers` Stalwart's final dot, the spool, local delivery and the node faults;
:mod:`.designs` the other servers' designs (:mod:`blobedu.servers`: maddy, James, TMail, Dovecot obox,
WildDuck, Cyrus, Postfix), each run from its own design object and checked against ``deliver()``;
:mod:`.results` the per-message records and the summary; :mod:`.fastpath` final dots run from
plans; :mod:`.engine` joins them.  Every public
name (and the one-message API: ``Fleet(faults, FleetConfig(messages=1, ...)).run().detail[0]``) is
importable from :mod:`blobedu.fleet` as before the split.
"""

from __future__ import annotations

from .config import (DEFAULT_SAMPLES, DEFAULT_SENDERS, DEFAULT_SIZE, MAX_MESSAGES, MAX_SIZE, RECEIVERS, REPLY_QUOTA,
                     REPLY_TEMPFAIL, UPLOAD_RETRY_SECONDS, FleetConfig, assign_senders, parse_senders)
from .config import DEFAULT_BANDWIDTH, DEFAULT_MAX_CONNECTIONS, DEFAULT_SENDING_SERVERS, DEFAULT_SESSION_SETUP
from .cost import refuse_unbounded, step_budget
from .engine import Fleet, run
from .kernel import _Proc  # noqa: F401  (the private names tests and older callers import)
from .results import Copy, FleetResult, Message, Session, _Log, _percentiles
from .s3 import _SLOWDOWN, _Blob, _Capacity, _HungForever

__all__ = ["DEFAULT_SAMPLES", "DEFAULT_SENDERS", "DEFAULT_SIZE", "MAX_MESSAGES", "MAX_SIZE", "RECEIVERS",
           "REPLY_QUOTA", "REPLY_TEMPFAIL", "UPLOAD_RETRY_SECONDS", "Copy", "Fleet", "FleetConfig", "FleetResult",
           "Message", "Session", "assign_senders", "parse_senders", "run",
           "DEFAULT_BANDWIDTH", "DEFAULT_MAX_CONNECTIONS", "DEFAULT_SENDING_SERVERS", "DEFAULT_SESSION_SETUP",
           "refuse_unbounded", "step_budget"]
