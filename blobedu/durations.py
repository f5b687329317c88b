"""Durations: seconds (float) in the API; ``7``, ``7s``, ``2m``, ``1h``, ``3d`` on the CLI and in widgets."""

from __future__ import annotations

import re

from .errors import BlobeduError

_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str | float | int) -> float:
    """Parse ``7``, ``7s``, ``2m``, ``1h``, ``3d`` (or ``250ms``) into seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise BlobeduError(f"duration {text!r} is negative; durations are 0 or more seconds")
        return float(text)
    match = _PATTERN.match(str(text))
    if not match:
        raise BlobeduError(
            f"bad duration {text!r}: use a number with an optional unit ms, s, m, h or d (e.g. 7, 7s, 2m, 1h, 3d)"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def format_duration(seconds: float) -> str:
    """Render seconds for people: ``950ms``, ``7s``, ``2m``, ``1h02m``, ``3d``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m}m" if s == 0 else f"{m}m{s:02d}s"
    if seconds < 86400:
        h, rest = divmod(round(seconds), 3600)
        m = rest // 60
        return f"{h}h" if m == 0 else f"{h}h{m:02d}m"
    d, rest = divmod(round(seconds), 86400)
    h = rest // 3600
    return f"{d}d" if h == 0 else f"{d}d{h:02d}h"
