"""maddy 0.9.4 with ``storage.imapsql`` and ``msg_store s3``: a failed S3 write is a **permanent** 554.

Theory of operation
-------------------
maddy's default config delivers inbound mail synchronously (``deliver_to &local_mailboxes``,
maddy.conf:75,102@v0.9.4): on the final dot the body is streamed through an ``io.Pipe`` into one
minio-go ``PutObject`` (internal/storage/blob/s3/s3.go:145-172), then the SQL row commits, then the
reply.  The body waits meanwhile in the SMTP endpoint's buffer (RAM below 1 MiB, else a file in
``StateDirectory/buffer``), removed after the reply (session.go:463-474): no WAL, no fallback.

The retry loop is minio-go v7.0.84's (retry.go:30-70, 93-151):

* 10 attempts; before attempt ``n+1`` (and, as the retry timer's goroutine does, once more after the
  last) it waits ``U(0, min(1 s, 0.2 s · 2^n))`` (full jitter, ``MaxJitter = 1.0``);
* retried: transport errors, and HTTP 408, 429, 499, 500, 502, 503, 504, 520; anything else (403)
  ends at once;
* **the body is a pipe**, so once an attempt has read it (an HTTP answer, or a response-header
  timeout after the body went out) every later attempt is :class:`~.design.SendDrained`: it fails
  in the client, ``ContentLength=N with Body length 0``.  Only a refused connect leaves the body
  unread, so only a refused S3 that comes back within the ~4 s of retries can still take it;
* a silent S3 costs the transport's ``ResponseHeaderTimeout`` of 1 minute (transport.go:44-64);
  there is no overall timeout and the context is ``context.TODO()``.

Any failure reaches ``wrapErr`` (session.go:572-617): no error in the chain says ``Temporary()``, so
the reply is ``554`` with no enhanced code, which go-smtp writes as ``5.0.0`` (conn.go:1220-1230
@emersion/go-smtp v0.21.3; maddy uses a fork), and the msg ID is appended.  A 554 is permanent: the
sender bounces the message at once, even when S3 is back a minute later.  Success is go-smtp's
``250 2.0.0 OK: queued`` (conn.go:1198@v0.21.3).
"""

from __future__ import annotations

import random

from .design import Design, Edge, Fact, Ids, Machine, Outcome, Send, SendDrained, Sleep

MAX_RETRY = 10  # minio-go retry.go:30-44@v7.0.84
RETRY_UNIT = 0.2  # DefaultRetryUnit = 200 * time.Millisecond
RETRY_CAP = 1.0  # DefaultRetryCap = time.Second
MAX_JITTER = 1.0  # full jitter
RETRY_STATUSES = frozenset({408, 429, 499, 500, 502, 503, 504, 520})  # retry.go:93-124
RESPONSE_HEADER_TIMEOUT = 60.0  # transport.go:44-64: ResponseHeaderTimeout: time.Minute
REPLY_OK = "250 2.0.0 OK: queued"
REPLY_FAILED = "554 5.0.0 Internal server error (msg ID = {msg_id})"


def backoff(attempt: int, rng: random.Random) -> float:
    """minio-go's ``exponentialBackoffWait(attempt)``: ``min(cap, unit·2^attempt)`` minus full jitter."""
    sleep = min(RETRY_CAP, RETRY_UNIT * (1 << attempt))
    return sleep - rng.random() * sleep * MAX_JITTER


def put(rng: random.Random) -> Machine:
    """One ``PutObject`` of a pipe body through minio-go's retry timer."""
    drained = False
    error = "no attempt"
    for attempt in range(MAX_RETRY):
        reply = yield (SendDrained("PUT") if drained else Send("PUT"))
        assert reply is not None
        done = None
        if reply.error == "drained":
            error = "http: ContentLength=N with Body length 0"
        elif reply.error:
            error = f"transport error: {reply.error}"
            drained = drained or reply.error != "refused"  # a timeout came after the body went out
        else:
            status = int(reply.status or 0)
            drained = True  # S3 read the body before it answered
            if 200 <= status <= 299:
                done = Outcome(True)
            elif status not in RETRY_STATUSES:
                done = Outcome(False, f"s3 PutObject: HTTP {status}")
            else:
                error = f"s3 PutObject: HTTP {status}"
        if done is not None:
            return done
        # the retry timer's goroutine waits after every attempt, the last one too (retry.go newRetryTimer),
        # but it starts the wait when it hands the attempt out (retry.go:73-88@7.0.46): an attempt that
        # outlasted its wait, a response-header timeout, is followed by the next at once (recorded:
        # notebooks/transcripts/maddy_minio.json, timeout case).  Other attempts take ~0 s on the clock.
        wait = backoff(attempt, rng)
        if reply.error == "timeout":
            wait = max(0.0, wait - RESPONSE_HEADER_TIMEOUT)
        yield Sleep(wait, "backoff")
    return Outcome(False, error)


