"""``blobedu`` on the command line: argument parsing, exit codes, text and JSON output. No behaviour here.

Exit status: 0 when the command ran (whatever the simulated outcome), 2 for bad input (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .durations import format_duration, parse_duration
from .errors import BlobeduError
from .faults import allowed
from .versions import LATEST


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BlobeduError(f"{message} (see {self.prog} --help)")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except BlobeduError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stalwart", default=LATEST, metavar="VERSION",
                   help=f"Stalwart version of the receiver (default {LATEST})")
    p.add_argument("--max-retries", type=int, default=None, metavar="N", help="maxRetries (default: the version's)")
    p.add_argument("--timeout", type=_duration, default=None, metavar="DURATION",
                   help="S3 request timeout (default: the version's, 30s)")
    verify = p.add_mutually_exclusive_group()
    verify.add_argument("--verify", dest="verify", action="store_true", default=None, help="verifyAfterWrite on")
    verify.add_argument("--no-verify", dest="verify", action="store_false", help="verifyAfterWrite off")
    p.add_argument("--latency", type=_duration, default=0.0, metavar="DURATION", help="latency of every S3 request")
    p.add_argument("--fault", action="append", default=[], metavar="KIND@START[-END]",
                   help=f"a fault window; repeat for several. Kinds: {allowed()}")
    p.add_argument("--endpoint", choices=["in-process", "loopback"], default="in-process",
                   help="moto in this process (default) or a ThreadedMotoServer on 127.0.0.1")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _store_config(args):
    from .store import StoreConfig

    return StoreConfig(version=args.stalwart, max_retries=args.max_retries, timeout=args.timeout,
                       verify=args.verify, latency=args.latency)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(prog="blobedu", description="What Stalwart does with a message when S3 fails.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("put", help="one blob PUT through Stalwart's S3 retry loop")
    _add_store_flags(p)
    p.add_argument("--real-clock", action="store_true", help="really wait (default: virtual time)")
    return parser


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
    if trace.error:
        verdict += f": {trace.error}"
    lines.append(verdict)
    lines.append(f"durable in S3: {'yes' if trace.durable else 'no'}")
    return "\n".join(lines)


def _cmd_put(args) -> int:
    from .clock import RealClock
    from .faults import FaultPlan
    from .store import put

    config = _store_config(args)
    faults = FaultPlan(args.fault)
    trace = put(faults=faults, config=config, endpoint=args.endpoint,
                clock=RealClock() if args.real_clock else None)
    print(trace.to_json(indent=2) if args.json else render_put(trace))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``blobedu`` command."""
    try:
        args = build_parser().parse_args(argv)
        return {"put": _cmd_put}[args.command](args)
    except BlobeduError as exc:
        print(f"blobedu: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
