"""What else an S3 outage touches: each client operation, what the user (or the next hop) sees, and when.

Theory of operation
-------------------
An admin who asks "what happens when S3 is unreachable" means incoming mail first, but users also
read messages, append drafts, upload attachments, and the queue goes on delivering what it accepted
before the outage.  shared/stalwart-facts.md §5 records from the source what each of those does.

This module keeps two things apart:

* **the store's answer** comes from running the real model: ``get_blob`` or ``put_blob``
  (:mod:`blobedu.policy` through :class:`~blobedu.store.S3BlobStore` and moto) on the chosen
  version with the chosen fault.  It ends ``found``, ``not-found`` (a 404: ``None``, not an error),
  ``stored`` (durable or not), ``failed`` or ``hung``;
* **what the operation makes of that answer** is a row of :data:`OPERATIONS`: data, one rule per
  store outcome, each row citing the source lines of §5 it transcribes (at v0.16.18; the same code
  at v0.15.5, other line numbers).  Nothing here says ``if operation == ...``.

Where the model cannot decide (how long a client waits for an IMAP reply that never comes, the
next hop's own idle timeout), the rule says so instead of guessing.  Writes are modelled for new
content: the user paths first check ``blob_exists(hash)`` and skip S3 for content already
committed (common/src/storage/blob.rs@v0.16.18:102-127, 165-190); the SMTP queue always PUTs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, Optional

from .durations import format_duration
from .errors import BlobeduError
from .faults import parse
from .widgets import Panel

#: The store outcomes a rule maps.  "stored-lost": the PUT was acknowledged but S3 did not keep it.
OUTCOMES = ("found", "not-found", "stored", "stored-lost", "failed", "hung")
_HANGS = ("the request hangs: this version never times out a silent S3 (its timeout bounds only the TCP "
          "connect), so {what} waits with it; when the waiting ends is {waiter}'s own timeout, which the store "
          "model cannot decide")


@dataclass(frozen=True)
class Operation:
    """One row: the blob-store call an operation makes (``get``, ``put`` or none) and what each outcome means."""

    name: str
    s3: Optional[str]  # "get", "put", or None: never touches S3
    touches: str
    rules: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # outcome -> (short, what the user sees)
    source: str = ""


def _reads(what: str, failed: tuple[str, str], not_found: tuple[str, str], found: tuple[str, str],
           waiter: str = "the mail client", hung: Optional[str] = None) -> dict:
    return {"found": found, "not-found": not_found, "failed": failed,
            "hung": ("hangs", hung or _HANGS.format(what=what, waiter=waiter))}


def _writes(what: str, failed: tuple[str, str], stored: tuple[str, str], waiter: str = "the mail client") -> dict:
    return {"stored": stored, "failed": failed, "hung": ("hangs", _HANGS.format(what=what, waiter=waiter)),
            "stored-lost": ("ok, then lost", f"{stored[1]}; but S3 did not keep the blob (no verifyAfterWrite "
                            "before 0.16.2): a later read finds nothing")}


#: The client's view, one row per operation (facts §5; cited at v0.16.18).
OPERATIONS: tuple[Operation, ...] = (
    Operation("IMAP FETCH BODY[]", "get", "yes: reads the message blob", _reads(
        "the FETCH",
        ("FETCH fails", "the messages read before the failing one come back (each is written as it is read), "
                        "then the command ends with an error; the rest of the range is not returned"),
        ("message omitted", "that message is silently left out of the FETCH response (a 404 is not an error)"),
        ("works", "the message comes back")),
        "imap/src/op/fetch.rs@v0.16.18:270-304 (BODY[], BODYSTRUCTURE, RFC822 need the blob), 386-414 "
        "(`?` on get_blob; `continue` on None), 577 (each message's FETCH item is written before the next is read)"),
    Operation("IMAP FETCH FLAGS/ENVELOPE", None, "no: flags, envelope and header-only fetches come from the data store",
              {"none": ("works", "works as usual: no S3 request")},
              "imap/src/op/fetch.rs@v0.16.18:270-304 (needs_blobs stays false), 386-388 (headers from metadata)"),
    Operation("JMAP Email/get with body", "get", "yes: reads the message blob", _reads(
        "the JMAP request",
        ("method fails", "the Email/get method call fails with an error"),
        ("notFound", "the id is answered in notFound"),
        ("works", "the email comes back with its body")),
        "jmap/src/email/get.rs@v0.16.18:192-216"),
    Operation("JMAP blob download", "get", "yes: reads the blob", _reads(
        "the download",
        ("download fails", "the download request fails with an error"),
        ("not found", "the download answers not found (get_blob's None is passed up)"),
        ("works", "the blob is downloaded")),
        "jmap/src/blob/download.rs@v0.16.18:40-70 (`(_, blob) => blob` at 91)"),
    Operation("POP3 RETR", "get", "yes: reads the message blob", _reads(
        "RETR",
        ("-ERR", "RETR fails (-ERR)"),
        ("-ERR", "RETR fails: -ERR 'Failed to fetch message. Perhaps another session deleted it?'"),
        ("works", "the message is sent")),
        "pop3/src/op/fetch.rs@v0.16.18:44-50 (error), 75-80 (None)"),
    Operation("IMAP APPEND", "put", "yes: reserve, PUT, commit (put_temporary_blob, a 60 s reservation)", _writes(
        "APPEND",
        ("APPEND fails", "APPEND fails with an error; the client keeps its copy (a draft, a sent message)"),
        ("works", "APPEND succeeds")),
        "common/src/storage/blob.rs@v0.16.18:139-199; email/src/message/ingest.rs@v0.16.18:564-571"),
    Operation("JMAP upload", "put", "yes: reserve, PUT, commit (put_jmap_blob)", _writes(
        "the upload",
        ("upload fails", "the upload request fails with an error; the attachment is not stored"),
        ("works", "the upload succeeds")),
        "common/src/storage/blob.rs@v0.16.18:81-137"),
    Operation("Sieve script upload", "put", "yes: ManageSieve PUTSCRIPT and JMAP SieveScript/set write the script blob",
              _writes("the upload",
                      ("upload fails", "PUTSCRIPT / SieveScript/set fails; the old script stays active"),
                      ("works", "the script is stored")),
              "managesieve/src/op/putscript.rs@v0.16.18:130,171; jmap/src/sieve/set.rs@v0.16.18:118,253 "
              "(put_temporary_blob, blob.rs:139-199)"),
    Operation("SMTP submission", "put", "yes: the same MessageWrapper::queue as inbound mail: reserve, PUT, commit",
              _writes("the reply to the final dot",
                      ("451 4.3.5", "451 4.3.5 Unable to accept message at this time.; the mail client keeps "
                                    "the message and may retry; each attempt is a new blob (a fresh Received "
                                    "header), so a commit that fails after a good PUT leaves one orphan per "
                                    "attempt for the purge"),
                      ("250", "250 2.0.0 Message queued with id <id>.")),
              "smtp/src/queue/spool.rs@v0.16.18:373-598 (hash over headers and body: 394-406); "
              "smtp/src/inbound/data.rs@v0.16.18:825,829 (Received header: 485-495, 1013-1069)"),
    Operation("local delivery of an accepted message", "get", "yes: the queue reads the message blob to deliver it",
              _reads("the delivery",
                     ("Temporary I/O error.", "a temporary failure 'Temporary I/O error.', retried on the queue "
                                              "schedule until the entry expires and bounces"),
                     ("Blob not found.", "a temporary failure 'Blob not found.', retried until the entry expires"),
                     ("delivered", "the message reaches the mailbox (with an active Sieve script, the script's "
                                   "blob is read too, and its failure is 'Transient server failure.')"),
                     hung="the delivery waits with the hung request: this version never times out a silent S3, "
                          "and nothing else in the queue does (the model runs it to its 30-day horizon)"),
              "email/src/message/delivery.rs@v0.16.18:68-111; email/src/sieve/ingest.rs@v0.16.18:656-700"),
    Operation("remote delivery from the queue", "get",
              "yes: after EHLO, MAIL and RCPT to the next hop, the queue reads the blob", _reads(
                  "the open session to the next hop",
                  ("Queue system error.", "the next hop sees EHLO, MAIL FROM, RCPT TO, a pause, then QUIT "
                                          "without DATA; the queue retries ('Queue system error.') until expiry"),
                  ("Queue system error.", "the same: QUIT without DATA, 'Queue system error.', retried until expiry"),
                  ("delivered", "DATA follows and the next hop gets the message"),
                  waiter="the next hop"),
              "smtp/src/outbound/session.rs@v0.16.18:248-267; smtp/src/outbound/client.rs@v0.16.18:171-262"),
)

#: The fault columns of the table: an S3 fault from the start that never ends, and "missing" (the
#: blob was never there: S3 answers 404; a read's fault).
FAULTS = ("refused", "timeout", "503", "429", "lost-write", "missing")
VERSIONS = ("0.15.5", "0.16.18")


def operation(name: str) -> Operation:
    """The row of :data:`OPERATIONS` called ``name``."""
    for op in OPERATIONS:
        if op.name == name:
            return op
    raise BlobeduError(f"unknown operation {name!r}; operations: {', '.join(o.name for o in OPERATIONS)}")


@dataclass
class View:
    """What one operation did under one fault on one version: the store trace, and what the user saw."""

    operation: str
    fault: str
    version: str
    touches: str
    outcome: str  # a key of the row's rules, or "n/a" ("missing" on a write)
    short: str
    seen: str
    after: Optional[float]  # seconds from the first request to the outcome; None while hung for good
    source: str
    trace: object = None  # the StoreTrace, or None when S3 is not touched

    def cell(self) -> str:
        """The table cell: the short label and after how long."""
        if self.outcome == "n/a":
            return "-"
        if self.after is None:
            return f"{self.short}, forever"
        return f"{self.short}, {format_duration(self.after)}"

    def sentence(self) -> str:
        """One line: what the user sees and when."""
        if self.outcome == "n/a":
            return f"{self.operation}: {self.seen}"
        when = "never answered" if self.after is None else f"after {format_duration(self.after)}"
        return f"{self.operation} · Stalwart {self.version} · {self.fault}: {self.seen} ({when})"


def _store_outcome(trace) -> str:
    if trace.outcome == "stored" and not trace.durable:
        return "stored-lost"
    return trace.outcome


def view(name: str, fault: str = "refused", version: str = "0.16.18") -> View:
    """Run ``name``'s blob-store call on ``version`` with ``fault`` (a kind from t=0 forever, a spec, or ``missing``)."""
    from .store import StoreConfig

    op = operation(name)
    config = StoreConfig(version=version)
    config.resolved()
    missing = fault in ("missing", "404")
    specs = [] if missing or fault in ("none", "") else [fault if "@" in fault else f"{fault}@0"]
    for spec in specs:
        if not parse(spec).is_s3:
            raise BlobeduError(f"{spec}: the client's view takes an S3 fault (refused, timeout, 503, ...) or missing")
    if op.s3 is None:
        short, seen = op.rules["none"]
        return View(op.name, fault, version, op.touches, "none", short, seen, 0.0, op.source)
    if op.s3 == "put" and missing:
        return View(op.name, fault, version, op.touches, "n/a", "-", "'missing' is a read's fault: a write "
                    "creates the blob", None, op.source)
    trace = _run(op.s3, tuple(specs), version, missing)
    outcome = _store_outcome(trace)
    short, seen = op.rules[outcome]
    return View(op.name, fault, version, op.touches, outcome, short, seen,
                None if outcome == "hung" else trace.elapsed, op.source, trace)


