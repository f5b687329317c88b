"""``blobedu`` on the command line: argument parsing, exit codes, text and JSON output. No behaviour here.

Exit status: 0 when the command ran (whatever the simulated outcome), 2 for bad input (one line on
stderr, no traceback).  Numbers and durations take ASCII digits only.  ``--json`` prints strict
JSON (no ``Infinity`` or ``NaN``).  Output that the terminal's encoding cannot show is escaped
rather than crashing, and a reader that stops reading (``blobedu put | head -1``) ends the run
quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Optional, Sequence

from .clock import HORIZON_SECONDS
from .durations import parse_duration
from .text import render_deliver, render_get, render_put
from .errors import BlobeduError
from .faults import allowed
from .servers import NAMES as RECEIVER_NAMES
from .versions import LATEST

from .fleet.config import RECEIVERS as FLEET_RECEIVERS  # the receivers ``blobedu fleet`` models
from .fleet.config import REFUSED as FLEET_REFUSED  # designs it refuses, with why


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BlobeduError(f"{message} (see {self.prog} --help)")


HORIZON_HELP = (f"blobedu simulates at most {HORIZON_SECONDS / 86400:g} days (the horizon): every DURATION is at "
                "most 30d, settings whose longest S3 write could outlast the horizon are refused, and a run "
                "that still reaches it stops with an error.")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except BlobeduError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_INT = re.compile(r"[ \t]*(-?[0-9]{1,18})[ \t]*")


def _count(text: str) -> int:
    """A whole number in ASCII digits (int() would also take "1_0", Arabic-Indic or full-width digits)."""
    match = _INT.fullmatch(text)
    if not match:
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "...'"
        raise argparse.ArgumentTypeError(f"{shown} is not a whole number in ASCII digits (at most 18 of them)")
    return int(match.group(1))


def _bounded_int(lo: int, hi: int):
    """A type for a whole number from ``lo`` to ``hi``, in ASCII digits."""
    def parse(text: str) -> int:
        value = _count(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not a whole number from {lo:,} to {hi:,}")
        return value
    return parse


_NUMBER = re.compile(r"[ \t]*([0-9]{1,12}(?:\.[0-9]{1,12})?)[ \t]*")


def _rate(text: str) -> float:
    """Requests per second: a number above 0 in ASCII digits, e.g. 50 or 2.5."""
    match = _NUMBER.fullmatch(text)
    if not match or not float(match.group(1)) > 0:
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "...'"
        raise argparse.ArgumentTypeError(f"{shown} is not a number of requests per second above 0, e.g. 50")
    return float(match.group(1))


def _add_store_settings(p: argparse.ArgumentParser) -> None:
    """The four store settings every command shares: version, maxRetries, timeout, verifyAfterWrite."""
    p.add_argument("--stalwart", default=LATEST, metavar="VERSION",
                   help=f"Stalwart version of the receiver (default {LATEST})")
    p.add_argument("--max-retries", type=_count, default=None, metavar="N", help="maxRetries (default: the version's)")
    p.add_argument("--timeout", type=_duration, default=None, metavar="DURATION",
                   help="S3 timeout (default 30s): it bounds the whole request on 0.5.0-0.8.1 and 0.16.x, "
                        "only the TCP connect on 0.8.2-0.15.x, where a silent S3 hangs")
    verify = p.add_mutually_exclusive_group()
    verify.add_argument("--verify", dest="verify", action="store_true", default=None, help="verifyAfterWrite on")
    verify.add_argument("--no-verify", dest="verify", action="store_false", help="verifyAfterWrite off")


def _add_store_flags(p: argparse.ArgumentParser) -> None:
    _add_store_settings(p)
    p.add_argument("--latency", type=_duration, default=0.0, metavar="DURATION", help="latency of every S3 request")
    p.add_argument("--fault", action="append", default=[], metavar="KIND@START[-END]",
                   help=f"a fault window; repeat for several. Kinds: {allowed()}")
    p.add_argument("--endpoint", choices=["in-process", "loopback"], default="in-process",
                   help="moto in this process (default) or moto's S3 server on 127.0.0.1")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _store_config(args):
    from .store import StoreConfig
    from .versions import behaviour

    if args.verify is False and not behaviour(args.stalwart).verify_supported:
        # the library takes verify=False as "off", which every version is; a reader asking for
        # --no-verify expects a setting that exists, so say that it does not
        raise BlobeduError(f"Stalwart {args.stalwart} has no verifyAfterWrite, so --no-verify changes nothing: "
                           "the setting first appears in 0.16.2")
    return StoreConfig(version=args.stalwart, max_retries=args.max_retries, timeout=args.timeout,
                       verify=args.verify, latency=args.latency)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(prog="blobedu", description="What Stalwart does with a message when S3 fails.",
                     epilog=HORIZON_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("put", help="one blob PUT through Stalwart's S3 retry loop", epilog=HORIZON_HELP)
    _add_store_flags(p)
    p.add_argument("--real-clock", action="store_true", help="really wait (default: virtual time)")

    g = sub.add_parser("get", help="one blob GET through Stalwart's S3 retry loop (a read: IMAP FETCH, JMAP, POP3)",
                       epilog=HORIZON_HELP)
    _add_store_flags(g)
    g.add_argument("--missing", action="store_true",
                   help="the object was never stored, so S3 answers 404 (not an error: the blob is missing)")
    g.add_argument("--real-clock", action="store_true", help="really wait (default: virtual time)")

    d = sub.add_parser("deliver", help="one message from a sending MTA to a Stalwart receiver over real SMTP",
                       epilog=HORIZON_HELP)
    _add_store_flags(d)
    d.add_argument("--sender", default="stalwart", choices=["stalwart", "postfix", "exim", "rfc5321"],
                   help="the sending server's retry schedule (default stalwart)")
    d.add_argument("--sender-version", default=None, metavar="VERSION",
                   help=f"version of a Stalwart sender (default {LATEST})")
    d.add_argument("--data-timeout", type=_duration, default=None, metavar="DURATION",
                   help="how long the sender waits for the final-dot reply (the answer to the end of DATA) before it gives up on "
                        "the attempt (default: the sender's own: stalwart 5m, its RCPT timeout; postfix 10m, "
                        "smtp_data_done_timeout; exim 10m, final_timeout; rfc5321 10m, a minimum)")
    d.add_argument("--receiver", default="stalwart", choices=list(RECEIVER_NAMES), metavar="NAME",
                   help="the receiving server's design (default stalwart): " + ", ".join(RECEIVER_NAMES)
                        + " (see blobedu.servers)")
    d.add_argument("--queue-quota", type=_count, default=None, metavar="N",
                   help="messages the receiver's queue may hold before it answers 452 4.3.1")
    d.add_argument("--sender-fault", action="append", default=[], metavar="KIND@START[-END]",
                   help="a fault on a Stalwart sender's own S3, which its DSNs are queued through "
                        "(a bounce written while it is down is dropped); S3 kinds only")

    f = sub.add_parser("fleet", help="many messages through an outage: backlog, memory, S3 load, delays, bounces")
    _add_store_flags(f)
    f.add_argument("--messages", type=_bounded_int(1, 200_000), default=1000, metavar="N",
                   help="how many messages (default 1000, at most 200000)")
    f.add_argument("--over", type=_duration, default=86400.0, metavar="DURATION",
                   help="they arrive evenly spread over this long (default 1d)")
    f.add_argument("--senders", default="stalwart:40,postfix:40,exim:20", metavar="NAME:SHARE,...",
                   help="the sending servers and their shares (default stalwart:40,postfix:40,exim:20)")
    f.add_argument("--receiver", default="stalwart", choices=list(RECEIVER_NAMES), metavar="NAME",
                   help="the receiving design (default stalwart); the fleet takes "
                        + ", ".join(FLEET_RECEIVERS)
                        + ("; it refuses " + "; ".join(f"{n} ({why})" for n, why in FLEET_REFUSED.items())
                           if FLEET_REFUSED else ": every design of blobedu deliver")
                        + ". The other designs run their own clients' S3 settings (no --max-retries, --timeout, "
                          "--verify), and --max-connections stays the scenario's cap (Stalwart's 8192 by default)")
    f.add_argument("--s3-capacity", type=_rate, default=None, metavar="REQ/S",
                   help="above this many requests per second S3 answers 503 SlowDown (default: no limit)")
    f.add_argument("--s3-burst", type=_duration, default=1.0, metavar="DURATION",
                   help="how many seconds of --s3-capacity S3 may save up for a burst (default 1s; S3 documents "
                        "rates, not bursts, so this is an assumption)")
    f.add_argument("--size", type=_bounded_int(1, 1 << 30), default=64 * 1024, metavar="BYTES",
                   help="message size in bytes (default 65536)")
    f.add_argument("--sending-servers", type=_bounded_int(0, 100_000), default=100, metavar="N",
                   help="independent sending servers sharing the mix, each with its own queue, queue-run phase and "
                        "its MTA's concurrency limit (default 100; 0: one idealised server per kind, no limits, "
                        "instant sessions)")
    f.add_argument("--session-setup", type=_duration, default=None, metavar="DURATION",
                   help="an SMTP session's set-up before the body (default 300ms with sending servers, else 0)")
    f.add_argument("--bandwidth", type=_bounded_int(1, 10**12), default=None, metavar="BYTES/S",
                   help="the body's transfer rate (default 1250000, 10 Mbit/s, with sending servers, else instant)")
    f.add_argument("--max-connections", type=_bounded_int(1, 10_000_000), default=8192, metavar="N",
                   help="the receiver's connection cap, server.max-connections (default 8192)")

    a = sub.add_parser("advise", help="what should I do? the hazards, tolerances, settings and logs for one version")
    _add_store_settings(a)
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(latency=0.0)

    r = sub.add_parser("purge-race", help="the daily blob purge against a store loop past its 120 s reservation",
                       epilog=HORIZON_HELP)
    _add_store_settings(r)
    r.add_argument("--latency", type=_duration, default=0.0, metavar="DURATION", help="latency of every S3 request")
    r.add_argument("--fault", action="append", default=[], metavar="KIND@START[-END]",
                   help="an S3 fault window during the store loop (default 503@0-2m)")
    r.add_argument("--scan", type=_duration, default=125.0, metavar="DURATION",
                   help="when the purge reads the shard (default 125s, after the 120 s reservation)")
    r.add_argument("--delete", type=_duration, default=130.0, metavar="DURATION",
                   help="when its DELETE is sent, if it finds the hash unlinked (default 130s)")
    r.add_argument("--json", action="store_true", help="print one JSON object")

    t = sub.add_parser("atlas", help="search fault schedules for the smallest one behind every bad outcome",
                       description="For each Stalwart release row and receiver design, search fault schedules "
                                   "(seeded, the same every run) for each bad outcome, shrink each hit to the "
                                   "smallest schedule, confirm it with a real deliver() run, and name its hazard.")
    t.add_argument("--stalwart", action="append", default=None, metavar="VERSION",
                   help="a Stalwart version to search; repeat for several (default: the newest release of each "
                        "row of the version table)")
    t.add_argument("--receiver", action="append", default=None, metavar="NAME",
                   help="a receiver design; repeat for several (default: all of them)")
    t.add_argument("--outcome", action="append", default=None, metavar="NAME",
                   help="a bad outcome; repeat for several (default: all of them)")
    t.add_argument("--sender", action="append", default=None, metavar="NAME",
                   help="a sending server; repeat for several (default: stalwart)")
    t.add_argument("--budget", type=_bounded_int(1, 100_000), default=None, metavar="N",
                   help="random schedules drawn per cell, after the sweep of small ones (default 100)")
    t.add_argument("--seed", type=_bounded_int(0, 2**32 - 1), default=None, metavar="N",
                   help="the search's seed (default 22)")
    t.add_argument("--jobs", type=_bounded_int(1, 64), default=1, metavar="N",
                   help="worker processes searching cells side by side (default 1; the atlas is the same)")
    t.add_argument("--json", action="store_true", help="print the findings as one JSON list")

    k = sub.add_parser("link", help="print the static page, Binder and nbviewer links to paste into a forum answer")
    k.add_argument("notebook", help="path of a notebook, e.g. notebooks/03_tempfail_flow.ipynb")
    k.add_argument("--repo", required=True, metavar="OWNER/NAME")
    k.add_argument("--ref", required=True, metavar="REF",
                   help="what looks like a tag (a name with a version number, e.g. v0.1.0) or a commit SHA; "
                        "blobedu cannot ask GitHub, so make sure it is not a branch, which moves")

    n = sub.add_parser("notebooks", help="copy the notebooks (and their transcripts) into a folder of your own",
                       epilog="A notebook you changed there (ran and saved, or edited) is kept: blobedu asks before "
                              "overwriting it when standard input is a terminal, and otherwise refuses (exit "
                              "status 2) unless --force is given. One blobedu copied and you never changed is "
                              "brought up to date.")
    n.add_argument("folder", nargs="?", default=None, metavar="DIR",
                   help="where to put them (default ./blobedu-notebooks; created if missing)")
    n.add_argument("--force", action="store_true", help="overwrite notebooks you changed there with the package's")

    lab = sub.add_parser("lab", help="copy the notebooks if needed and open JupyterLab on 00, on 127.0.0.1",
                         epilog="Notebooks you changed in DIR are kept as they are (never overwritten). "
                                "Needs JupyterLab: pip install 'blobedu[lab]'.")
    lab.add_argument("folder", nargs="?", default=None, metavar="DIR",
                     help="the notebooks' folder (default ./blobedu-notebooks; created if missing)")
    lab.add_argument("--port", type=_bounded_int(1024, 65535), default=None, metavar="PORT",
                     help="port on 127.0.0.1 (default: JupyterLab's, 8888 or the next free one)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a web browser; print the URL only")
    return parser


def _cmd_put(args) -> int:
    from .clock import RealClock
    from .faults import FaultPlan
    from .store import put

    config = _store_config(args)
    faults = FaultPlan(args.fault)
    trace = put(faults=faults, config=config, endpoint=args.endpoint,
                clock=RealClock() if args.real_clock else None)
    _print(_json(trace) if args.json else render_put(trace))
    return 0


def _json(trace) -> str:
    """Strict JSON: a value that is not a finite number is a bug, reported as one line, never ``Infinity``."""
    try:
        return json.dumps(trace.to_dict(), indent=2, allow_nan=False)
    except ValueError as exc:
        raise BlobeduError(f"the result holds a number JSON cannot carry ({exc})") from None


def _print(text: str) -> None:
    print(text)
    sys.stdout.flush()  # a closed pipe shows up here, inside main(), not at interpreter exit


def _cmd_get(args) -> int:
    from .clock import RealClock
    from .faults import FaultPlan
    from .store import get

    config = _store_config(args)
    faults = FaultPlan(args.fault)
    trace = get(faults=faults, config=config, endpoint=args.endpoint,
                clock=RealClock() if args.real_clock else None, missing=args.missing)
    _print(_json(trace) if args.json else render_get(trace))
    return 0


def _cmd_deliver(args) -> int:
    from .delivery import DeliveryConfig, deliver

    config = DeliveryConfig(store=_store_config(args), sender=args.sender, sender_version=args.sender_version,
                            data_timeout=args.data_timeout, receiver=args.receiver, queue_quota=args.queue_quota,
                            sender_faults=tuple(args.sender_fault))
    if args.endpoint != "in-process":
        raise BlobeduError("deliver runs in virtual time on the in-process endpoint; --endpoint loopback is for put")
    trace = deliver(args.fault, config)
    _print(_json(trace) if args.json else render_deliver(trace))
    return 0


def _cmd_fleet(args) -> int:
    from .clock import HORIZON_SECONDS
    from .fleet import DEFAULT_BANDWIDTH, DEFAULT_SESSION_SETUP, FleetConfig, parse_senders, refuse_unbounded, run

    if args.endpoint != "in-process":
        raise BlobeduError("fleet runs without an endpoint (its S3 is the model's own); --endpoint loopback is for put")
    if args.receiver in FLEET_REFUSED:  # one line: what the fleet cannot model for this design
        raise BlobeduError(f"receiver {args.receiver} is not in the fleet: {FLEET_REFUSED[args.receiver]}; "
                           f"use blobedu deliver --receiver {args.receiver}")
    if args.over > HORIZON_SECONDS:
        raise BlobeduError("--over must be at most 30d, blobedu's horizon")
    config = FleetConfig(store=_store_config(args), messages=args.messages, over=args.over,
                         senders=parse_senders(args.senders), receiver=args.receiver,
                         s3_capacity=args.s3_capacity, s3_burst=args.s3_burst, size=args.size, sending_servers=args.sending_servers,
                         session_setup=(args.session_setup if args.session_setup is not None else
                                        DEFAULT_SESSION_SETUP if args.sending_servers else 0.0),
                         bandwidth=(float(args.bandwidth) if args.bandwidth is not None else
                                    DEFAULT_BANDWIDTH if args.sending_servers else 0.0),
                         max_connections=args.max_connections)
    config.check()
    refuse_unbounded(args.fault, config)
    result = run(args.fault, config)
    if args.json:
        try:
            text = json.dumps(result.to_dict(), allow_nan=False)  # one line: the series are long
        except ValueError as exc:
            raise BlobeduError(f"the result holds a number JSON cannot carry ({exc})") from None
        _print(text)
    else:
        _print(result.summary())
    return 0


def _dumps(obj) -> str:
    try:
        return json.dumps(obj, indent=2, allow_nan=False)
    except ValueError as exc:
        raise BlobeduError(f"the result holds a number JSON cannot carry ({exc})") from None


def _cmd_advise(args) -> int:
    from .advice import advise

    config = _store_config(args)
    config.check_horizon()
    card = advise(config.version, config.max_retries, config.timeout, config.verify)
    _print(_dumps(card.to_dict()) if args.json else card.text())
    return 0


def _cmd_purge_race(args) -> int:
    from .faults import FaultPlan
    from .purge import race

    config = _store_config(args)
    config.check_horizon()
    plan = FaultPlan(args.fault)
    if plan.receiver:
        raise BlobeduError(f"purge-race takes S3 faults only, not {plan.receiver[0].kind!r}")
    if args.delete < args.scan:
        raise BlobeduError("--delete must come at or after --scan: the purge deletes what its scan found")
    result = race(purge_scan=args.scan, delete_at=args.delete, faults=list(args.fault) or None, config=config)
    if args.json:
        _print(_dumps({"steps": [{"t": t, "what": what} for t, what in result.steps],
                       "put_done": result.put_done, "final_put_at": result.final_put_at,
                       "delete_at": result.delete_at, "committed": result.committed,
                       "readable": result.readable, "local_delivery": result.local_delivery}))
    else:
        _print("\n".join(result.lines()))
    return 0


def _cmd_atlas(args) -> int:
    from . import atlas as atlas_module

    names = {"--stalwart": args.stalwart, "--receiver": args.receiver, "--outcome": args.outcome,
             "--sender": args.sender}
    for flag, values in names.items():
        for value in values or ():
            if not value.strip() or len(value) > 40:
                raise BlobeduError(f"{flag} {value[:40]!r}: give a name, at most 40 characters")
    atlas_module.check_names(args.stalwart or (), args.receiver or (), args.outcome or (), args.sender or ())
    result = atlas_module.atlas(versions=args.stalwart, receivers=args.receiver, outcomes=args.outcome,
                                senders=args.sender,
                                budget=atlas_module.DEFAULT_BUDGET if args.budget is None else args.budget,
                                seed=atlas_module.DEFAULT_SEED if args.seed is None else args.seed,
                                jobs=args.jobs)
    if args.json:
        _print(json.dumps(result.to_list(), indent=2, allow_nan=False))
    else:
        _print(result.table())
    return 0


def _cmd_link(args) -> int:
    from .links import forum_snippet

    _print(forum_snippet(args.notebook, args.repo, args.ref))
    return 0


def _ask_overwrite(changed: list[str], folder) -> bool:
    """Ask on the terminal whether to overwrite the reader's changed notebooks; anything but y/yes is no."""
    names = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    print(f"blobedu: {len(changed)} file(s) in {folder} differ from what blobedu copied there "
          f"(you ran or edited them): {names}", file=sys.stderr)
    print("Overwrite them with blobedu's? Your changes there are lost. [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    if not answer.endswith("\n"):
        print(file=sys.stderr)
    return answer.strip().lower() in ("y", "yes")


def _copy_notebooks(folder: Optional[str], force: bool, keep_changed: bool):
    from .workspace import DEFAULT_FOLDER, copy, plan

    p = plan(folder if folder is not None else DEFAULT_FOLDER)
    overwrite = force
    if p.changed and not force and not keep_changed:
        if sys.stdin is not None and sys.stdin.isatty():
            overwrite = _ask_overwrite(p.changed, p.target)
            if not overwrite:
                print(f"blobedu: kept your {len(p.changed)} changed file(s)", file=sys.stderr)
        else:
            names = ", ".join(p.changed[:3]) + (f" and {len(p.changed) - 3} more" if len(p.changed) > 3 else "")
            raise BlobeduError(f"{len(p.changed)} file(s) in {p.target} differ from what blobedu copied there "
                               f"({names}); nothing was copied. Keep them, copy into another folder, "
                               "or add --force to overwrite them")
    written = copy(p, overwrite_changed=overwrite)
    return p, written, ([] if overwrite else p.changed)


def _cmd_notebooks(args) -> int:
    p, written, kept = _copy_notebooks(args.folder, args.force, keep_changed=False)
    parts = [f"{len(written)} file(s) copied"] + ([f"{len(p.current)} already up to date"] if p.current else []) \
        + ([f"{len(kept)} changed by you, kept"] if kept else [])
    _print(f"blobedu's notebooks are in {p.target} ({', '.join(parts)}).\n"
           f"Open them in JupyterLab with: blobedu lab {_quoted(str(p.target))}\n"
           f"or open {p.notebook} in any Jupyter.")
    return 0


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _cmd_lab(args) -> int:
    import importlib.util

    from .workspace import lab_command

    if importlib.util.find_spec("jupyterlab") is None:
        raise BlobeduError("JupyterLab is not installed in this Python: pip install 'blobedu[lab]' "
                           "(or run blobedu notebooks DIR and open them in your own Jupyter)")
    p, written, kept = _copy_notebooks(args.folder, force=False, keep_changed=True)
    if written:
        print(f"blobedu: copied {len(written)} file(s) into {p.target}", file=sys.stderr)
    if kept:
        print(f"blobedu: kept {len(kept)} file(s) you changed there as they are", file=sys.stderr)
    argv, env = lab_command(p.target, port=args.port, open_browser=not args.no_browser)
    print(f"blobedu: opening JupyterLab on {p.notebook} (127.0.0.1 only; Ctrl-C to stop)", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.chdir(p.target)
        if os.name == "posix":
            os.execve(argv[0], argv, env)  # JupyterLab takes over this process: Ctrl-C, exit status and all
        import subprocess

        return subprocess.call(argv, env=env)
    except OSError as exc:
        raise BlobeduError(f"cannot start JupyterLab ({argv[0]}): {exc.strerror or exc}") from None


def one_line(message: str) -> str:
    """``message`` on one line: control characters (a newline in a version string...) shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message)


def _escape_unencodable() -> None:
    """Show what the output encoding cannot (``PYTHONIOENCODING=ascii`` and "·") as escapes, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream already closed or detached
                pass


def _reader_went_away() -> int:
    """stdout's reader closed the pipe: drop what is left unwritten, quietly (the command itself ran)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file descriptor (captured in tests)
        pass
    return 0


def _negative_values_attached(argv: Sequence[str]) -> list[str]:
    """``--over -1h`` becomes ``--over=-1h``: argparse takes a value that starts with '-' (other than a
    plain number) for an option and says "expected one argument"; attached, the value reaches its own
    check, which says what is wrong with it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and re.match(r"^-[0-9.]", str(arg)):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``blobedu`` command."""
    _escape_unencodable()
    try:
        args = build_parser().parse_args(_negative_values_attached(sys.argv[1:] if argv is None else argv))
        return {"put": _cmd_put, "get": _cmd_get, "deliver": _cmd_deliver, "fleet": _cmd_fleet,
                "advise": _cmd_advise, "purge-race": _cmd_purge_race, "atlas": _cmd_atlas,
                "link": _cmd_link, "notebooks": _cmd_notebooks, "lab": _cmd_lab}[args.command](args)
    except BlobeduError as exc:
        print(f"blobedu: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_went_away()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
