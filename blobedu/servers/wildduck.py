"""WildDuck 1.50.0 behind Haraka 3.1.6: MongoDB with ``w:majority``; every failure is a 450, and a timeout can store twice.

Theory of operation
-------------------
Haraka keeps the message in memory (``spool_after`` -1, docs/CoreConfig.md:47-48@v3.1.6) and
haraka-plugin-wildduck stores it per recipient: big parts in GridFS, then
``messages.insertOne(…, { writeConcern: 'majority' })`` (lib/message-handler.js:659@wildduck
v1.50.0).  The 250 follows the majority acknowledgement.

The store is MongoDB, not S3.  blobedu keeps the same fault plan by standing a moto bucket in for the
collection (one object per stored message document) and reading each fault as MongoDB's driver
would meet it (driver 4.x defaults, src/connection_string.ts @00a39d1; WildDuck passes no timeout
options, lib/db.js:27-32):

* ``refused``: no server can be selected; the driver waits ``serverSelectionTimeoutMS`` = 30 s, then
  fails (not a retryable write error);
* a **silent** store: ``socketTimeoutMS`` = 0, so the insert **never times out**; it waits until the
  store answers again, when the connection is reset and ``retryWrites`` (default true) sends it
  **once more**, and this time it is stored;
* an HTTP status stands for a write error the server answers at once: a 5xx is retried once
  (``retryWrites``), a 4xx is not;
* ``lost-write``: acknowledged, then lost (with ``w:majority`` this needs the majority itself to lose
  it, as in every other design's "the store loses an acknowledged write").

Meanwhile Haraka's plugin timer runs: after ``plugin_timeout`` = 30 s it answers ``450 plugin
timeout (<uuid>)`` (plugins.js:255-267,490-495@v3.1.6) **without cancelling the insert**.  A store
error answers ``450 Failed to queue message [ERRQ05] (<uuid>)`` (haraka-plugin-wildduck index.js
:1715-1720@v6.0.1; Haraka connection.js:1774-1809): no enhanced code.  So a silent MongoDB gives the
sender a 450, the insert completes later, and the sender's retry stores the message **again**:
a duplicate.  Whether WildDuck's duplicate check (filter-handler.js:~1180-1214) suppresses it was
not verified; blobedu assumes it does not and counts the copies.
"""

from __future__ import annotations

import random
import uuid

from .design import Design, Edge, Fact, Ids, Machine, Outcome, Send

SERVER_SELECTION_TIMEOUT = 30.0  # serverSelectionTimeoutMS default 30000
PLUGIN_TIMEOUT = 30.0  # Haraka plugin_timeout default 30 s
RETRY_WRITES = 1  # retryWrites default true: one retry on a retryable error
REPLY_OK = "250 Message processed ({uuid})"  # [OK, 'Message processed'] (index.js:1731@v6.0.1)
REPLY_FAILED = "450 Failed to queue message [ERRQ05] ({uuid})"
REPLY_PLUGIN_TIMEOUT = "450 plugin timeout ({uuid})"


def transaction_uuid(ids: Ids) -> str:
    """Haraka names a transaction ``<connection uuid>.<n>``; blobedu draws the uuid from the seeded id."""
    return f"{str(uuid.UUID(int=ids.queue_id & ((1 << 122) - 1), version=4)).upper()}.1"


def put(rng: random.Random) -> Machine:
    """``insertOne`` with retryWrites: one retry after a network error or a server-side 5xx."""
    retries = 0
    while True:
        reply = yield Send("PUT")
        assert reply is not None
        if not reply.error and 200 <= int(reply.status or 0) <= 299:
            return Outcome(True)
        if reply.error == "refused":
            return Outcome(False, "MongoServerSelectionError: connect ECONNREFUSED")
        retryable = reply.error is not None or int(reply.status or 0) >= 500
        if retryable and retries < RETRY_WRITES:
            retries += 1
            continue
        return Outcome(False, f"MongoError: {reply.error or reply.status}")


def reply_ok(ids: Ids) -> str:
    """The plugin's ``[OK, 'Message processed']``, with Haraka's `` (<uuid>)`` (connection.js:1773-1776@v3.1.6)."""
    return REPLY_OK.format(uuid=transaction_uuid(ids))


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """A thrown store error: DENYSOFT ERRQ05, answered 450 with the uuid."""
    return REPLY_FAILED.format(uuid=transaction_uuid(ids))


def reply_plugin_timeout(ids: Ids) -> str:
    """Haraka's plugin timeout: 450, while the insert goes on."""
    return REPLY_PLUGIN_TIMEOUT.format(uuid=transaction_uuid(ids))


FACTS = (
    Fact("Haraka never spools (spool_after -1): the message is in memory", "docs/CoreConfig.md:47-48@Haraka v3.1.6"),
    Fact("the message document is inserted with writeConcern majority; 250 after the ack",
         "lib/message-handler.js:659-669@wildduck v1.50.0"),
    Fact("a thrown store error: DENYSOFT 'Failed to queue message [ERRQ05]', sent as 450 ... (<uuid>)",
         "index.js:1715-1720@haraka-plugin-wildduck v6.0.1; connection.js:1774-1809@Haraka v3.1.6"),
    Fact("plugin timeout 30 s answers 450 'plugin timeout' and does not cancel the store",
         "plugins.js:255-267,490-495@Haraka v3.1.6"),
    Fact("driver defaults: serverSelectionTimeoutMS 30000, retryWrites true, socketTimeoutMS 0",
         "mongodb/node-mongodb-native src/connection_string.ts@00a39d1 (4.x era; WildDuck pins 4.17.2)", "code"),
    Fact("which text a given MongoDB error gives (ERRQ05, or the error's own message at index.js:1671)",
         "blobedu shows ERRQ05 for every store error", "unverified"),
    Fact("250 text 'Message processed (<uuid>)' (sent by the queue_ok hook's responder, not re-read)",
         "index.js:1731@haraka-plugin-wildduck v6.0.1; connection.js:1660-1670,1773-1776@Haraka v3.1.6"),
    Fact("a retried transaction stores a second copy (the duplicate check's effect not verified)",
         "filter-handler.js:~1180-1214@wildduck v1.50.0", "unverified"),
    Fact("MongoDB stood in for by a moto bucket, faults read as the driver would meet them",
         "blobedu's modelling choice", "unverified"),
)

DESIGN = Design(
    name="wildduck", label="WildDuck 1.50 + Haraka 3.1.6", version="v1.50.0", store="MongoDB",
    held_meanwhile="Haraka's memory",
    promise="a majority of the MongoDB replica set has the message",
    broken_when="a 450 (plugin timeout) while the insert still completes: the sender's retry makes a duplicate",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=None, refused=SERVER_SELECTION_TIMEOUT),
)