@lru_cache(maxsize=256)
def _run(call: str, specs: tuple[str, ...], version: str, missing: bool):
    """One real run of the store model; every read (or write) row under one fault shares it."""
    from .store import StoreConfig, get, put

    config = StoreConfig(version=version)
    return get(faults=list(specs), config=config, missing=missing) if call == "get" else put(faults=list(specs),
                                                                                              config=config)


def table(versions=VERSIONS, faults=FAULTS) -> list[dict[str, str]]:
    """The client's view: one row per operation, a cell per (fault, version), each from a real run of the model."""
    rows = []
    for op in OPERATIONS:
        row = {"operation": op.name, "S3": "no" if op.s3 is None else op.s3.upper()}
        for version in versions:
            for fault in faults:
                row[f"{fault} {version}"] = view(op.name, fault, version).cell()
        row["source"] = op.source
        rows.append(row)
    return rows


def version_table(version: str, faults=FAULTS) -> list[dict[str, str]]:
    """:func:`table` for one version, with short column names (what notebook 06 prints)."""
    rows = []
    for row in table((version,), faults):
        rows.append({"operation": row["operation"], "S3": row["S3"],
                     **{fault: row[f"{fault} {version}"] for fault in faults}})
    return rows


def meanings() -> list[dict[str, str]]:
    """Each row's labels spelled out: what the user sees for each store outcome, and the source."""
    rows = []
    for op in OPERATIONS:
        for outcome, (short, seen) in op.rules.items():
            rows.append({"operation": op.name, "store": outcome, "label": short, "what the user sees": seen})
    return rows


