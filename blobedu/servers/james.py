"""Apache James 3.9.0, distributed server: the SMTP reply waits for blob store, Cassandra and RabbitMQ; any failure is 451 4.0.0.

Theory of operation
-------------------
On the final dot ``SendMailHandler.onMessage`` calls ``queue.enQueue(mail)`` and blocks on it
(SendMailHandler.java:116-117; RabbitMQMailQueue.java:94-96).  ``Enqueuer.enQueue`` saves the mail
to the blob store as **two blobs**, header and body, subscribed concurrently (MimeMessageStore.java
:87-125; Store.java:93-99), then writes the Cassandra queue view and publishes to RabbitMQ within a
hard 10 s (Enqueuer.java:78-91,141-147).  Meanwhile the body sits on the heap (up to 100 KB) or in
an unsynced temp file (MimeMessageInputStreamSource.java:52,109).  No WAL, no write-back cache.

Any exception from the enqueue becomes ``DENYSOFT`` with ``4.0.0 Error processing message.``
(SendMailHandler.java:141-146; DSNStatus.java:39,56), which is wire ``451`` (AbstractHookableCmd
Handler.java:231-232; SMTPRetCode.java:85).  Success is ``250 2.6.0 Message received``
(SendMailHandler.java:148-151).  That a blob-store failure takes this path is read from the code,
not run (the fact sheet says so too).

The S3 client is the AWS SDK v2 (2.33.5, blob-s3/pom.xml:36) with **its defaults**: James sets no
retry policy (S3ClientFactory.java:97-132).  blobedu models the SDK's LEGACY mode as the fact sheet
does: up to 3 retries (4 attempts) on 5xx, throttling and I/O errors; before retry ``k`` a full-
jitter wait ``U(0, min(20 s, 0.1 s·2^k))``, and for throttling (429, 503 SlowDown) an equal-jitter
one with a 0.5 s base; a read timeout of 30 s per attempt.  These are SDK defaults from its
documentation, **not verified at 2.33.5**, and whether the SDK can resend the streamed body was not
checked either.  James's own upload retry defaults to 0 attempts (S3BlobStoreConfiguration.java
:176-179; blobstore.adoc:103-110), so it adds nothing.

After the 250 the mail waits in RabbitMQ and the blobs in S3.  The dequeue loads the blobs: a blob
that is **not found** makes James discard the message, "to prevent an infinite loop", nacked without
requeue (Dequeuer.java:163-176): after a lost write, mail that got a 250 is dropped and nobody is told.
Other load errors requeue it.
"""

from __future__ import annotations

import random

from .design import Design, Edge, Fact, Ids, Machine, Outcome, Send, Sleep

SDK_MAX_RETRIES = 3  # RetryMode LEGACY: "Up to 3 retries" (AWS SDK for Java v2 docs)
SDK_BASE_DELAY = 0.1  # FullJitterBackoffStrategy base delay (SDK docs)
SDK_THROTTLED_BASE_DELAY = 0.5  # EqualJitterBackoffStrategy base delay for throttling (SDK docs)
SDK_MAX_BACKOFF = 20.0
SDK_READ_TIMEOUT = 30.0  # SdkHttpConfigurationOption DEFAULT_SOCKET_READ_TIMEOUT (older commit 0131c08)
THROTTLING = frozenset({429, 503})  # 503 answers SlowDown here (blobedu.endpoint's error body)
REPLY_OK = "250 2.6.0 Message received"
REPLY_FAILED = "451 4.0.0 Error processing message."


def backoff(retry: int, status: int | None, rng: random.Random) -> float:
    """The SDK's wait before retry ``retry`` (0-based): full jitter, or equal jitter when throttled."""
    if status in THROTTLING:
        ceil = min(SDK_MAX_BACKOFF, SDK_THROTTLED_BASE_DELAY * (1 << retry))
        return ceil / 2 + rng.random() * ceil / 2
    ceil = min(SDK_MAX_BACKOFF, SDK_BASE_DELAY * (1 << retry))
    return rng.random() * ceil


def retryable(status: int | None, error: str | None) -> bool:
    """SDK LEGACY: I/O errors, 5xx and throttling are retried."""
    return error is not None or (status is not None and (status >= 500 or status in THROTTLING))


def put(rng: random.Random) -> Machine:
    """One blob save: the SDK's attempts and waits (James's own upload retry is 0 by default)."""
    for retry in range(SDK_MAX_RETRIES + 1):
        reply = yield Send("PUT")
        assert reply is not None
        if not reply.error and 200 <= int(reply.status or 0) <= 299:
            return Outcome(True)
        error = f"SdkException: {reply.error}" if reply.error else f"S3Exception: HTTP {reply.status}"
        if retry == SDK_MAX_RETRIES or not retryable(reply.status, reply.error):
            return Outcome(False, error)
        yield Sleep(backoff(retry, reply.status, rng), "backoff")
    return Outcome(False, "unreachable")  # pragma: no cover


def reply_ok(ids: Ids) -> str:
    """``SendMailHandler``: 250 with DSN 2.6.0."""
    return REPLY_OK


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """Any enqueue exception: DENYSOFT, 451 4.0.0."""
    return REPLY_FAILED


FACTS = (
    Fact("the reply waits for the enqueue: header+body blobs, then Cassandra view, then RabbitMQ publish (10 s cap)",
         "SendMailHandler.java:116-117; Enqueuer.java:78-91,141-147; MimeMessageStore.java:87-125@james-project-3.9.0"),
    Fact("any enqueue exception answers 451 4.0.0 Error processing message.",
         "SendMailHandler.java:141-146; AbstractHookableCmdHandler.java:231-232; DSNStatus.java:39,56"
         "@james-project-3.9.0"),
    Fact("a blob-store failure reaches that path", "inferred from the code; not run (other-servers.md §2.1)",
         "unverified"),
    Fact("success answers 250 2.6.0 Message received", "SendMailHandler.java:148-151@james-project-3.9.0"),
    Fact("no retry policy set: AWS SDK v2 defaults (LEGACY: 3 retries, base 100 ms, read timeout 30 s)",
         "S3ClientFactory.java:97-132; blob-s3/pom.xml:36@james-project-3.9.0; SDK docs (constants not checked "
         "at 2.33.5)", "unverified"),
    Fact("James's own upload retry: 0 attempts by default",
         "S3BlobStoreConfiguration.java:176-179; blobstore.adoc:103-110@james-project-3.9.0"),
    Fact("after the 250 a queue blob that is not found discards the mail (nack without requeue)",
         "Dequeuer.java:163-176@james-project-3.9.0"),
    Fact("the body waits on the heap (<100 KB) or in an unsynced temp file",
         "MimeMessageInputStreamSource.java:52,88-91,109@james-project-3.9.0"),
)

DESIGN = Design(
    name="james", label="Apache James 3.9.0 (distributed)", version="james-project-3.9.0", store="S3",
    held_meanwhile="the JVM heap, or an unsynced temp file over 100 KB",
    promise="both blobs are in S3 and the mail is in the RabbitMQ queue",
    broken_when="S3 loses an acknowledged blob: the dequeue then discards the mail, and nobody is told",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=SDK_READ_TIMEOUT),
)
