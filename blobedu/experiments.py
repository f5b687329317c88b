"""Small experiments the notebooks run in one line each: they call the model and return plain rows.

Nothing here decides behaviour; each function runs :func:`blobedu.store.put` or
:func:`blobedu.delivery.deliver` over a few settings and tabulates what came back.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

from .delivery import DeliveryConfig, deliver
from .durations import format_duration
from .endpoint import InProcessEndpoint
from .policy import worst_case_seconds
from .store import S3BlobStore, StoreConfig
from .versions import behaviour


def _put_rows(endpoint, configs_and_faults) -> list[dict]:
    rows = []
    for label, config, faults in configs_and_faults:
        store = S3BlobStore(config, endpoint, None, faults)
        trace = store.put(f"message for {label}".encode())
        rows.append({
            "case": label,
            "outcome": trace.outcome,
            "requests": " ".join(f"{r.method}:{r.result}" for r in trace.requests),
            "sleeps": ", ".join(format_duration(s.seconds) for s in trace.sleeps) or "-",
            "elapsed": format_duration(trace.elapsed),
            "durable": "yes" if trace.durable else "no",
        })
    return rows


def fault_comparison(kinds: Sequence[str] = ("503", "500", "429", "403", "refused", "timeout"),
                     version: str = "0.16.18", window: str = "0") -> list[dict]:
    """One PUT per fault kind, the fault lasting from ``window`` on: which kinds are retried, and how."""
    with InProcessEndpoint() as ep:
        return _put_rows(ep, [(k, StoreConfig(version=version), [f"{k}@{window}"]) for k in kinds])


def version_comparison(fault: str = "503@0", versions: Iterable[str] = ("0.9.0", "0.10.5", "0.15.5", "0.16.1",
                                                                         "0.16.18")) -> list[dict]:
    """The same fault through each version row of the table."""
    with InProcessEndpoint() as ep:
        return _put_rows(ep, [(f"Stalwart {v}", StoreConfig(version=v), [fault]) for v in versions])


#: The label of a worst case that outlasts a sender's final-dot wait: the loop's 451 goes to nobody.
TIMES_OUT = "TIMES OUT"


def worst_case_table(max_retries: Iterable[int] = (1, 3, 5, 10), timeouts: Iterable[float] = (5.0, 30.0),
                     version: str = "0.16.18", senders: Sequence[str] = ("stalwart", "postfix", "exim"),
                     verify: Optional[bool] = None) -> list[dict]:
    """Worst-case time until the 451 for each maxRetries and timeout, against each sender's final-dot wait.

    The worst case is a slow 5xx storm, or with verifyAfterWrite a slow PUT plus a slow HEAD per round
    (:func:`blobedu.policy.worst_case_seconds`), every request failing: the loop runs out and answers
    451.  A receiver slower than the sender waits answers that 451 to nobody, so the label is
    ``TIMES OUT``, not a duplicate: the sender hangs up (facts §3, its final-dot wait), retries later,
    and the message arrives **once, later**.  A time-out ends in a duplicate only when a late request
    of the loop succeeds after the sender hung up (a storm that ends inside the loop): then the
    receiver's 250 goes to nobody and the sender's retry is accepted too (facts §3, RFC 1047).
    """
    from .schedules import sender_schedule

    b = behaviour(version)
    waits = {s: sender_schedule(s).final_dot_wait for s in senders}
    rows = []
    for t in timeouts:
        for n in max_retries:
            w = worst_case_seconds(b, n, t, verify)
            worst = w["slow_verify"]
            row = {
                "maxRetries": n,
                "timeout": format_duration(t),
                "503 at once": format_duration(w["sleep_5xx"]),
                "S3 silent": "hangs" if math.isinf(w["silent_endpoint"]) else format_duration(w["silent_endpoint"]),
                "slow 503s" + (" (+ slow HEADs)" if worst != w["slow_5xx"] else ""): format_duration(worst),
            }
            for sender, wait in waits.items():
                row[f"{sender} waits {format_duration(wait)}"] = TIMES_OUT if worst > wait else "ok"
            rows.append(row)
    return rows


def retry_load(max_retries: Iterable[int] = (1, 3, 10), fault: str = "503@0-1h", sender: str = "stalwart") -> list[dict]:
    """S3 requests one message costs during an outage, by maxRetries: how retries multiply the load."""
    rows = []
    for n in max_retries:
        trace = deliver([fault], DeliveryConfig(store=StoreConfig(max_retries=n), sender=sender))
        requests = sum(len(s.store["requests"]) for s in trace.sessions if s.store)
        rows.append({
            "maxRetries": n,
            "SMTP sessions": len(trace.sessions),
            "S3 requests": requests,
            "per session": f"{requests / max(1, len(trace.sessions)):.1f}",
            "delivered after": format_duration(trace.delivered_at) if trace.delivered_at is not None else trace.fate,
        })
    return rows


def outage_curves(outages: Sequence[str] = ("10m", "1h", "6h", "1d", "2d", "3d", "4d"),
                  senders: Sequence[str] = ("stalwart", "postfix", "exim", "rfc5321"),
                  kind: str = "refused") -> dict[str, list[dict]]:
    """For each sender, one delivery per outage length: the points of the delay curve."""
    from .plots import delay_curve

    return {sender: delay_curve(outages, sender=sender, kind=kind) for sender in senders}


def outage_table(curves: dict[str, list[dict]]) -> list[dict]:
    """The delay curves as a table: per outage, when each sender's message is delivered, or that it bounced."""
    senders = list(curves)
    rows = []
    for i, point in enumerate(curves[senders[0]]):
        row = {"outage": format_duration(point["outage"])}
        for sender in senders:
            p = curves[sender][i]
            row[sender] = (format_duration(p["delay"]) if p["fate"] == "delivered"
                           else f"{p['fate']} at {format_duration(p['bounced_at'])}" if p["bounced_at"] is not None
                           else p["fate"])
        rows.append(row)
    return rows


