"""maddy's S3 write path on the real minio-go, against moto on loopback: recorded, and compared with the model.

Why
---
maddy cannot be built here (its Go modules cannot be downloaded), but the code that decides what a
failed S3 write becomes is small: ``storage.blob.s3``'s ``Create``/``Sync`` and the SMTP endpoint's
``wrapErr``.  ``maddy_harness/main.go`` copies them line for line (cited there, at maddy v0.9.4)
and links them against the real minio-go library Debian packages (``golang-github-minio-minio-go-v7-dev``,
7.0.46; maddy pins 7.0.84, whose retry loop is the same but for a few more retried statuses and its
own timeouts).  It is not maddy itself: go-imap-sql's delivery (which calls ``Write`` then ``Sync``)
is reduced to those two calls, and minio-go's bucket-location cache is warm (maddy has delivered
before; a client that starts cold during an outage first sends ``GET ?location``, not modelled).

What a run does (:func:`run_case`)
----------------------------------
moto's S3 server runs on 127.0.0.1 behind a small WSGI layer that applies blobedu's fault plan
(:mod:`blobedu.faults`, times counted from the write) and records every request it sees: method,
``Content-Length`` and the body bytes that really arrived.  ``refused`` is real: the listening
socket is closed (:class:`blobedu.endpoint._MotoServer`'s unplug), so the kernel answers RST, and
opened again on the same port when the window ends.  ``timeout`` reads the body and never answers.
The harness first stores one object (maddy has been running: minio-go's bucket-location cache is
warm), then writes one 64 KiB body through an ``io.Pipe`` as maddy does, and prints every attempt
its transport made (start, end, body bytes, result), the error chain with each ``Temporary()``,
and the reply ``wrapErr`` makes of it.

:func:`record` runs every case of :data:`CASES` and saves the result as package data
(``maddy_minio.json`` beside realmta's transcripts).  :func:`compare` holds the model
(:mod:`blobedu.servers.maddy`) to a recorded case: the number of attempts, which ones went out with
an empty body, each wait against minio-go's cap, the wait after the last attempt, and the reply.
Needs ``go`` and Debian's minio-go source; :func:`unavailable` says why not.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from ..endpoint import _client, _MotoServer, error_body
from ..faults import FaultPlan
from ..realmta import TRANSCRIPTS
from . import maddy
from .design import Ids, Send, SendDrained, Sleep, drained_reply
from ..policy import Reply

HARNESS = Path(__file__).resolve().parent / "maddy_harness"
GOPATH = "/usr/share/gocode"
MINIO_SRC = Path(GOPATH) / "src/github.com/minio/minio-go/v7"
RECORDING = "maddy_minio.json"
SIZE = 65536
MSG_ID = "0123456789abcdef"
#: slack for a real clock on a busy machine: a wait may be this much above minio-go's cap
SLACK = 0.25

#: name -> (fault specs in blobedu's syntax, counted from the write; what the case asks)
CASES: dict[str, tuple[tuple[str, ...], str]] = {
    "healthy": ((), "S3 up: one PUT, 250"),
    "refused": (("refused@0",), "S3 down for good: how many connects, how long, which reply"),
    "refused-1s": (("refused@0-1s",), "S3 back after 1 s, within minio-go's retries: does the body survive?"),
    "503": (("503@0",), "a 503 storm: the first PUT carries the body; what do the retries carry?"),
    "503-once": (("503@0-50ms",), "one 503, then S3 is healthy: does the retry store it?"),
    "403": (("403@0",), "a status minio-go does not retry"),
    "timeout": (("timeout@0",), "S3 reads the body and never answers: the 60 s response-header timeout"),
    "lost-write": (("lost-write@0",), "S3 answers 200 and keeps nothing: maddy cannot tell"),
}


def unavailable() -> Optional[str]:
    """Why the harness cannot be built and run here, or None."""
    if shutil.which("go") is None:
        return "no `go` on PATH (apt-get install golang-go golang-github-minio-minio-go-v7-dev)"
    if not (MINIO_SRC / "retry.go").exists():
        return f"Debian's minio-go source is missing ({MINIO_SRC}; apt-get install golang-github-minio-minio-go-v7-dev)"
    if not (HARNESS / "main.go").exists():
        return f"{HARNESS / 'main.go'} is not in this install (it ships with the repository)"
    return None


def _go_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GO111MODULE="off", GOPATH=GOPATH, GOCACHE=str(cache), GOFLAGS="", CGO_ENABLED="0")
    return env


def _no_proxy() -> dict[str, str]:
    """The environment without proxy settings: the harness talks to 127.0.0.1 and nowhere else
    (Go's ProxyFromEnvironment already skips loopback; this makes it not depend on that)."""
    return {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}


def build(workdir: Path) -> Path:
    """``go build`` the harness against Debian's minio-go (no module download); the binary's path."""
    out = workdir / "maddy-harness"
    cache = Path(tempfile.gettempdir()) / "blobedu-maddy-gocache"  # minio-go compiles once, not per run
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=HARNESS, env=_go_env(cache),
                   check=True, capture_output=True, text=True, timeout=600)
    return out


