"""Text views of traces: the CLI's readable output and the one-line verdicts widgets show. No behaviour."""

from __future__ import annotations

from collections import Counter

from .durations import format_duration


def render_put(trace) -> str:
    """A readable timeline of one PUT: one line per request or sleep."""
    c = trace.config
    lines = [
        f"Stalwart {trace.version} · maxRetries {c['max_retries']} · timeout {format_duration(c['timeout'])} · "
        f"verify {'on' if c['verify'] else 'off'} · faults: {', '.join(trace.faults) or 'none'}"
    ]
    for e in trace.timeline():
        if e["type"] == "request":
            fault = f"   (fault {e['fault']})" if e["fault"] else ""
            lines.append(f"{format_duration(e['t']):>9}  {e['method']:<6} -> {e['result']}{fault}")
        else:
            why = "backoff" if e["reason"] == "backoff" else "rust-s3 transport retry"
            lines.append(f"{format_duration(e['t']):>9}  sleep {format_duration(e['seconds'])} ({why})")
    verdict = f"{trace.outcome} after {format_duration(trace.elapsed)}"
    if trace.outcome == "hung":
        verdict = (f"still hung after {format_duration(trace.elapsed)}: Stalwart {trace.version}'s timeout bounds only "
                   "the TCP connect, so an S3 that accepts and never answers is never given up on")
    if trace.error:
        verdict += f": {trace.error}"
    lines.append(verdict)
    lines.append(f"durable in S3: {'yes' if trace.durable else 'no'}")
    return "\n".join(lines)


def render_get(trace) -> str:
    """A readable timeline of one GET: the same lines as a PUT's, then what the reader gets."""
    lines = render_put(trace).splitlines()[:-1]  # a GET stores nothing: no "durable in S3" line
    lines[0] = lines[0].replace(" · verify on", "").replace(" · verify off", "")  # verify is a PUT's
    lines.append({
        "found": "the blob came back: the message can be shown",
        "not-found": "S3 answered 404, which get_blob returns as None, not as an error (the blob is missing)",
        "failed": "the read failed: the operation that needed the blob fails",
        "hung": "the read never ends: the operation that needed the blob waits with it",
    }.get(trace.outcome, trace.outcome))
    return "\n".join(lines)


def render_deliver(trace) -> str:
    """A readable account of one delivery: sessions, local delivery, DSNs in time order, then the verdict."""
    c = trace.config
    st = c["store"]
    if c["receiver"] in ("stalwart", "wal"):
        receiver = (f"{c['receiver']} (Stalwart {st['version']}, maxRetries {st['max_retries']}, "
                    f"timeout {format_duration(st['timeout'])}, verify {'on' if st['verify'] else 'off'})")
    else:  # another server's design runs its own client's defaults (blobedu.servers)
        from .servers import design

        receiver = f"{c['receiver']} ({design(c['receiver']).label})"
    head = (
        f"sender {c['sender']}{' ' + c['sender_version'] if c.get('sender_version') else ''} -> "
        f"receiver {receiver} · "
        f"final-dot wait {format_duration(c['data_timeout'])} · faults: {', '.join(c['faults']) or 'none'}"
    )
    if c.get("sender_faults"):
        head += f" · sender's own S3: {', '.join(c['sender_faults'])}"
    rows: list[tuple[float, str]] = []
    for i, s in enumerate(trace.sessions, 1):
        line = f"session {i}: {s.reply}"
        if s.reply == "timeout" and s.receiver_reply:
            line += (f"   (the receiver answered {s.receiver_reply!r} at "
                     f"{format_duration(s.receiver_replied_at)}, to nobody)")
        elif s.reply == "timeout" and s.store and s.store.get("outcome") == "hung":
            line += "   (the receiver's PUT still hung, holding the body in memory, when the run ended)"
        rows.append((s.t, line))
    for entry in trace.local:
        if entry["result"] != "delivered":
            rows.append((entry["t"], f"local delivery of {entry['queue_id']}: {entry['result']}"))
    spooling = c["receiver"] == "wal"
    for event in trace.events:
        what = event["what"]
        if what == "crash":
            rows.append((event["t"], f"receiver crashed and restarted ({event.get('inflight', 0)} DATA in flight lost)"))
        elif what == "spool replay":
            rows.append((event["t"], f"receiver replays its spool ({event.get('entries', 0)} entries)"))
        elif what == "disk-loss":
            lost = event.get("lost", 0)
            text = (f"receiver disk lost: {lost} spooled cop{'y' if lost == 1 else 'ies'} gone"
                    if spooling else "receiver disk lost: nothing on it (Stalwart keeps no spool)")
            if "replicas" in event:  # a replicated spool: one node's disk, the others keep their copies
                text = (f"disk of spool node {event['node'] + 1} of {event['replicas']} lost: {lost} spooled "
                        f"cop{'y' if lost == 1 else 'ies'} gone, {event['survived']} kept on the other nodes")
            rows.append((event["t"], text))
        elif what == "queued" and spooling:
            rows.append((event["t"], f"uploaded from the spool to S3, queued {event.get('queue_id', '')}"))
        elif what == "spool write failed":
            rows.append((event["t"], f"spool write failed: {event.get('error', '')}"))
        elif what == "data store write failed" and event.get("step") == "reserve":
            rows.append((event["t"], "receiver's data store down: the reservation failed, 451 before any S3 request"))
        elif what == "data store write failed":
            rows.append((event["t"], "receiver's commit failed after the PUT: 451, and the object stays in S3 "
                         "as an orphan until the purge" if event.get("orphan") else
                         "receiver's commit failed: 451"))
    for dsn in trace.dsns:
        # a Stalwart DSN after no SMTP reply has no Diagnostic-Code (queue/dsn.rs:626-632): show its Status
        said = dsn["diagnostic"] or f"Status {dsn['status']}, no Diagnostic-Code (no SMTP reply)"
        line = f"DSN ({dsn['kind']}, from the {dsn['origin']}): {said}"
        if dsn.get("fate_kind", "queued") != "queued":
            line += f"\n{'':>11}... {dsn['fate']}"
        rows.append((dsn["t"], line))
    rows.sort(key=lambda r: r[0])
    return "\n".join([head] + [f"{format_duration(t):>9}  {line}" for t, line in rows] + [verdict(trace)])