# -- the panel (notebook 06): pick an operation, a fault and a version ---------------------------------
#: The faults the panel offers: (what the dropdown shows, the value :func:`view` takes).
PANEL_FAULTS = (
    ("S3 refuses connections", "refused"), ("S3 silent (timeout)", "timeout"), ("503 Slow Down", "503"),
    ("500 Internal Error", "500"), ("429 Too Many Requests", "429"), ("403 Forbidden", "403"),
    ("lost writes (200, not kept)", "lost-write"), ("blob missing (404)", "missing"), ("no fault", "none"),
)
PANEL_DEFAULTS = {"operation": "IMAP FETCH BODY[]", "fault": "refused", "version": "0.16.18", "scale": "auto"}


def run_operation_panel(values: Mapping[str, object]):
    """``(view, verdict)`` for the controls, or ``(None, message)`` for values that cannot run."""
    from .widgets import problem

    merged = {**PANEL_DEFAULTS, **values}
    try:
        v = view(str(merged["operation"]), str(merged["fault"]), str(merged["version"]))
    except BlobeduError as exc:
        return None, problem(str(exc))
    return v, v.sentence()


def operation_lanes(v: View, scale: str = "auto", headline: str = ""):
    """The panel's timeline: the store's requests and sleeps, with what the user sees as the outcome mark.

    ``headline`` is the bold title (what to notice); the verdict and the configuration go in the caption.
    """
    from . import plots
    from .trace import StoreTrace

    trace = v.trace if v.trace is not None else StoreTrace("none", v.version, {}, [], "")
    if v.trace is None:
        axis = plots.time_axis(1.0, scale)
        lanes = [plots.Lane("s3", "S3 endpoint", note="not touched"),
                 plots.Lane("outcome", "the user sees", marks=[plots.Mark(0.0, v.short, "mailbox", True)])]
        return plots.Timeline(f"{v.operation} on Stalwart {v.version}: no S3 request", v.seen, 1.0, axis, lanes,
                              [], "time since the request")
    timeline = plots.put_lanes(trace, scale=scale)
    # a GET draws no empty PUT lane, and a PUT no empty GET lane
    timeline.lanes = [lane for lane in timeline.lanes if not lane.key.startswith("requests:") or lane.marks]
    ok = v.outcome in ("found", "stored", "none")
    # a failed read or write is an error to the user, not a bounce: no DSN is sent (teaching.md's 06 defect)
    kind = ("mailbox" if ok else "lost" if v.outcome == "stored-lost" else "hung" if v.outcome == "hung"
            else "4xx" if v.outcome == "not-found" else "failed")
    end = trace.ended
    timeline.lanes[-1] = plots.Lane("outcome", "the user sees", marks=[plots.Mark(end, v.short, kind, True)])
    timeline.title = f"{v.operation} on Stalwart {v.version} · fault: {v.fault} · {trace.operation.upper()} loop"
    # the bold title says what happened in a few words (the default: the row's short label); the
    # caption keeps the row's full sentence, wrapped, never cut mid-word
    timeline.subtitle = v.seen
    when = "never ends" if v.after is None else f"after {format_duration(v.after)}"
    timeline.headline = headline or f"{v.operation}, S3 {v.fault}, Stalwart {v.version}: {v.short} ({when})"
    return timeline