def versions() -> dict[str, str]:
    """go's version and the Debian minio-go package's, for the recording."""
    go = subprocess.run(["go", "version"], capture_output=True, text=True, timeout=60).stdout.strip()
    dpkg = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "golang-github-minio-minio-go-v7-dev"],
                          capture_output=True, text=True, timeout=60).stdout.strip()
    return {"go": go, "minio_go_debian": dpkg}


class _Faulty:
    """WSGI: moto's app behind blobedu's fault plan, recording each request's body bytes."""

    def __init__(self, app, plan: FaultPlan) -> None:
        self.app, self.plan = app, plan
        self.origin: Optional[float] = None  # the write's start; before it, everything passes
        self.log: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        t = None if self.origin is None else time.monotonic() - self.origin
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = b""
        try:
            while len(data) < length:
                chunk = environ["wsgi.input"].read(length - len(data))
                if not chunk:
                    break
                data += chunk
        except Exception:  # the client closed mid-body (an empty-body retry)
            pass
        fault = None if t is None else self.plan.s3_fault_at(t)
        entry = {"t": None if t is None else round(t, 3), "method": environ["REQUEST_METHOD"],
                 "content_length": length, "body_bytes": len(data),
                 "fault": fault.kind if fault else None}
        if t is not None:
            with self._lock:
                self.log.append(entry)
        if len(data) < length:
            entry["answer"] = "client closed before the body ended"
            start_response("400 Bad Request", [("Content-Length", "0"), ("Connection", "close")])
            return [b""]
        if fault is not None and fault.kind == "timeout":
            entry["answer"] = "never"
            self.stop.wait(300)
            start_response("500 Internal Server Error", [("Content-Length", "0"), ("Connection", "close")])
            return [b""]
        if fault is not None and fault.kind == "lost-write" and environ["REQUEST_METHOD"] == "PUT":
            entry["answer"] = "200 (not kept)"
            start_response("200 OK", [("ETag", '"lost"'), ("Content-Length", "0")])
            return [b""]
        if fault is not None and fault.status:
            entry["answer"] = str(fault.status)
            payload = error_body(int(fault.status))
            start_response(f"{fault.status} Fault", [("Content-Type", "application/xml"),
                                                     ("Content-Length", str(len(payload)))])
            return [payload]
        environ["wsgi.input"] = io.BytesIO(data)
        result = self.app(environ, _noting(start_response, entry))
        return result


def _noting(start_response, entry):
    def wrapped(status, headers, *args):
        entry["answer"] = status.split()[0]
        return start_response(status, headers, *args)
    return wrapped