def verdict(trace) -> str:
    """One line: e.g. ``delivered after 1h02m, 5 × 451, 1 copy, the sender held it until the 250``."""
    tempfails = Counter(s.reply.split()[0] for s in trace.sessions if s.reply[:1] == "4")
    timeouts = sum(1 for s in trace.sessions if s.reply == "timeout")
    if trace.fate == "delivered":
        parts = [f"delivered after {format_duration(trace.delivered_at)}"]
    elif trace.fate == "bounced":
        bounce = next((d for d in trace.dsns if d["kind"] == "failed"), None)
        parts = [f"bounced at {format_duration(bounce['t'])}" if bounce else "bounced"]
    elif trace.copies:
        parts = ["LOST after a 250"]
    else:
        parts = ["LOST: the sender gave up"]
    parts.append(", ".join(f"{n} × {code}" for code, n in sorted(tempfails.items())) or "no 4xx")
    if timeouts:
        parts.append(f"{timeouts} × DATA timeout")
    parts.append(f"{trace.copies} cop{'y' if trace.copies == 1 else 'ies'}")
    loss = next((e for e in trace.events if e["what"] == "disk-loss" and e.get("lost")), None)
    if trace.fate == "lost" and loss:
        parts.append(f"the spool's disk died at {format_duration(loss['t'])}, before the upload; the author was not told")
    elif any(c["holder"] == "spool" for c in trace.custody):
        parts.append("a local spool held it after the 250")
    elif trace.fate == "delivered" and not any(s.reply[:1] == "2" for s in trace.sessions):
        bounce = next((d for d in trace.dsns if d["kind"] == "failed" and d["origin"] == "sender"), None)
        parts.append("yet the sender never saw a 250" + (
            f" and bounced it to the author at {format_duration(bounce['t'])}" if bounce else ""))
    elif trace.fate == "delivered":
        parts.append("the sender held it until the 250")
    elif trace.fate == "bounced" and trace.copies == 0:
        parts.append("the sender held it until it gave up")
    unsent = [d for d in trace.dsns if d["kind"] == "failed" and d.get("fate_kind", "queued") != "queued"]
    if trace.fate == "lost" and unsent:
        d = unsent[-1]
        how = {"dropped": "was dropped, its own blob store being down",
               "unreadable": "was written to the same store and lost like the message",
               }.get(d["fate_kind"], "still hung in its own blob store")
        parts.append(f"the {d['origin']}'s bounce {how}: the author was never told")
    return ", ".join(parts)


def format_bytes(n: int) -> str:
    """A byte count a reader can take in: ``900 B``, ``37.5 KiB``, ``375 MiB``, ``3.66 GiB`` (binary units)."""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B":
        return f"{int(n)} B"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of dicts as a plain-text table (what notebooks print; stable for nbval)."""
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


class Table:
    """Rows of dicts that a notebook renders as an HTML table, and everything else as :func:`table`'s text.

    A notebook cell that ends with ``Table(rows)`` shows a real table in JupyterLab, nbviewer and the
    static site (teaching.md, 7: no 200-character text lines); ``str()`` and the ``text/plain`` output
    stay the plain-text table, so the CLI, logs and nbval's comparison read the same rows.
    ``caption`` is a short line above the table (what to notice); ``columns`` picks and orders them.
    """

    def __init__(self, rows: list[dict], columns: list[str] | None = None, caption: str | None = None) -> None:
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns or (list(self.rows[0]) if self.rows else []))
        self.caption = caption

    def __str__(self) -> str:
        body = table(self.rows, self.columns or None)
        return f"{self.caption}\n{body}" if self.caption else body

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        from html import escape

        if not self.rows:
            return "<p><em>(no rows)</em></p>"
        head = "".join(f"<th>{escape(str(c))}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in self.columns) + "</tr>"
                       for r in self.rows)
        caption = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="blobedu-table">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")
