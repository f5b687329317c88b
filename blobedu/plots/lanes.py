"""Reading traces into :class:`~blobedu.plots.timeline.Timeline` lanes (never runs anything), and the
two helpers that do run the model, named so: :func:`delay_curve` and :func:`version_traces`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from ..durations import format_duration, parse_duration
from ..faults import FaultPlan, plan
from ..trace import HOLDERS, DeliveryTrace, StoreTrace
from .timeline import (DAY, MINUTE, REPRESENTATIVE_VERSIONS, Axis, Bar, Lane, Mark, Timeline, _horizon,
                       time_axis)

# -- reading traces into lanes -------------------------------------------------------------------------
def result_kind(result: Union[int, str]) -> str:
    """The mark kind of an S3 result (``200``, ``503``, ``refused``, ``timeout``)."""
    if isinstance(result, int) or str(result).isdigit():
        code = int(result)
        return "2xx" if code < 300 else "4xx" if code < 500 else "5xx"
    return "timeout" if result == "timeout" else "hung" if result == "hung" else "refused"


def reply_code(reply: str) -> str:
    """The short form of an SMTP reply: ``451`` for ``451 4.3.5 ...``; ``timeout``/``refused``/``dropped`` as is."""
    head = reply.split()[0] if reply else "?"
    return head if head.isdigit() else reply


def reply_kind(reply: str) -> str:
    """The mark kind of an SMTP reply."""
    code = reply_code(reply)
    if code.isdigit():
        return "2xx" if code[0] == "2" else "4xx" if code[0] == "4" else "5xx"
    return "timeout" if code == "timeout" else "refused"


def _fault_kind(kind: Optional[str]) -> str:
    if kind is None:
        return "s3-up"
    if kind.isdigit():
        return "s3-5xx" if int(kind) >= 500 else "s3-4xx"
    return f"s3-{kind}"


def s3_state_bars(faults: FaultPlan, horizon: float) -> list[Bar]:
    """The S3 state from the fault plan as bars from 0 to ``horizon``: ``up`` or the fault a request meets."""
    edges = {0.0, float(horizon)}
    for f in faults.s3:
        edges.add(f.start)
        if f.end is not None:
            edges.add(f.end)
    edges_sorted = sorted(e for e in edges if 0.0 <= e <= horizon)
    bars: list[Bar] = []
    for a, b in zip(edges_sorted, edges_sorted[1:]):
        fault = faults.s3_fault_at(a)
        label = "up" if fault is None else fault.kind
        if bars and bars[-1].label == label:
            bars[-1] = bars[-1]._replace(end=b)
        else:
            bars.append(Bar(a, b, label, _fault_kind(None if fault is None else fault.kind), fault is not None))
    return bars


def outage_windows(faults: FaultPlan, horizon: float) -> list[tuple[float, float]]:
    """The union of the S3 fault windows, clipped to ``[0, horizon]``."""
    windows = sorted((f.start, horizon if f.end is None else min(f.end, horizon)) for f in faults.s3
                     if f.start < horizon)
    merged: list[tuple[float, float]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


_METHODS = ("PUT", "HEAD", "GET", "DELETE")


def _answer_kind(request: dict) -> str:
    """A request's mark kind; a 2xx that a lost-write fault swallowed is not drawn as a success."""
    kind = result_kind(request["result"])
    if kind == "2xx" and str(request.get("fault") or "").startswith("lost-write"):
        return "2xx-lost"
    return kind


def _request_lanes(requests: Sequence[dict], annotate: bool) -> list[Lane]:
    present = {r["method"] for r in requests}
    methods = ["PUT"] + [m for m in _METHODS[1:] if m in present] + sorted(present - set(_METHODS))
    lanes = []
    for method in methods:
        marks = [Mark(r["t"], str(r["result"]), _answer_kind(r), annotate, r.get("duration") or 0.0, r.get("row") or 0)
                 for r in requests if r["method"] == method]
        lanes.append(Lane(f"requests:{method}", f"S3 {method}", marks=marks, note="no requests" if not marks else ""))
    return lanes


def _sleep_lane(sleeps: Sequence[dict], span: float, annotate_all: bool) -> Lane:
    bars = []
    for s in sleeps:
        label = format_duration(s["seconds"]) + (" (rust-s3)" if s["reason"] == "transport-retry" else "")
        show = annotate_all or s["seconds"] >= 0.04 * span
        bars.append(Bar(s["t"], s["t"] + s["seconds"], label, s["reason"], show, row=s.get("row")))
    return Lane("sleeps", "store sleeps", bars=bars, note="no sleeps" if not bars else "")