def run_case(binary: Path, name: str, timeout: float = 240.0) -> dict[str, Any]:
    """One case of :data:`CASES`: moto with the fault plan, the harness's write; both sides' records."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr
    specs, question = CASES[name]
    plan = FaultPlan(specs)
    faulty = _Faulty(DomainDispatcherApplication(create_backend_app), plan)
    server = _MotoServer(faulty)
    port = server.port
    bucket = f"maddy-{name}"
    _client(f"http://127.0.0.1:{port}", 30.0).create_bucket(Bucket=bucket)  # the sealed client: loopback only
    proc = subprocess.Popen([str(binary), "-endpoint", f"127.0.0.1:{port}", "-bucket", bucket, "-size", str(SIZE),
                             "-key", "maddy-blob", "-msg-id", MSG_ID],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_no_proxy())
    stopper: Optional[threading.Timer] = None
    try:
        assert proc.stderr is not None and proc.stdin is not None
        line = proc.stderr.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"harness warm-up failed: {line.strip()} {proc.stderr.read()}")
        refused = [f for f in plan.s3 if f.kind == "refused"]
        if refused:
            if refused[0].start != 0:
                raise ValueError("only a refused window from 0 is supported")
            server.stop()  # unplug: the port has no listener, the kernel answers RST
            if refused[0].end is not None:
                def plug_in():
                    nonlocal server
                    server = _MotoServer(faulty, port=port)
                stopper = threading.Timer(refused[0].end, plug_in)
        faulty.origin = time.monotonic()
        if stopper is not None:
            stopper.start()
        out, err = proc.communicate("go\n", timeout=timeout)
    finally:
        faulty.stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if stopper is not None:
            stopper.cancel()
            stopper.join()
        try:
            server.stop()
        except Exception:
            pass
    if proc.returncode != 0:
        raise RuntimeError(f"harness exited {proc.returncode}: {err.strip()}")
    client = json.loads(out)
    return {"name": name, "faults": list(specs), "question": question, "client": client, "server": faulty.log}


def record(names: Optional[Sequence[str]] = None, folder: Path = TRANSCRIPTS) -> Path:
    """Build the harness, run every case, write ``maddy_minio.json``; its path."""
    why = unavailable()
    if why:
        raise RuntimeError(why)
    with tempfile.TemporaryDirectory(prefix="blobedu-maddy-") as tmp:
        binary = build(Path(tmp))
        cases = {name: run_case(binary, name) for name in (names or CASES)}
    doc = {"what": "maddy v0.9.4's S3 write path (blobedu/servers/maddy_harness/main.go) on Debian's minio-go, "
                   "against moto on loopback with blobedu's faults",
           "versions": versions(), "size": SIZE, "recorded_at": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
           "cases": cases}
    path = folder / RECORDING
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def load(folder: Path = TRANSCRIPTS) -> dict[str, Any]:
    """The recorded runs."""
    return json.loads((folder / RECORDING).read_text())


# --- the model, driven by the same fault plan --------------------------------------------------

def model_run(specs: Sequence[str], seed: int = 0, times: Sequence[float] = ()) -> dict[str, Any]:
    """Step :func:`blobedu.servers.maddy.put` through ``specs`` on a virtual clock; attempts, waits, reply.

    ``times``: when each real attempt started.  Attempt ``n`` of the model then meets the fault that
    was active when the real attempt ``n`` went out, so a window that ends mid-retries (``refused@0-1s``)
    is met by the same attempts in both, whatever the jitter drew; past them the model's own clock counts.
    """
    plan = FaultPlan(specs)
    rng = random.Random(seed)
    machine = maddy.put(rng)
    t, attempts, waits = 0.0, [], []
    step = next(machine)
    while True:
        try:
            if isinstance(step, Sleep):
                waits.append(step.seconds)
                t += step.seconds
                step = machine.send(None)
                continue
            assert isinstance(step, Send)
            n = len(attempts)
            fault = plan.s3_fault_at(times[n] if n < len(times) else t)
            kind = fault.kind if fault else None
            if isinstance(step, SendDrained):
                reply = drained_reply(kind)
            elif kind == "refused":
                reply = Reply(error="refused")
            elif kind == "timeout":
                reply, t = Reply(error="timeout"), t + maddy.RESPONSE_HEADER_TIMEOUT
            elif fault is not None and fault.status:
                reply = Reply(status=int(fault.status))
            else:
                reply = Reply(status=200)
            attempts.append({"t": t, "drained": isinstance(step, SendDrained), "result": reply.result})
            step = machine.send(reply)
        except StopIteration as stop:
            outcome = stop.value
            break
    ids = Ids(queue_id=int(MSG_ID, 16))
    text = maddy.reply_ok(ids) if outcome.ok else maddy.reply_failed(outcome, ids)
    return {"attempts": attempts, "waits": waits, "reply": text, "error": outcome.error}


def cap(n: int) -> float:
    """minio-go's ceiling on the wait after attempt ``n`` (0-based): min(1 s, 0.2 s · 2^n)."""
    return min(maddy.RETRY_CAP, maddy.RETRY_UNIT * (1 << n))


