"""What should I do?  The admin's card for one Stalwart version and its store settings (issue #18).

Theory of operation
-------------------
:func:`advise` gathers, for given settings, four things a mail admin needs and nothing else:

* the hazards that apply, worst first (:func:`blobedu.hazards.findings`, rules over the version row);
* per sender (a Stalwart at the same version, Postfix, Exim) the longest S3 outage whose mail is
  still delivered and when a longer one bounces (:func:`blobedu.tolerance.tolerance`, which runs the
  delivery model);
* the settings to change, named with *this* version's keys and units (the registry's
  ``maxRetries``, ``timeout`` in ms and ``verifyAfterWrite`` on 0.16; the TOML
  ``store.<id>.max-retries`` and ``store.<id>.timeout`` before), with the limits that keep the
  worst-case store loop under the shortest final-dot wait and under the 120 s reservation;
* what to watch: Stalwart's own event names at that version, read in its source.

:class:`Card` renders it as text (a card read in a minute) or as one JSON object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .durations import format_duration
from .hazards import SENDERS, Finding, Settings, findings

#: The tolerance assumes the common outage: S3 unreachable (refused) from the first try on.
TOLERANCE_FAULT = "refused"

_SENDER_NAMES = {"stalwart": "Stalwart", "postfix": "Postfix", "exim": "Exim"}

#: The 451 every failed store write answers (crates/smtp/src/inbound/data.rs:829@v0.16.18).
REPLY_451 = "451 4.3.5 Unable to accept message at this time."


def _v(version: str) -> tuple[int, int, int]:
    from .versions import parse_version

    return parse_version(version)


def _group_release(version: str) -> str:
    """The latest release that runs on the same version row and the same sender queue schedule.

    The delivery model reads nothing of a version but its row in :data:`blobedu.versions.VERSIONS`
    and its queue schedule (:func:`blobedu.schedules.stalwart`), so every release of a group has the
    same tolerance; computing it once per group keeps ``advise`` for 80 releases affordable.
    """
    from .schedules import stalwart
    from .versions import RELEASES, behaviour

    row, sched = behaviour(version), stalwart(version)
    same = [r for r in RELEASES
            if behaviour(".".join(map(str, r))) is row
            and stalwart(".".join(map(str, r))).intervals == sched.intervals
            and stalwart(".".join(map(str, r))).expire == sched.expire]
    return ".".join(map(str, same[-1]))


def tolerance_by_sender(version: str) -> dict[str, dict[str, float]]:
    """For each sender, its outage tolerance against a Stalwart ``version`` receiver, in seconds."""
    from .tolerance import tolerance

    rep = _group_release(version)
    out = {}
    for sender in SENDERS:
        t = tolerance(sender, rep if sender == "stalwart" else None, receiver_version=rep, fault=TOLERANCE_FAULT)
        out[sender] = {"longest_outage_delivered": t.longest_outage_delivered, "bounce_at": t.bounce_at,
                       "last_try_at": t.last_try_at, "delivered_at": t.delivered_at}
    return out


# -- config keys, in this version's own names and units ------------------------------------------------

def _largest(values, ok) -> Optional[int]:
    good = [v for v in values if ok(v)]
    return max(good) if good else None


def limits(settings: Settings) -> dict[str, Optional[float]]:
    """Settings that keep the worst-case store loop under the shortest final-dot wait and the reservation.

    ``max_retries_no_duplicate``: the largest maxRetries at this timeout whose worst case ends before a
    Stalwart sender (the shortest wait, 5 min) gives up; ``timeout_no_race``: the largest whole-second
    timeout at this maxRetries whose worst case ends inside the 120 s reservation.  None: no value does.
    """
    from .policy import worst_case_seconds
    from .receiver import RESERVE_SECONDS
    from .schedules import sender_schedule

    b = settings.behaviour
    shortest = min(sender_schedule(s).final_dot_wait for s in SENDERS)

    def worst(n: int, t: float) -> float:
        w = worst_case_seconds(b, n, t, settings.verify)
        return max(w["slow_verify"], w["silent_endpoint"])

    out: dict[str, Optional[float]] = {"shortest_final_dot_wait": shortest, "reservation": float(RESERVE_SECONDS),
                                       "max_retries_no_duplicate": None, "timeout_no_race": None}
    if b.retries and b.max_retries_range is not None:
        lo, hi = b.max_retries_range
        out["max_retries_no_duplicate"] = _largest(range(lo, min(hi, 64) + 1),
                                                   lambda n: worst_case_seconds(b, n, settings.timeout,
                                                                                settings.verify)["slow_verify"] <= shortest)
    if not b.hangs_on_silent_s3:
        t = _largest(range(1, 121), lambda t: worst(settings.max_retries, float(t)) <= RESERVE_SECONDS)
        out["timeout_no_race"] = float(t) if t is not None else None
    return out


def config_keys(settings: Settings) -> dict[str, dict]:
    """The store settings of ``settings.version`` under their own names and units, each with its value and advice."""
    b = settings.behaviour
    lim = limits(settings)
    registry = _v(settings.version) >= (0, 16, 0)
    keys: dict[str, dict] = {}
    n_ok = lim["max_retries_no_duplicate"]
    if not b.retries:
        keys["max_retries"] = {"key": None, "unit": None, "value": None,
                               "advice": f"absent: Stalwart {settings.version} never retries a store request"}
    else:
        lo, hi = b.max_retries_range or (0, 0)
        advice = ("keep it low: maxRetries helps only with HTTP 5xx, never with an unreachable S3"
                  + (f"; at most {n_ok} keeps the worst case under {format_duration(lim['shortest_final_dot_wait'])}"
                     if n_ok is not None else f"; no value keeps the worst case under "
                     f"{format_duration(lim['shortest_final_dot_wait'])} at this timeout"))
        if b.backoff is not None and b.backoff.op == "max":
            advice = "set 0 until you upgrade: every retry sleeps 65,536 s on this version"
        keys["max_retries"] = {
            "key": "maxRetries" if registry else "store.<id>.max-retries",
            "unit": f"count, {lo} to {hi}" if registry else "count (a u32)",
            "value": settings.max_retries, "advice": advice,
        }
    t_ok = lim["timeout_no_race"]
    if b.hangs_on_silent_s3:
        t_advice = "bounds only the TCP connect on this version: no value stops a silent S3 from hanging"
    elif t_ok is not None:
        t_advice = (f"at most {t_ok:g} s ({int(t_ok * 1000)} ms) keeps the worst case inside the "
                    f"{lim['reservation']:g} s reservation (purge race), if your S3 answers your largest PUT in time")
    else:
        t_advice = "no timeout keeps the worst case inside the 120 s reservation at this maxRetries"
    keys["timeout"] = {
        "key": "timeout" if registry else "store.<id>.timeout",
        "unit": "milliseconds" if registry else "a duration, e.g. \"30s\"",
        "value": int(round(settings.timeout * 1000)) if registry else f"{settings.timeout:g}s",
        "advice": t_advice,
    }
    if b.verify_supported:
        keys["verify"] = {"key": "verifyAfterWrite", "unit": "true or false", "value": settings.verify,
                          "advice": "keep true: without it a write S3 drops is lost after the 250"}
    else:
        keys["verify"] = {"key": None, "unit": None, "value": None,
                          "advice": "absent before 0.16.2: upgrade to get the HEAD check after each PUT"}
    return keys


# -- what to watch, in this version's own event names ---------------------------------------------------

def monitor(settings: Settings) -> list[dict[str, str]]:
    """What to watch during an S3 outage, with Stalwart's own event names at ``settings.version``.

    Names read in the source: ``crates/trc/src/event/enums_impl.rs@v0.16.18`` (1154 queue.dsn-queued,
    1158 queue.blob-not-found, 1334 store.s3-error); on v0.9.0-v0.15.x the names are made by the
    ``event_type`` macro from the enum variants (``crates/trc/event-macro/src/lib.rs@v0.9.0:15-40,
    214-226``: ``StoreEvent::S3Error`` -> ``store.s3-error``, ``QueueEvent::QueueDsn`` -> ``queue.queue-dsn``,
    from v0.9.1); before v0.9.0 there are no event names, only log lines (``spool.rs@v0.8.1:244``).
    """
    v = _v(settings.version)
    b = settings.behaviour
    out: list[dict[str, str]] = []
    if v >= (0, 9, 0):
        out.append({"watch": "store.s3-error",
                    "why": "every failed S3 request, transport errors included; on the SMTP path its details say "
                           "'Failed to write blob.'",
                    "source": ("crates/trc/src/event/enums_impl.rs:1334@v0.16.18; crates/smtp/src/queue/spool.rs:"
                               "445-451@v0.16.18" if v >= (0, 16, 0) else
                               "StoreEvent::S3Error named by crates/trc/event-macro/src/lib.rs@v0.9.0:15-40")})
    elif v < (0, 6, 0):
        out.append({"watch": "errors whose text starts 'S3 error code' or 'S3 error:'",
                    "why": "this version has no event names; its SMTP queue writes local files, so S3 errors show "
                           "at local delivery and in mailbox reads",
                    "source": "crates/store/src/backend/s3/mod.rs@v0.5.0:95-131; crates/smtp/src/queue/spool.rs@v0.5.3"})
    else:
        out.append({"watch": "log lines 'Failed to write to blob store: S3 error ...' (context queue, event error)",
                    "why": "this version has no event names; every failed S3 write logs this line",
                    "source": "crates/smtp/src/queue/spool.rs@v0.8.1:244; crates/store/src/backend/s3/mod.rs@v0.8.1"})
    out.append({"watch": f"the rate of '{REPLY_451}' replies",
                "why": "each one is a message its sender keeps and retries; a rise is your outage as senders see it",
                "source": "crates/smtp/src/inbound/data.rs:829@v0.16.18"})
    if v >= (0, 9, 0):
        out.append({"watch": "queue.blob-not-found",
                    "why": "after a 250 the blob is gone (a write S3 dropped, or the purge race): mail lost after "
                           "acceptance",
                    "source": ("crates/trc/src/event/enums_impl.rs:1158@v0.16.18; outbound/client.rs:239"
                               if v >= (0, 16, 0) else "QueueEvent::BlobNotFound, crates/trc/src/lib.rs@v0.9.0:484")})
    if b.hangs_on_silent_s3:
        out.append({"watch": "the Stalwart process's memory and its open SMTP sessions",
                    "why": "a silent S3 is never timed out on this version: every session holds its body until "
                           "the socket drops" + (" (up to server.max-connections, 8,192)" if v >= (0, 15, 0) else ""),
                    "source": "facts §1 timeout; crates/common/src/config/server/listener.rs@v0.15.5:197-203"})
    dsn = ("queue.dsn-queued" if v >= (0, 16, 0) else "queue.queue-dsn" if v >= (0, 9, 1) else None)
    out.append({"watch": "the sending side's own store: store.s3-error at a delay-warning or bounce time"
                         + (f" with no {dsn} after it" if dsn else ""),
                "why": "a DSN written while the sender's own blob store is down is dropped: its author is never told",
                "source": "crates/smtp/src/queue/dsn.rs:34-66@v0.16.18"
                          + ("; crates/trc/src/event/enums_impl.rs:1154@v0.16.18" if dsn == "queue.dsn-queued" else "")})
    return out


#: A gap in the facts sheet found while reading for the card: on v0.5.x the SMTP queue wrote local files.
V05_NOTE = ("on 0.5.0-0.5.3 the SMTP queue still writes each message to a local file "
            "(crates/smtp/src/queue/spool.rs@v0.5.3:60-110), not to the blob store: inbound mail meets S3 only at "
            "local delivery; blobedu's model follows the facts sheet, which does not say so")


@dataclass
class Card:
    """Everything ``blobedu advise`` prints, for one version and its settings."""

    settings: Settings
    given: dict[str, bool]
    hazards: list[Finding]
    tolerance: dict[str, dict[str, float]]
    config_keys: dict[str, dict]
    monitor: list[dict[str, str]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """One JSON-ready object (strict: every number finite)."""
        return {
            "version": self.settings.version,
            "settings": {**self.settings.to_dict(), "given": self.given},
            "hazards": [f.to_dict() for f in self.hazards],
            "tolerance": {s: {"longest_outage_delivered": t["longest_outage_delivered"], "bounce_at": t["bounce_at"],
                              "last_try_at": t["last_try_at"]} for s, t in self.tolerance.items()},
            "tolerance_fault": TOLERANCE_FAULT,
            "config_keys": self.config_keys,
            "monitor": self.monitor,
            "notes": self.notes,
        }

    def text(self) -> str:
        """The card, read in a minute."""
        s, keys = self.settings, self.config_keys
        shown = [f"maxRetries {s.max_retries}" if s.behaviour.retries else "no retries",
                 f"timeout {format_duration(s.timeout)}",
                 ("verifyAfterWrite " + ("on" if s.verify else "off")) if s.behaviour.verify_supported else
                 "no verifyAfterWrite"]
        defaults = "" if any(self.given.values()) else "  (its defaults)"
        lines = [f"Stalwart {s.version}: {', '.join(shown)}{defaults}", ""]
        lines.append("Hazards, worst first:" if self.hazards else "Hazards: none at these settings.")
        for i, f in enumerate(self.hazards, 1):
            h = f.hazard
            lines.append(f" {i}. {h.id} ({', '.join(h.effects)}): {f.why}")
            lines.append(f"    fix: {h.fix}")
            lines.append(f"    see: {h.reproduce}")
        lines += ["", "If S3 is unreachable, mail sent to you is still delivered if S3 is back within:"]
        for sender, t in self.tolerance.items():
            name = _SENDER_NAMES[sender] + (f" {s.version}" if sender == "stalwart" else "")
            lines.append(f"  {name + ' sender':<24} {format_duration(t['longest_outage_delivered']):>7}; "
                         f"a longer outage bounces at {format_duration(t['bounce_at'])}")
        registry = _v(s.version) >= (0, 16, 0)
        lines += ["", "Settings (" + ("the registry's blob store object" if registry else "TOML, store.<id>.*") + "):"]
        for k in keys.values():
            if k["key"] is None:
                lines.append(f"  {k['advice']}")
            else:
                lines.append(f"  {k['key']} = {_shown_value(k['value'])} ({k['unit']}): {k['advice']}")
        lines += ["", "Watch:"]
        lines += [f"  - {m['watch']}: {m['why']}" for m in self.monitor]
        if self.notes:
            lines += ["", "Note:"] + [f"  {n}" for n in self.notes]
        return "\n".join(lines)


def _shown_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def advise(version: Optional[str] = None, max_retries: Optional[int] = None, timeout: Optional[float] = None,
           verify: Optional[bool] = None) -> Card:
    """The card for Stalwart ``version`` (default the latest) with these store settings (default its own)."""
    from .versions import LATEST

    version = version or LATEST
    settings = Settings.of(version, max_retries, timeout, verify)
    if not all(math.isfinite(x) for x in (settings.timeout,)):
        from .errors import BlobeduError
        raise BlobeduError(f"timeout must be a finite number of seconds, got {settings.timeout}")
    notes = [V05_NOTE] if _v(version) < (0, 6, 0) else []
    return Card(settings=settings,
                given={"max_retries": max_retries is not None, "timeout": timeout is not None,
                       "verify": verify is not None},
                hazards=findings(settings), tolerance=tolerance_by_sender(version),
                config_keys=config_keys(settings), monitor=monitor(settings), notes=notes)
