"""Linagora TMail 1.0.19.3 with a secondary blob store: both stores written at once; one success is a 250.

Theory of operation
-------------------
TMail runs James's SMTP path (:mod:`.james`), with ``SecondaryBlobStoreDAO`` under the blob store
(tmail-backend blob/secondary-blob-store/.../SecondaryBlobStoreDAO.java:169-204,264-280@1.0.19.3):
every save goes to the primary and the secondary **in parallel** and waits for both.

* both succeed: done;
* **both fail**: ``ObjectStoreException``, so James answers ``451 4.0.0 Error processing message.``;
* **one fails**: a warning, and a ``FailedBlobEvents.BlobAddition`` event on the event bus; the save
  *succeeds*, so the sender gets a **250 while one copy exists**.

The event's listener copies the blob from the surviving store to the failed one (FailedBlobOperation
Listener.java:76-95).  It is retried as a group listener of James's distributed event bus is: 8
retries (RetryBackoffConfiguration.java:65-71@james-project-3.9.0), the n-th after
``100 ms·2^(n-1)`` plus up to 50 ms (WaitDelayGenerator.java:67-78), about 26 s in all; then the
event is stored as a **dead letter** (GroupConsumerRetry.java:98-101) until an admin redelivers it.
Whether TMail overrides these defaults is **unverified**.
Reads try the primary and fall back to the secondary on any error (SecondaryBlobStoreDAO.java:116-158),
so the reader sees the mail.  Each store's client is James's AWS SDK (:func:`.james.put`).

blobedu's fault plan hits the **primary** store; the secondary is another bucket on its own endpoint,
healthy unless the run says otherwise.  A lost write on the primary answers 200 to both saves, so no
repair event is sent: the secondary alone keeps the mail, unnoticed, and reads fall back to it.
"""

from __future__ import annotations

import random

from . import james
from .design import Design, Edge, Fact, Ids, Outcome

REPAIR_RETRIES = 8  # RetryBackoffConfiguration DEFAULT_MAX_RETRIES
REPAIR_FIRST_BACKOFF = 0.1  # DEFAULT_FIRST_BACKOFF = 100 ms
REPAIR_JITTER = 0.5  # DEFAULT_JITTER_FACTOR


def repair_backoff(retry: int, rng: random.Random) -> float:
    """The distributed event bus's wait before retry ``retry + 1``: ``0.1 s·2^retry`` plus ``U(0, 0.05 s)``.

    ``WaitDelayGenerator.generateDelay`` (event-bus/distributed/.../WaitDelayGenerator.java:67-78
    @james-project-3.9.0): the exponential part from the first backoff, and a jitter of at most
    first backoff × jitter factor (50 ms), added, never subtracted.
    """
    return REPAIR_FIRST_BACKOFF * (1 << retry) + rng.random() * REPAIR_FIRST_BACKOFF * REPAIR_JITTER


def merge(primary: Outcome, secondary: Outcome) -> tuple[Outcome, str | None]:
    """``SecondaryBlobStoreDAO.merge``: the save's outcome, and which store needs a repair (None: none)."""
    if primary.ok and secondary.ok:
        return Outcome(True), None
    if not primary.ok and not secondary.ok:
        return Outcome(False, "ObjectStoreException: Failure to save in both blobStore"), None
    return Outcome(True), "primary" if not primary.ok else "secondary"


def readable(blobs) -> bool:
    """Whether a mail is readable after its saves: ``blobs`` is ``(in primary, in secondary)`` for each blob.

    ``SecondaryBlobStoreDAO.read``/``readBytes`` (SecondaryBlobStoreDAO.java:116-158@1.0.19.3) read
    *one blob*: the primary, then the secondary on any error (``ObjectNotFoundException`` included).
    So each blob (the header, the body) needs a copy in either store; they need not be in the same
    one, and a blob in neither store makes the mail unreadable whatever the other blob's copies.
    """
    return all(primary or secondary for primary, secondary in blobs)


FACTS = james.FACTS[:4] + (
    Fact("each save goes to both stores in parallel and waits for both (collectList)",
         "SecondaryBlobStoreDAO.java:169-204,264-280@tmail-backend 1.0.19.3"),
    Fact("both fail: ObjectStoreException (so 451 4.0.0); one fails: warn + BlobAddition repair event, save succeeds",
         "SecondaryBlobStoreDAO.java:264-280@tmail-backend 1.0.19.3"),
    Fact("the repair copies the blob from the surviving store", "FailedBlobOperationListener.java:76-95@1.0.19.3"),
    Fact("repair retries: 8, the n-th after 100 ms·2^(n-1) + U(0, 50 ms) (James distributed event bus defaults)",
         "RetryBackoffConfiguration.java:65-71; WaitDelayGenerator.java:67-78@james-project-3.9.0"),
    Fact("after the 8th failed retry the event is stored as a dead letter", "GroupConsumerRetry.java:98-101"
         "@james-project-3.9.0"),
    Fact("TMail keeps James's event-bus retry defaults for the repair listener", "not checked in tmail-backend",
         "unverified"),
    Fact("reads try the primary, then the secondary on any error, blob by blob", "SecondaryBlobStoreDAO.java:116-158@1.0.19.3"),
)

DESIGN = Design(
    name="tmail", label="TMail 1.0.19.3 (two blob stores)", version="1.0.19.3", store="two S3 stores",
    held_meanwhile="the JVM heap, or an unsynced temp file over 100 KB (James's path)",
    promise="the mail is in at least ONE of the two stores; a repair event copies it to the other",
    broken_when="the one store holding it loses it before the repair runs (or while the repair is dead-lettered)",
    facts=FACTS, put=james.put, reply_ok=james.reply_ok, reply_failed=james.reply_failed,
    edge=Edge(silent=james.SDK_READ_TIMEOUT),
)