def observed_waits(case: dict[str, Any]) -> list[float]:
    """Start-to-start gaps of the recorded attempts minus each attempt's own duration (0 when the
    attempt outlasted the wait: minio-go's timer runs while the attempt does, retry.go:73-88)."""
    a = case["client"]["attempts"]
    return [round(max(0.0, a[i + 1]["start"] - a[i]["end"]), 4) for i in range(len(a) - 1)]


def tail_wait(case: dict[str, Any]) -> float:
    """From the end of the last attempt to PutObject's return: the retry timer's last wait, if any."""
    a = case["client"]["attempts"]
    return round(case["client"]["put_returned"] - a[-1]["end"], 4) if a else 0.0


def _reply_form(text: str) -> str:
    return re.sub(r"\(msg ID = [0-9a-f]+\)", "(msg ID = …)", text)


def compare(case: dict[str, Any], seed: int = 0, slack: float = SLACK) -> list[str]:
    """Where the model and a recorded case disagree (an empty list when they agree)."""
    real = case["client"]["attempts"]
    model = model_run(case["faults"], seed, [a["start"] for a in real])
    out = []
    if len(model["attempts"]) != len(real):
        out.append(f"attempts: model {len(model['attempts'])}, real {len(real)}")
    real_empty = [a["body_bytes"] == 0 and a["method"] == "PUT" for a in real]
    model_empty = [m["drained"] or m["result"] == "refused" for m in model["attempts"]]
    if real_empty != model_empty[:len(real_empty)]:
        out.append(f"attempts that sent no body: model {model_empty}, real {real_empty}")
    for n, w in enumerate(observed_waits(case)):
        if w > cap(n) + slack:
            out.append(f"wait after attempt {n + 1}: {w:.3f} s, above minio-go's cap {cap(n)} s")
    for n, a in enumerate(real[:-1]):
        if a["end"] - a["start"] >= cap(n) + slack and n < len(model["waits"]) and model["waits"][n] > 0:
            out.append(f"model waits {model['waits'][n]:.3f} s after attempt {n + 1}, which outlasted its wait")
    for n, w in enumerate(model["waits"]):
        if not 0 <= w <= cap(n):
            out.append(f"model wait {n + 1}: {w:.3f} s outside [0, {cap(n)}]")
    if len(model["attempts"]) == maddy.MAX_RETRY and len(model["waits"]) != maddy.MAX_RETRY:
        out.append("the model does not wait after its 10th failed attempt")
    if tail_wait(case) > cap(len(real) - 1) + slack:
        out.append(f"wait after the last attempt {tail_wait(case)} s above its cap")
    if _reply_form(model["reply"]) != _reply_form(case["client"]["reply"]):
        out.append(f"reply: model {model['reply']!r}, real {case['client']['reply']!r}")
    return out


def summary(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per recorded case, the model beside it: a table for notebook 08."""
    rows = []
    for name, case in doc["cases"].items():
        c = case["client"]
        model = model_run(case["faults"], 0, [a["start"] for a in c["attempts"]])
        rows.append({
            "fault": ", ".join(case["faults"]) or "none",
            "real PUTs": len(c["attempts"]),
            "body bytes per PUT": _bytes(c["attempts"]),
            "real time": f"{c['put_returned']:.1f} s",
            "real reply": _reply_form(c["reply"]),
            "model PUTs": len(model["attempts"]),
            "model reply": _reply_form(model["reply"]),
            "agree": "yes" if not compare(case) else "NO",
        })
    return rows


def _bytes(attempts: list[dict[str, Any]]) -> str:
    b = [a["body_bytes"] for a in attempts]
    if len(b) > 2 and len(set(b)) == 1:
        return f"{b[0]} ×{len(b)}"
    if len(b) > 2 and len(set(b[1:])) == 1:
        return f"{b[0]}, then {b[1]} ×{len(b) - 1}"
    return ", ".join(str(x) for x in b)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m blobedu.servers.maddy_real [CASE ...]``: re-record (needs go), then compare."""
    why = unavailable()
    if why:
        print(f"maddy_real: {why}", file=sys.stderr)
        return 2
    names = list(argv if argv is not None else sys.argv[1:]) or None
    if names and any(n not in CASES for n in names):
        print(f"maddy_real: unknown case; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    path = record(names)
    doc = json.loads(path.read_text())
    for name, case in doc["cases"].items():
        print(name, compare(case) or "agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