def _requests_of(trace: StoreTrace) -> list[dict]:
    return trace.to_dict()["requests"]


def put_lanes(trace: StoreTrace, faults=None, scale: str = "auto", lanes: Optional[Sequence[str]] = None,
              headline: str = "", horizon: Optional[float] = None) -> Timeline:
    """The lanes of one PUT (or GET/DELETE) trace: S3 state, requests by method, sleeps, outcome.

    ``lanes``, ``headline`` and ``horizon`` (one time axis for several frames) as in :func:`delivery_lanes`.
    """
    return _chosen(_put_lanes(trace, faults, scale, horizon), lanes, headline)


def _put_lanes(trace: StoreTrace, faults, scale: str, at_least: Optional[float] = None) -> Timeline:
    d = trace.to_dict()
    fault_plan = plan(faults if faults is not None else trace.faults)
    ends = [r["t"] + r["duration"] for r in d["requests"]] + [s["t"] + s["seconds"] for s in d["sleeps"]]
    ends += [trace.ended] + [f.end if f.end is not None else f.start for f in fault_plan.s3] + [at_least]
    horizon = _horizon(ends)
    axis = time_axis(horizon, scale)
    annotate = len(d["requests"]) <= 16
    lanes = [Lane("s3", "S3 endpoint", bars=s3_state_bars(fault_plan, axis.hi))]
    lanes += _request_lanes(d["requests"], annotate)
    lanes.append(_sleep_lane(d["sleeps"], horizon, annotate_all=len(d["sleeps"]) <= 12))
    if trace.outcome == "stored":
        kind, label = ("mailbox", "stored, durable") if trace.durable else ("lost", "stored, NOT in S3")
    elif trace.outcome == "hung":
        kind, label = "hung", "still waiting"
    else:
        # a failed store call is an error to its caller (an SMTP 451, an IMAP NO), not a bounce: nothing is sent
        kind, label = "failed", f"{trace.outcome}: {(trace.error or '').split(':')[0]}".rstrip(": ")
    lanes.append(Lane("outcome", "outcome", marks=[Mark(trace.ended, label, kind, True)]))
    c = trace.config
    title = (f"{trace.operation.upper()} on Stalwart {trace.version} · maxRetries {c['max_retries']} · "
             f"timeout {format_duration(c['timeout'])} · verify {'on' if c['verify'] else 'off'} · "
             f"latency {format_duration(c['latency'])} · faults: {', '.join(trace.faults) or 'none'}")
    subtitle = f"{trace.outcome} after {format_duration(trace.elapsed)}"
    if trace.error:
        subtitle += f": {trace.error}"
    subtitle += f" · durable in S3: {'yes' if trace.durable else 'no'}" if trace.operation == "put" else ""
    return Timeline(title, subtitle, horizon, axis, lanes, outage_windows(fault_plan, axis.hi),
                    f"time since the first request{_scale_note(axis)}")


def _scale_note(axis: Axis) -> str:
    if axis.scale == "symlog":
        return f" (log scale past {format_duration(axis.linthresh)})"
    return " (log scale)" if axis.scale == "log" else ""


def delivery_lanes(trace: DeliveryTrace, faults=None, scale: str = "auto", horizon: Optional[float] = None,
                   lanes: Optional[Sequence[str]] = None, headline: str = "") -> Timeline:
    """The lanes of one delivery: S3 state, requests, sleeps, SMTP sessions, custody, mailbox and DSNs.

    ``horizon`` stretches the time axis to at least that many seconds (to draw several deliveries on one axis).
    ``lanes`` keeps only those lanes (keys, or a name in :data:`~blobedu.plots.timeline.LANE_SETS`), for a
    progressive figure; ``headline`` is its bold title (what to notice), the verdict going to the caption.
    """
    timeline = _delivery_lanes(trace, faults, scale, horizon)
    return _chosen(timeline, lanes, headline)


def _chosen(timeline: Timeline, lanes, headline: str) -> Timeline:
    if lanes is not None:
        timeline = timeline.only(lanes)
    if headline:
        timeline = replace(timeline, headline=headline)
    return timeline