#: The senders 03 compares, with the names its figures give them.
SENDER_NAMES = {"stalwart": "Stalwart 0.16", "postfix": "Postfix", "exim": "Exim", "rfc5321": "RFC 5321 minimum"}


def sender_fates(outage: str, senders: Sequence[str] = tuple(SENDER_NAMES), kind: str = "refused") -> dict:
    """One real delivery per sender through the same outage ``kind@0-OUTAGE``: ``{sender: DeliveryTrace}``.

    What 03's outage slider shows, one frame per outage length: the fate of the message for each sender.
    """
    from .durations import parse_duration

    seconds = parse_duration(outage)
    faults = [f"{kind}@0-{format_duration(seconds)}"] if seconds > 0 else []
    return {sender: deliver(faults, DeliveryConfig(sender=sender)) for sender in senders}


def fate_point(outage: float, trace) -> dict:
    """One point of a delay curve (the shape :func:`blobedu.plots.delay_curve` returns) from a delivery."""
    bounce = next((d["t"] for d in trace.dsns if d["kind"] == "failed"), None)
    return {"outage": outage, "delay": trace.delivered_at, "fate": trace.fate, "bounced_at": bounce,
            "copies": trace.copies, "sessions": len(trace.sessions), "sender": trace.config.get("sender", "stalwart")}


def fates_curves(outages: Sequence[str], runs: Sequence[dict]) -> dict[str, list[dict]]:
    """The delay curves (as :func:`outage_curves` gives them) from :func:`sender_fates` runs already made."""
    from .durations import parse_duration

    curves: dict[str, list[dict]] = {}
    for outage, traces in zip(outages, runs):
        for sender, trace in traces.items():
            curves.setdefault(sender, []).append(fate_point(parse_duration(outage), trace))
    return curves


def fate_line(outage: str, traces: dict) -> str:
    """One line per frame: each sender's fate in that outage."""
    parts = []
    for sender, t in traces.items():
        p = fate_point(0.0, t)
        what = (f"delivered at {format_duration(p['delay'])}" if p["fate"] == "delivered"
                else f"bounced at {format_duration(p['bounced_at'])}" if p["bounced_at"] is not None else p["fate"])
        parts.append(f"{SENDER_NAMES.get(sender, sender)}: {what}")
    return f"a {outage} outage: " + "; ".join(parts)


#: The outage lengths of 03's slider and delay curve, from minutes to past every sender's bounce.
FATE_OUTAGES = ("10m", "1h", "6h", "1d", "2d", "3d", "4d", "6d")


def fate_headline(outage: str, traces: dict) -> str:
    """What to notice in one frame: the Stalwart 0.16 sender's fate, and how late it is after S3 is back."""
    from .durations import parse_duration

    t = traces["stalwart"]
    p = fate_point(parse_duration(outage), t)
    if p["fate"] == "delivered":
        late = p["delay"] - p["outage"]
        return (f"S3 down for {outage}: a Stalwart 0.16 sender delivers at {format_duration(p['delay'])}, "
                f"{format_duration(late)} after S3 is back")
    if p["bounced_at"] is not None:
        return f"S3 down for {outage}: a Stalwart 0.16 sender bounces at {format_duration(p['bounced_at'])}"
    return f"S3 down for {outage}: a Stalwart 0.16 sender: {p['fate']}"


