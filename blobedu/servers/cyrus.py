"""Cyrus IMAP 3.12.3 with object storage: the local spool is fsynced first; a failed PUT is hidden behind a 250.

Theory of operation
-------------------
Object storage in Cyrus is a build option (``ENABLE_OBJECTSTORE``, configure.ac:599) tied to
archiving (lib/imapoptions:3330-3379).  LMTP's append writes the message to the **local spool and
fsyncs it** (imap/append.c:1095-1103).  Only a message marked ARCHIVED on arrival, one larger than
``archive_maxsize`` (1024 K, imapoptions:339-375), then goes to the object store at once:

* ``objectstore_put`` fails: "didn't manage to store it, so remove the ARCHIVED flag"
  (append.c:1124-1152): the local copy stays and LMTP answers **250**: the sender never hears of it;
* it succeeds: "must delete local file" (append.c:1167-1171): from then on the object store holds
  the only copy.

Everything smaller stays on the local spool (``cyr_expire`` archives it later, outside this model).
There is no retry loop in Cyrus's object-store code (objectstore_openio.c; the Caringo SDK has its
own ``retries = 5``, objectstore_caringo.c:101-104, units unknown), so blobedu sends one PUT with
the OpenIO rawx timeout, 30 s.  A local I/O error answers ``451 4.3.0 <error>`` (imap/lmtpengine.c
:221-226; imap/lmtp_err.et:56-57).  Cyrus's object store speaks OpenIO or Caringo, not S3: blobedu
uses its S3 bucket as that store.
"""

from __future__ import annotations

import random

from .design import Design, Edge, Fact, Ids, Machine, Outcome, one_put

ARCHIVE_MAXSIZE = 1024 * 1024  # archive_maxsize "1024 K"
OPENIO_RAWX_TIMEOUT = 30.0  # openio_rawx_timeout "30s"
REPLY_OK = "250 2.1.5 Success SESSIONID=<cyrus-{session}>"  # LMTP_OK with text "Success" (lmtp_err.et:47-48; lmtpengine.c:149-153)
REPLY_FAILED = "451 4.3.0 {error}"


def goes_to_object_store(size: int) -> bool:
    """Whether append sends the message to the object store at once (ARCHIVED on arrival)."""
    return size > ARCHIVE_MAXSIZE


def put(rng: random.Random) -> Machine:
    """``objectstore_put``: one request, no retry loop in Cyrus."""
    return one_put()


def reply_ok(ids: Ids) -> str:
    """LMTP success: ``LMTP_OK`` "250 2.1.5 %s SESSIONID=<%s>" with "Success" (the session id's form is blobedu's)."""
    return REPLY_OK.format(session=f"{ids.queue_id:x}"[:12])


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """A *local* I/O error (the object store's failure never reaches the sender): LMTP_SYSTEM_ERROR."""
    return REPLY_FAILED.format(error="System I/O error")  # IMAP_IOERROR's text (imap_err.et:47-48)


FACTS = (
    Fact("object storage needs --enable-objectstore and archiving", "configure.ac:599; lib/imapoptions:3330-3379"
         "@cyrus-imapd-3.12.3"),
    Fact("append writes and fsyncs the local spool file first", "imap/append.c:1095-1103@cyrus-imapd-3.12.3"),
    Fact("only messages over archive_maxsize (1024 K) go to the object store on append",
         "imap/append.c:1077-1081; lib/imapoptions:339-375@cyrus-imapd-3.12.3"),
    Fact("a failed objectstore_put drops the ARCHIVED flag and keeps the local copy (250)",
         "imap/append.c:1124-1152@cyrus-imapd-3.12.3"),
    Fact("a successful PUT deletes the local file", "imap/append.c:1167-1171@cyrus-imapd-3.12.3"),
    Fact("local I/O errors answer 451 4.3.0 <error>", "imap/lmtpengine.c:221-226; imap/lmtp_err.et:56-57"
         "@cyrus-imapd-3.12.3"),
    Fact("no retry loop; OpenIO rawx timeout 30 s", "objectstore_openio.c; lib/imapoptions:3330-3379@3.12.3"),
    Fact("success text '250 2.1.5 Success SESSIONID=<...>'; an I/O error is '451 4.3.0 System I/O error'",
         "imap/lmtp_err.et:47-48,56-57; imap/lmtpengine.c:134-153,221-229; imap/imap_err.et:47-48@cyrus-imapd-3.12.3"),
)

DESIGN = Design(
    name="cyrus", label="Cyrus IMAP 3.12.3 (object storage)", version="cyrus-imapd-3.12.3",
    store="local disk (object store for big messages)",
    held_meanwhile="the local spool file, fsynced before the reply",
    promise="the message is on the local spool's disk (or, when over 1 MiB and the PUT worked, only in the object store)",
    broken_when="the local disk is lost before cyr_expire archives it; a failed PUT is never reported",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=OPENIO_RAWX_TIMEOUT), local_disk=True,
)