def _loop_rows(stores: Sequence[dict]) -> list[Optional[int]]:
    """A row for each session's store loop, when loops overlap in time (None each when none does).

    A sender that hangs up retries while the receiver's loop still runs (a long loop, a silent S3 on
    0.15): drawn in one row, two loops' requests and sleeps would interleave and read as one.  A loop
    that starts while an earlier one still runs gets the first row free by then, as stacked bars do.
    """
    ends: list[float] = []
    rows: list[int] = []
    for st in stores:
        starts = [r["t"] for r in st["requests"]] + [s["t"] for s in st["sleeps"]]
        stops = [r["t"] + (r.get("duration") or 0.0) for r in st["requests"]] + [s["t"] + s["seconds"] for s in st["sleeps"]]
        if not starts:
            rows.append(0)
            continue
        start, stop = min(starts), max(stops)
        row = next((i for i, e in enumerate(ends) if e <= start), len(ends))
        ends[row:row + 1] = [stop]
        rows.append(row)
    return rows if any(rows) else [None] * len(rows)


def _delivery_lanes(trace: DeliveryTrace, faults, scale: str, horizon: Optional[float]) -> Timeline:
    c = trace.config
    fault_plan = plan(faults if faults is not None else c.get("faults", []))
    stores = [s.store for s in trace.sessions if s.store]
    rows = _loop_rows(stores)
    requests = [dict(r, row=row) for st, row in zip(stores, rows) for r in st["requests"]]
    sleeps = [dict(s, row=row) for st, row in zip(stores, rows) for s in st["sleeps"]]
    times: list[Optional[float]] = [trace.ended]
    times += [s.ended for s in trace.sessions] + [s.receiver_replied_at for s in trace.sessions]
    times += [span["to"] for span in trace.custody] + [span["from"] for span in trace.custody]
    times += [d["t"] for d in trace.dsns] + [e["t"] for e in trace.local] + [e["t"] for e in trace.events]
    times += [r["t"] + r["duration"] for r in requests] + [s["t"] + s["seconds"] for s in sleeps]
    times += [f.end if f.end is not None else f.start for f in fault_plan.faults] + [horizon]
    horizon = _horizon(times)
    # past a day, seconds-long retries are detail for plot_put: the linear part grows to a minute
    axis = time_axis(horizon, scale, linthresh=MINUTE if horizon >= DAY else 1.0)

    lanes = [Lane("s3", "S3 endpoint", bars=s3_state_bars(fault_plan, axis.hi))]
    lanes += _request_lanes(requests, annotate=False)
    if not requests and c.get("receiver") == "wal":
        lanes[-1].note = "the spool's background uploads are not traced request by request"
    lanes.append(_sleep_lane(sleeps, horizon, annotate_all=False))

    smtp = Lane("smtp", "SMTP sessions", height=1.5, note="no sessions")
    for s in trace.sessions:
        timed_out = s.reply == "timeout"
        smtp.bars.append(Bar(s.t, s.ended, reply_code(s.reply), "session-timeout" if timed_out else "session"))
        smtp.marks.append(Mark(s.ended, reply_code(s.reply), reply_kind(s.reply), True))
        if s.receiver_reply and s.receiver_replied_at is not None and s.receiver_reply != s.reply:
            smtp.marks.append(Mark(s.receiver_replied_at, f"{reply_code(s.receiver_reply)} to nobody", "late", True))
    smtp.note = "" if trace.sessions else smtp.note
    lanes.append(smtp)

    full = [f for f in fault_plan.receiver if f.kind == "disk-full"]
    # what happens to the receiver itself (its disk full, a crash, its disk lost) has its own lane, not
    # the mailbox's: a disk loss is not something that happens to the mailbox
    disk_lost = {e["t"] for e in trace.events if e["what"] == "disk-loss"}
    node_marks = []
    for event in trace.events:
        if event["what"] == "spool lost" and event["t"] in disk_lost:
            continue  # the same moment as its disk-loss: one mark, one label
        if event["what"] in ("crash", "disk-loss", "spool lost"):
            node_marks.append(Mark(event["t"], event["what"], "node", True))
    if full or node_marks:  # in this model only the spool writes to that disk, but both designs show the window
        crashed = any(m.label == "crash" for m in node_marks)
        lanes.append(Lane("disk", "receiver" if crashed else "receiver disk", bars=[
            Bar(f.start, axis.hi if f.end is None else min(f.end, axis.hi), "full", "disk-full", True, f.end is None)
            for f in full], marks=sorted(node_marks, key=lambda m: m.t)))

    holders = list(HOLDERS) + sorted({span["holder"] for span in trace.custody} - set(HOLDERS))
    for holder in holders:
        bars = [Bar(span["from"], axis.hi if span["to"] is None else span["to"], span["note"], holder, False,
                    span["to"] is None) for span in trace.custody if span["holder"] == holder]
        note = "never held a copy"
        if holder == "spool" and c.get("receiver") == "stalwart":
            note = "none: Stalwart has no spool, WAL or blob cache"
        lanes.append(Lane(f"custody:{holder}", f"copy in {holder}", bars=bars, note="" if bars else note))

    outcome = Lane("outcome", "mailbox / DSN", height=1.2)
    for entry in trace.local:
        delivered = entry["result"] == "delivered"
        outcome.marks.append(Mark(entry["t"], "mailbox" if delivered else entry["result"],
                                  "mailbox" if delivered else "local-fail", True))
    for dsn in trace.dsns:
        if dsn.get("queued") is False and dsn.get("origin") != "receiver":
            # the sender's own store refused it: nothing was sent (a dropped bounce is not a bounce)
            what = "delay DSN" if dsn["kind"] == "delayed" else "bounce"
            outcome.marks.append(Mark(dsn["t"], f"{what} dropped", "dsn-dropped", True))
        elif dsn["kind"] == "delayed":
            outcome.marks.append(Mark(dsn["t"], "delay DSN", "dsn-delayed", True))
        else:
            by = " (receiver)" if dsn.get("origin") == "receiver" else ""
            outcome.marks.append(Mark(dsn["t"], f"bounce{by}", "bounce", True))
    accepted = any(reply_code(s.reply) == "250" for s in trace.sessions)
    if trace.fate == "lost" and (accepted or not any(m.kind == "dsn-dropped" for m in outcome.marks)):
        # the moment the last copy went: LOST, where the mailbox mark would be (a message never
        # acknowledged, whose bounce was dropped, has its dropped-bounce mark instead)
        ends = [span["to"] for span in trace.custody if span["to"] is not None]
        gone = max(ends) if ends and all(span["to"] is not None for span in trace.custody) else trace.ended
        outcome.marks.append(Mark(gone, "LOST", "lost", True))
    outcome.marks.sort(key=lambda m: m.t)
    outcome.note = "" if outcome.marks else "nothing yet"
    lanes.append(outcome)
    if c.get("sender_faults"):  # the sender's own blob store, where its DSNs are written
        own = plan(list(c["sender_faults"]))
        lanes.append(Lane("sender-s3", "sender's own S3", bars=[
            Bar(f.start, axis.hi if f.end is None else min(f.end, axis.hi), f.kind, "sender-s3-down", True,
                f.end is None) for f in own.s3 if f.start < axis.hi]))

    st = c["store"]
    sender = c["sender"] + (f" {c['sender_version']}" if c.get("sender_version") else "")
    title = (f"sender {sender} → receiver {c['receiver']} (Stalwart {st['version']}, maxRetries {st['max_retries']}, "
             f"timeout {format_duration(st['timeout'])}, verify {'on' if st['verify'] else 'off'}) · "
             f"final-dot wait {format_duration(c['data_timeout'])} · faults: {', '.join(c.get('faults', [])) or 'none'}")
    from ..text import verdict

    return Timeline(title, verdict(trace), horizon, axis, lanes, outage_windows(fault_plan, axis.hi),
                    f"time since the message was queued at the sender{_scale_note(axis)}")