def storm_headline(storm: str, trace) -> str:
    """What to notice in one frame of 05's slider: did the reply reach the sender, and how many copies arrived."""
    late = [s for s in trace.sessions if s.reply == "timeout"]
    when = format_duration(trace.delivered_at) if trace.fate == "delivered" else trace.fate
    if not late:
        return f"{storm} of 503s: the 250 reaches the sender in its session, at {when}: one copy"
    first = late[0]
    answer = (first.receiver_reply or "").split()[0] if first.receiver_reply else "no reply"
    copies = {1: "one copy", 2: "two copies"}.get(trace.copies, f"{trace.copies} copies")
    return (f"{storm} of 503s: the sender hangs up; the loop's {answer} at "
            f"{format_duration(first.receiver_replied_at)} goes to nobody ({len(late)} × timeout): {copies}, at {when}")


#: When the receiver's disk dies in 04's slider: never, once during the 1-hour outage (a spool run ends at its
#: upload), or on every node of the fair WAL's 3 (:data:`CLUSTER_LOSS`).
CLUSTER_LOSS = "all 3 disks"
DISK_LOSS_AT = ("no loss", "10m", "30m", "59m", CLUSTER_LOSS)
#: The moments of the cluster loss: three disk losses, one per node of the fair WAL (blobedu.spool.FAIR).
CLUSTER_LOSS_AT = ("10m", "30m", "50m")


def designs_through(faults: Sequence[str], fair: bool = True) -> dict:
    """The same faults through Stalwart's receiver, the one-disk spool and (``fair``) the fair WAL.

    ``{"stalwart": trace, "wal": trace, "wal-fair": trace}`` (:data:`blobedu.widgets.ALL_DESIGNS`).
    """
    from .widgets import DESIGNS, FAIR_WAL, _deliver_both, design_config

    keys = [k for k, _ in DESIGNS] + ([FAIR_WAL[0]] if fair else [])
    return _deliver_both(list(faults), {k: design_config(k) for k in keys})


def disk_loss_faults(at: str, outage: str = "refused@0-1h") -> list[str]:
    """04's slider scenario: a 1-hour outage, and the receiver's disk lost at ``at`` (or ``"no loss"``, or
    :data:`CLUSTER_LOSS`: one disk loss per node at :data:`CLUSTER_LOSS_AT`)."""
    if at == CLUSTER_LOSS:
        return [outage] + [f"disk-loss@{t}" for t in CLUSTER_LOSS_AT]
    return [outage] + ([] if at == "no loss" else [f"disk-loss@{at}"])


def plot_designs(traces: dict, title: str = ""):
    """The designs one above the other, only the lanes 04 teaches (replies, disk, the copies, the outcome)."""
    from .plots import draw_stack
    from .widgets import spool_lanes

    return draw_stack(spool_lanes(traces), title=title)


def designs_line(traces: dict) -> str:
    """One line per design (the panel's verdict)."""
    from .widgets import ALL_DESIGNS, design_verdict

    return "\n".join(design_verdict(traces[r], name) for r, name in ALL_DESIGNS if r in traces)


#: 04's table of fates: the same faults through every design (name, faults, store settings).
WAL_CASES = (
    ("a 6 h outage", ("refused@0-6h",), {}),
    ("a 6 h outage, a disk lost at 3h", ("refused@0-6h", "disk-loss@3h"), {}),
    ("a 6 h outage, all 3 disks lost", ("refused@0-6h", "disk-loss@2h", "disk-loss@3h", "disk-loss@4h"), {}),
    ("a 2-day outage", ("refused@0-2d",), {}),
    ("slow 503s for 4m (maxRetries 10, 29 s a request)", ("503@0-4m",), {"max_retries": 10, "latency": 29.0}),
)


def fate_row(trace, outage_end: Optional[float]) -> dict:
    """One design's fate in one case: delay after S3 is back, bounce, duplicates, lost, sessions, uploads."""
    in_mailbox = [a for a in trace.accepted if a.get("mailbox_at") is not None]
    uploads = sum(e.get("attempts", 0) for e in trace.events
                  if e["what"] in ("queued", "bounce") and e.get("who") == "receiver" and "attempts" in e)
    after = None
    if trace.fate == "delivered" and outage_end is not None:
        after = format_duration(max(0.0, trace.delivered_at - outage_end))
    bounce = next((d for d in trace.dsns if d["kind"] == "failed"), None)
    return {
        "delivered": format_duration(trace.delivered_at) if trace.fate == "delivered" else "no",
        "after S3 is back": after or "-",
        "bounced": f"at {format_duration(bounce['t'])}" if trace.fate == "bounced" and bounce else "no",
        "duplicates": max(0, len(in_mailbox) - 1),
        "lost": "LOST, after a 250" if trace.fate == "lost" else "no",
        "SMTP sessions": len(trace.sessions),
        # a copy lost with its disks never finished uploading: its uploader's count died with it
        "upload attempts": uploads if trace.config["receiver"] == "wal" and trace.fate != "lost" else "-",
    }