# -- notebook 06's slider: one read under each S3 fault, a real run of get_blob each -------------------
#: The read the slider follows, and its cases: (slider label, fault, version).
READ_OPERATION = "IMAP FETCH BODY[]"
READ_CASES = (("refused", "refused", "0.16.18"), ("503 storm", "503", "0.16.18"), ("429", "429", "0.16.18"),
              ("silent, 0.16.18", "timeout", "0.16.18"), ("silent, 0.15.5", "timeout", "0.15.5"),
              ("blob missing", "missing", "0.16.18"))


def read_case(label: str) -> View:
    """The read slider's run for one of :data:`READ_CASES`' labels."""
    for name, fault, version in READ_CASES:
        if name == label:
            return view(READ_OPERATION, fault, version)
    raise BlobeduError(f"no read case {label!r}; cases: {', '.join(c[0] for c in READ_CASES)}")


def read_headline(label: str, v: View) -> str:
    """What to notice in one frame of the read slider, from its run."""
    if v.outcome == "hung":
        return (f"S3 {label}: the FETCH never ends, and never errors "
                f"(the model stops looking after {format_duration(v.trace.ended)})")
    if v.outcome == "not-found":
        return f"A missing blob (404): the message is left out of the FETCH, after {format_duration(v.after)}"
    return f"S3 {label}: the FETCH fails after {format_duration(v.after)}; nothing waits for S3 to come back"