def schedule_lanes(schedules: Sequence[Any], horizon: float = 5 * DAY, scale: str = "auto",
                   attempt_cost: float = 1.0) -> Timeline:
    """One lane per sender schedule: its attempts if every one fails, its delay DSNs and when it gives up.

    Each attempt fails after ``attempt_cost`` seconds (1 s: a 0.16 receiver's answer to a refused S3),
    so the attempts and the bounce are the ones ``blobedu deliver --fault refused@0`` shows.  Where the
    last try comes long before the expiry (a 0.16 Stalwart sender: 1d04h, then nothing until 3 d), the
    gap is drawn and labelled: an outage that outlasts the last try bounces, however soon S3 returns.
    """
    from ..schedules import attempt_times, gives_up_at, sender_schedule

    horizon = parse_duration(horizon)
    axis = time_axis(horizon, scale, linthresh=MINUTE if horizon >= DAY else 1.0)
    lanes, gaps = [], []
    for s in schedules:
        schedule = sender_schedule(s) if isinstance(s, str) else s
        times = attempt_times(schedule, horizon, attempt_cost=attempt_cost)
        bounce = gives_up_at(schedule, attempt_cost=attempt_cost)
        marks = [Mark(t, f"attempt {i}", "attempt") for i, t in enumerate(times, 1)]
        marks += [Mark(w, "delay DSN", "dsn-delayed", True) for w in schedule.warnings(0.0) if w <= horizon]
        if bounce <= horizon:
            marks.append(Mark(bounce, f"bounce {format_duration(bounce)}", "bounce", True))
        end = bounce if bounce <= horizon else axis.hi
        bars = [Bar(0.0, end, "queued", "queued", False, end == axis.hi)]
        if bounce <= horizon and bounce - times[-1] > 6 * 3600:
            bars.append(Bar(times[-1], bounce, f"last try {format_duration(times[-1])}: no try until the bounce",
                            "no-more-tries", True))
            gaps.append(f"{schedule.name}'s last try is at {format_duration(times[-1])}, its bounce at "
                        f"{format_duration(bounce)}: an outage past {format_duration(times[-1])} bounces")
        lanes.append(Lane(f"schedule:{schedule.name}", f"{schedule.name}\n{len(times)} attempts", bars=bars,
                          marks=sorted(marks, key=lambda m: m.t), height=1.2, labelled=True))
    return Timeline(f"attempts until {format_duration(horizon)} or until the sender gives up, each failing after "
                    f"{format_duration(attempt_cost)}; an arrow: still trying at the end",
                    gaps[0] if gaps else "When each sender tries again, if every attempt fails",
                    horizon, axis, lanes, [], f"time since the first attempt{_scale_note(axis)}")