def reply_ok(ids: Ids) -> str:
    """go-smtp's success reply to DATA."""
    return REPLY_OK


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """``wrapErr``: no ``Temporary()`` in the chain, so 554, enhanced code X.0.0, the msg ID appended."""
    return REPLY_FAILED.format(msg_id=f"{ids.queue_id:016x}")


FACTS = (
    Fact("inbound delivery is synchronous: PUT, then SQL commit, then the reply",
         "maddy.conf:75,102; internal/endpoint/smtp/session.go:484-492@v0.9.4"),
    Fact("the body streams through an io.Pipe into one minio PutObject; context.TODO()",
         "internal/storage/blob/s3/s3.go:145-172; internal/storage/imapsql/external_blob_store.go:35-45@v0.9.4"),
    Fact("any store error is 554 unless the chain says Temporary(); DeadlineExceeded alone gives 451 4.4.5",
         "internal/endpoint/smtp/session.go:572-617@v0.9.4; framework/exterrors/temporary.go:41-49@v0.9.4"),
    Fact("an unset enhanced code is written as X.0.0; success is 250 2.0.0 OK: queued",
         "conn.go:1198,1220-1230@emersion/go-smtp v0.21.3 (maddy pins a fork, v1.21.3+maddy.1: not read)",
         "code"),
    Fact("10 attempts, wait U(0, min(1 s, 0.2 s·2^n)) after each", "retry.go:30-70 (newRetryTimer)@minio-go v7.0.84"),
    Fact("a wait after the 10th attempt too: executeMethod's `for range` waits for the timer's goroutine, which "
         "sleeps once more before it closes the channel (recorded: 0.2-0.8 s after the last attempt)",
         "retry.go:73-88, api.go:583-704@minio-go 7.0.46; notebooks/transcripts/maddy_minio.json", "experiment"),
    Fact("the wait runs while the attempt does (the timer's goroutine starts it when it hands out the attempt), so "
         "after a 60 s timeout the next attempt goes at once",
         "retry.go:73-88@minio-go 7.0.46; notebooks/transcripts/maddy_minio.json (timeout case)", "experiment"),
    Fact("retried: transport errors and HTTP 408/429/499/500/502/503/504/520", "retry.go:93-151@minio-go v7.0.84"),
    Fact("the pipe cannot be rewound: retries after the body was read send 0 bytes (recorded: 9 empty PUTs, "
         "'http: ContentLength=65536 with Body length 0')",
         "hook-reader.go:36-67; api.go:603-617@minio-go v7.0.84; notebooks/transcripts/maddy_minio.json", "experiment"),
    Fact("refused, 503, 403 and a silent S3 all answer 554 5.0.0; 503 once then 200 still bounces; refused for 1 s "
         "then up stores it (250)",
         "blobedu/servers/maddy_harness (maddy's s3.go and wrapErr on Debian minio-go 7.0.46, against moto): "
         "notebooks/transcripts/maddy_minio.json", "experiment"),
    Fact("a silent S3 costs the 60 s response-header timeout (small bodies); a large body that S3 never reads "
         "blocks the session forever (not modelled: blobedu's messages are small)",
         "transport.go:44-64@minio-go v7.0.84; other-servers.md §2.3 experiment", "experiment"),
    Fact("go-imap-sql's delivery path", "read at HEAD 8da5567, not at the pinned b5e85e90f14d", "unverified"),
)

DESIGN = Design(
    name="maddy", label="maddy 0.9.4 (imapsql + S3)", version="v0.9.4", store="S3",
    held_meanwhile="the SMTP endpoint's buffer (RAM under 1 MiB, else a file), removed after the reply",
    promise="the body is in S3 and the mailbox row is committed",
    broken_when="only if S3 loses a PUT it acknowledged; but a *failed* PUT bounces the message at once",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=RESPONSE_HEADER_TIMEOUT),
)