def read_figure(label: str, v: View):
    """One frame of the read slider: the GET loop and what the user sees."""
    from . import plots

    return plots.draw(operation_lanes(v, headline=read_headline(label, v)))


def _dropdown(description: str, options, value):
    import ipywidgets as widgets

    return widgets.Dropdown(options=options, value=value, description=description,
                            style={"description_width": "initial"}, layout=widgets.Layout(width="330px"))


def operation_panel(**defaults: object):
    """Notebook 06's panel: an operation, an S3 fault and a version; the timeline and what the user sees."""
    from . import plots

    values = {**PANEL_DEFAULTS, **defaults}
    versions = list(dict.fromkeys(plots.REPRESENTATIVE_VERSIONS + (str(values["version"]),)))
    controls = {
        "operation": _dropdown("operation", [o.name for o in OPERATIONS], values["operation"]),
        "fault": _dropdown("fault", PANEL_FAULTS, values["fault"]),
        "version": _dropdown("Stalwart", versions, values["version"]),
        "scale": _dropdown("time axis", ("auto", "linear", "symlog"), values["scale"]),
    }
    return OperationPanel(controls, [["operation", "fault"], ["version", "scale"]], run_operation_panel,
                          operation_lanes)


class OperationPanel(Panel):
    """A :class:`~blobedu.widgets.Panel` without the PUT controls it greys out (maxRetries, until)."""

    def values(self) -> dict:
        """The controls' current values."""
        return {name: control.value for name, control in self.controls.items()}

    def _sync_controls(self) -> None:
        return None