def version_lanes(traces: Mapping[str, StoreTrace], scale: str = "auto") -> Timeline:
    """One lane per labelled PUT trace (e.g. one per Stalwart version): its requests and its sleeps."""
    ends = [t.ended for t in traces.values()]
    ends += [s.t + s.seconds for t in traces.values() for s in t.sleeps]
    horizon = _horizon(ends)
    axis = time_axis(horizon, scale)
    lanes = []
    for label, trace in traces.items():
        d = trace.to_dict()
        marks = [Mark(r["t"], f"{r['method']} {r['result']}", _answer_kind(r), False, r["duration"])
                 for r in d["requests"]]
        sleep = _sleep_lane(d["sleeps"], horizon, annotate_all=len(d["sleeps"]) <= 8)
        outcome = f"{trace.outcome} after {format_duration(trace.elapsed)}"
        if trace.outcome == "stored" and not trace.durable:
            outcome += ", NOT in S3"
        lanes.append(Lane(f"version:{label}", f"{label}\n{outcome}", bars=sleep.bars, marks=marks, height=1.1))
    faults = sorted({f for t in traces.values() for f in t.faults})
    return Timeline("bars: sleeps between retries · marks: requests, by answer",
                    f"The same PUT on each Stalwart version · faults: {', '.join(faults) or 'none'}", horizon, axis,
                    lanes, [], f"time since the first request{_scale_note(axis)}")


# -- data helpers that run the model (named so) ------------------------------------------------------
def delay_curve(outages: Iterable[Union[str, float]], sender: str = "stalwart", kind: str = "refused",
                config=None) -> list[dict]:
    """Runs :func:`blobedu.delivery.deliver` once per outage ``kind@0-OUTAGE``: outage and delay, in seconds."""
    from ..delivery import DeliveryConfig, deliver

    base = config or DeliveryConfig()
    base = replace(base, sender=sender)
    points = []
    for outage in outages:
        seconds = parse_duration(outage)
        faults = [f"{kind}@0-{format_duration(seconds)}"] if seconds > 0 else []
        trace = deliver(faults, base)
        bounce = next((d["t"] for d in trace.dsns if d["kind"] == "failed"), None)
        points.append({"outage": seconds, "delay": trace.delivered_at, "fate": trace.fate, "bounced_at": bounce,
                       "copies": trace.copies, "sessions": len(trace.sessions), "sender": sender})
    return points