def wal_fates(cases=WAL_CASES) -> list[dict]:
    """04's table: every case of ``cases`` through Stalwart, the one-disk spool and the fair WAL (real runs)."""
    import dataclasses

    from .faults import plan
    from .store import StoreConfig
    from .widgets import ALL_DESIGNS, _deliver_both, design_config

    rows = []
    for name, faults, store in cases:
        configs = {k: dataclasses.replace(design_config(k), store=StoreConfig(**store)) for k, _ in ALL_DESIGNS}
        traces = _deliver_both(list(faults), configs)
        s3 = [f for f in plan(list(faults)).faults if f not in plan(list(faults)).receiver]
        end = max((f.end for f in s3 if f.end is not None), default=None)
        for key, label in ALL_DESIGNS:
            rows.append({"case": name, "design": label, **fate_row(traces[key], end)})
    return rows


def wal_wins(outages: Sequence[str] = ("6h", "2d")) -> list[dict]:
    """What a spool buys with no disk lost: per outage, each design's fate (a Stalwart 0.16 sender)."""
    from .widgets import DESIGNS, design_verdict

    rows = []
    for outage in outages:
        traces = designs_through([f"refused@0-{outage}"])
        row = {"outage": outage}
        for r, name in DESIGNS:
            row[f"{name}: fate"] = design_verdict(traces[r], "").split(" · ")[0].lstrip(": ")
            row[f"{name}: SMTP sessions"] = len(traces[r].sessions)
        rows.append(row)
    return rows


def disk_loss_caption(at: str) -> str:
    """The small caption of one frame of 04's slider: the configuration."""
    loss = ("no disk lost" if at == "no loss" else
            f"a disk lost at each of {', '.join(CLUSTER_LOSS_AT)} (one per node)" if at == CLUSTER_LOSS else
            f"the receiver's disk lost at {at}")
    return (f"S3 refuses connections for 1h; {loss} · a Stalwart 0.16 sender · lanes: replies, the disk, "
            "who holds a copy, the outcome")


# -- notebook 06: a Stalwart sender's own blob store, at the moment it writes a DSN -------------------------
#: When a Stalwart 0.16 sender's own S3 refuses, in 06's slider (the receiver's S3 refuses for 4 days): for an
#: hour when no DSN is due, around its 1-day delay warning, or from an hour before its 3-day bounce to the end.
OWN_STORE_DOWN = ("5h-6h", "23h-25h", "71h-4d")
#: The lanes 06's slider draws: the replies, the sender's copy, the DSNs, and the sender's own S3.
OWN_STORE_LANES = ("smtp", "custody:sender queue", "outcome", "sender-s3")


def own_store_run(window: str):
    """The receiver's S3 refuses for 4 days; the sender's own S3 refuses in ``window`` (or ``"never"``)."""
    own = () if window == "never" else (f"refused@{window}",)
    return deliver(["refused@0-4d"], DeliveryConfig(sender_faults=own))


def own_store_headline(window: str, trace) -> str:
    """What to notice in one frame of 06's slider, from its run's DSNs."""
    def at(kind: str) -> str:
        return format_duration(next(d["t"] for d in trace.dsns if d["kind"] == kind))

    dropped = [d for d in trace.dsns if d.get("queued") is False]
    if not trace.author_told:
        return f"Its own S3 down at {at('failed')}: the bounce is dropped, and the author is never told"
    if dropped:
        return (f"Its own S3 down at {at('delayed')}: the warning is dropped, the bounce at {at('failed')} "
                "still tells the author")
    return (f"Its own S3 down at {window}, when no DSN is due: a warning at {at('delayed')}, a bounce at "
            f"{at('failed')}: the author is told")


def plot_own_store(window: str, trace):
    """One frame of 06's slider: only the lanes it teaches, on one 4-day axis for every frame."""
    from .plots import plot_delivery

    return plot_delivery(trace, lanes=OWN_STORE_LANES, headline=own_store_headline(window, trace), horizon=4 * 86400)
