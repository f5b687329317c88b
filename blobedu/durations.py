"""Durations: seconds (float) in the API; ``7``, ``7s``, ``2m``, ``1h``, ``3d`` on the CLI and in widgets."""

from __future__ import annotations

import math
import re

from .clock import HORIZON_SECONDS
from .errors import BlobeduError

_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# ASCII digits only: \d and float() would also take Arabic-Indic or full-width digits, and float() "1_0"
_PATTERN = re.compile(r"[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*(ms|s|m|h|d)?[ \t]*")


def _within_horizon(seconds: float, text: object) -> float:
    if not math.isfinite(seconds) or seconds > HORIZON_SECONDS:
        raise BlobeduError(f"duration {_short(text)} is longer than blobedu's horizon of 30 days (30d); "
                           "blobedu simulates at most 30 days")
    return seconds


def _short(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "...'"


def parse_duration(text: str | float | int) -> float:
    """Parse ``7``, ``7s``, ``2m``, ``1h``, ``3d`` (or ``250ms``) into seconds, at most the 30-day horizon."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text != text:
            raise BlobeduError("duration is not a number (NaN)")
        if text < 0:
            raise BlobeduError(f"duration {_short(text)} is negative; durations are 0 or more seconds")
        return _within_horizon(float(text), text)
    match = _PATTERN.fullmatch(str(text))
    if not match:
        raise BlobeduError(
            f"bad duration {_short(text)}: use a number with an optional unit ms, s, m, h or d "
            "(e.g. 7, 7s, 2m, 1h, 3d), in ASCII digits, at most 30d"
        )
    return _within_horizon(float(match.group(1)) * _UNITS[match.group(2) or ""], text)


def format_duration(seconds: float) -> str:
    """Render seconds for people: ``950ms``, ``7s``, ``2m``, ``1h02m``, ``3d``."""
    if not math.isfinite(seconds):
        return "forever" if seconds > 0 else ("-forever" if seconds < 0 else "?")
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