def version_traces(faults: Sequence[str] = ("503@0-5",), versions: Sequence[str] = REPRESENTATIVE_VERSIONS,
                   **store_settings: Any) -> dict[str, StoreTrace]:
    """Runs :func:`blobedu.store.put` once per version with the same faults: ``{"Stalwart V": trace}``."""
    from ..store import StoreConfig, put

    return {f"Stalwart {v}": put(faults=list(faults), config=StoreConfig(version=v, **store_settings))
            for v in versions}


def delay_series(points: Union[Sequence[dict], Mapping[str, Sequence[dict]]]) -> dict[str, dict[str, list]]:
    """The curves a delay plot draws: per series, delivered ``(outage, delay)`` and bounced ``(outage, at)``."""
    if isinstance(points, Mapping):
        groups = dict(points)
    else:
        groups = {}
        for p in points:
            groups.setdefault(p.get("sender", "delivery"), []).append(p)
    out = {}
    for name, pts in groups.items():
        pts = sorted(pts, key=lambda p: p["outage"])
        out[name] = {
            "delivered": [(p["outage"], p["delay"]) for p in pts if p["fate"] == "delivered"],
            "bounced": [(p["outage"], p["bounced_at"]) for p in pts if p["fate"] == "bounced"],
            "lost": [(p["outage"], p["outage"]) for p in pts if p["fate"] == "lost"],
        }
    return out


def fate_lanes(traces: Mapping[str, DeliveryTrace], outage: Union[str, float], horizon: Union[str, float] = 6.5 * DAY,
               names: Optional[Mapping[str, str]] = None, headline: str = "") -> Timeline:
    """One lane per sender, the same outage: its tries (by reply), its queue, and the message's fate.

    ``traces`` maps a sender to a real delivery through ``refused@0-OUTAGE`` (e.g.
    :func:`blobedu.experiments.sender_fates`).  The axis is fixed at ``horizon`` so frames of different
    outages line up.  Where the last try comes long before the bounce (a 0.16 Stalwart sender: 1d04h,
    then nothing until 3 d), that gap is drawn and labelled.
    """
    outage_s, horizon = parse_duration(outage), parse_duration(horizon)
    axis = time_axis(horizon, "symlog", linthresh=MINUTE)
    names = dict(names or {})
    lanes, fates = [], []
    for sender, trace in traces.items():
        name = names.get(sender, sender)
        bounce = next((d["t"] for d in trace.dsns if d["kind"] == "failed"), None)
        end = trace.delivered_at if trace.fate == "delivered" else bounce
        end_at = min(end, horizon) if end is not None else horizon
        bars = [Bar(0.0, end_at, "queued", "queued", False, end is None or end > horizon)]
        marks = [Mark(s.t, reply_code(s.reply), reply_kind(s.reply)) for s in trace.sessions if s.t <= horizon]
        marks += [Mark(d["t"], "delay DSN", "dsn-delayed") for d in trace.dsns
                  if d["kind"] == "delayed" and d["t"] <= horizon]
        if trace.fate == "delivered":
            what = f"delivered at {format_duration(trace.delivered_at)}"
            marks.append(Mark(trace.delivered_at, f"250 at {format_duration(trace.delivered_at)}", "mailbox", True))
        elif bounce is not None:
            what = f"bounced at {format_duration(bounce)}"
            marks.append(Mark(bounce, f"bounce {format_duration(bounce)}", "bounce", True))
            last = max(s.t for s in trace.sessions)
            if bounce - last > 6 * 3600:
                bars.append(Bar(last, bounce, f"last try {format_duration(last)}: no try until the bounce",
                                "no-more-tries", True))
        else:
            what = trace.fate
        fates.append(f"{name} {what}")
        lanes.append(Lane(f"fate:{sender}", f"{name}\n{what}", bars=bars, marks=sorted(marks, key=lambda m: m.t),
                          height=1.2, labelled=True))
    return Timeline(f"S3 refuses connections from 0 to {format_duration(outage_s)}; each sender is a real delivery "
                    "over SMTP to a Stalwart 0.16 receiver; marks: each try's reply",
                    "; ".join(fates), horizon, axis, lanes, [(0.0, outage_s)] if outage_s else [],
                    f"time since the message was first sent{_scale_note(axis)}", headline=headline)
