"""Dovecot Pro obox (documentation only: closed source): the object PUT before the LMTP 250; 451 4.2.0 on failure.

Theory of operation
-------------------
Dovecot Pro's obox plugin is closed source, so this model is built from **documentation** plus the
open-source Dovecot LMTP and lib-storage code it plugs into.  Every fact below says which.

* The DATA is buffered in ``iostream_temp`` (memory, or ``mail_temp_dir``; src/lmtp/lmtp-commands.c
  :244-261@dovecot/core 2.4.4).  "the mail is immediately saved to object storage" (documentation
  release-2.3 ``admin_manual/obox/index.rst:152``): the 250 follows the object PUT.  Indexes are
  uploaded lazily and rebuilt by listing the store after a crash.
* HTTP retries (``http_storages.rst``): ``max_retries`` 4, on **5xx** (and 423 for sproxyd, 409 for
  CDMI), waiting 50 ms, 500 ms, 5 s, 10 s (since 2.3.15); ``timeout`` 10 s per response;
  ``max_connect_retries`` 2; no ``absolute_timeout``.  blobedu retries a refused connect twice at
  once and does **not** retry a response timeout: how obox counts connect errors and timeouts is not
  documented (the fact sheet lists it as too uncertain).
* A failed save is a storage error, which ``mail_deliver`` maps to TEMPORARY (lib-lda/mail-deliver.c
  :612-620) and LMTP answers ``451 4.2.0 <error>`` (lmtp-local.c:543-558@2.4.4), prefixed, as every
  LMTP DATA reply is, with ``<rcpt>`` (lib-smtp/smtp-server-recipient.c:232-234), the error usually
  being ``MAIL_ERRSTR_CRITICAL_MSG_STAMP``: "Internal error occurred. Refer to server log for more
  information. [%Y-%m-%d %H:%M:%S]" (lib-storage/mail-error.h:15-18).  That obox returns such an
  error on a failed PUT is an **inference**.

This is the LMTP server's reply.  In a real deployment an MTA (Postfix, Exim) usually sits in front
with its own queue, and the *sending* server sees that MTA's 250 instead: that arrangement is the
``postfix-local`` queue in front of this store.  blobedu lets the sender talk to obox directly, to
show what obox itself does.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from .design import Design, Edge, Fact, Ids, Machine, Outcome, Send, Sleep

MAX_RETRIES = 4
RETRY_WAITS = (0.05, 0.5, 5.0, 10.0)  # "50ms -> 500 ms -> 5s ->10s", at most 10 s per wait
RETRY_STATUSES = frozenset(range(500, 600))
MAX_CONNECT_RETRIES = 2
TIMEOUT = 10.0
#: the run's time 0 on the wall, for the stamp in the error text: the sample message's Date header
EPOCH = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
#: LMTP's DATA replies are per recipient and start with ``<rcpt>`` (smtp-server-recipient.c:232-234@2.4.4)
RCPT = "<reader@receiver.test>"
REPLY_OK = RCPT + " {session} Saved"
REPLY_FAILED = RCPT + " Internal error occurred. Refer to server log for more information. [{stamp}]"


def wait(retry: int) -> float:
    """The documented wait before retry ``retry`` (0-based), capped at 10 s."""
    return RETRY_WAITS[min(retry, len(RETRY_WAITS) - 1)]


def put(rng: random.Random) -> Machine:
    """One object PUT through obox's documented HTTP retries (no jitter is documented)."""
    retries = connects = 0
    while True:
        reply = yield Send("PUT")
        assert reply is not None
        if reply.error == "refused" and connects < MAX_CONNECT_RETRIES:
            connects += 1
            continue
        if reply.error:
            return Outcome(False, f"obox: {reply.error}")
        status = int(reply.status or 0)
        if 200 <= status <= 299:
            return Outcome(True)
        if status in RETRY_STATUSES and retries < MAX_RETRIES:
            yield Sleep(wait(retries), "backoff")
            retries += 1
            continue
        return Outcome(False, f"obox: HTTP {status}")


def reply_ok(ids: Ids) -> str:
    """LMTP's per-recipient success: ``250 2.0.0 <rcpt> <session id> Saved`` (lmtp-local.c:538-539@2.4.4)."""
    return "250 2.0.0 " + REPLY_OK.format(session=f"{ids.queue_id:x}"[:16])


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """``MAIL_DELIVER_ERROR_TEMPORARY`` → 451 4.2.0 with the stamped internal-error text."""
    stamp = (EPOCH + timedelta(seconds=ids.when)).strftime("%Y-%m-%d %H:%M:%S")
    return "451 4.2.0 " + REPLY_FAILED.format(stamp=stamp)


FACTS = (
    Fact("the mail object is saved before the 250; indexes lazily, rebuilt by listing the store",
         "documentation release-2.3 admin_manual/obox/index.rst:152; design.rst", "docs"),
    Fact("max_retries 4 on 5xx; waits 50 ms, 500 ms, 5 s, 10 s; timeout 10 s; max_connect_retries 2",
         "documentation release-2.3 configuration_manual/mail_location/obox/http_storages.rst:30,58,82-92,118",
         "docs"),
    Fact("a refused connect is retried twice at once; a response timeout is not retried",
         "blobedu's reading of the docs: obox's handling of connect errors and timeouts is closed", "unverified"),
    Fact("a temporary storage error answers 451 4.2.0 <error>",
         "src/lmtp/lmtp-local.c:543-558; src/lib-lda/mail-deliver.c:612-620@dovecot/core 2.4.4"),
    Fact("the error text is 'Internal error occurred. Refer to server log ... [stamp]'",
         "src/lib-storage/mail-error.h:15-18@2.4.4; that obox raises it on a failed PUT is inferred", "unverified"),
    Fact("success '250 2.0.0 <rcpt> <session> Saved'; every DATA reply is prefixed '<rcpt> ', the 451 too",
         "src/lmtp/lmtp-local.c:538-539; src/lib-smtp/smtp-server-recipient.c:222-234@dovecot/core 2.4.4"),
    Fact("the DATA waits in iostream_temp (memory or mail_temp_dir)", "src/lmtp/lmtp-commands.c:244-261@2.4.4"),
)

DESIGN = Design(
    name="dovecot-obox", label="Dovecot Pro obox (docs)", version="Pro 2.3 docs / core 2.4.4", store="S3",
    held_meanwhile="iostream_temp: memory, or a file in mail_temp_dir",
    promise="the mail object is in the object store (indexes follow lazily)",
    broken_when="only if the store loses an acknowledged object",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=TIMEOUT),
)
