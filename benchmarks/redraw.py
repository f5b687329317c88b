"""How long a panel takes to redraw after a control moves: in the kernel (run, draw, encode) and in the browser.

Run on demand from the repository root (``make bench`` runs it too)::

    .venv/bin/python benchmarks/redraw.py          # headless figures now, browser figures from the last browser test
    .venv/bin/python benchmarks/redraw.py --browser  # run the browser test first (about 4 min), then print

Two sources, both printed as the median and the 90th percentile of 10 moves per panel:

* **headless**: the same panels and moves as the browser test, in this process, with the time split
  the way :attr:`blobedu.widgets.Panel.timings` splits it: the model's run, building the figure
  (lanes + artists), encoding the PNG (rasterising + zlib).
* **browser**: what ``tests/test_browser.py`` measured in JupyterLab in Chromium, from the control
  change in the page to the new figure's ``src`` in the page (``test-artifacts/redraw/*.json``).

The goal (issue #10): a median under 300 ms in the browser for the delivery panel's default scenario
and for a 1-day outage, on this project's 2-core machine.  Nothing asserts it: these are figures.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL_MS = 300.0
MOVES = 10


def _p90(values):
    ordered = sorted(values)
    pos = (len(ordered) - 1) * 0.9
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _headless_cases():
    from blobedu import widgets as W

    slide = [2, 3] * 5
    return [
        ("delivery panel, default (503@0-1h)", W.delivery_panel, {}, "max_retries", slide),
        ("delivery panel, 1-day outage (503@0-1d)", W.delivery_panel, {"faults": "503@0-1d"},
         "max_retries", slide),
        ("PUT panel, default (503@0-5s)", W.put_panel, {}, "max_retries", slide),
        ("verify panel, default (lost-write@0-1s)", W.verify_panel, {}, "verify", ["off", "on"] * 5),
        ("side-by-side panel, the 4 cases", W.compare_panel, {}, "preset", list(W.COMPARE_PRESETS) * 3),
        ("side-by-side panel with the fair WAL, the 4 cases", W.compare_panel, {"spools": W.SPOOLS[1]}, "preset",
         list(W.COMPARE_PRESETS) * 3),
        ("delivery panel, 503@0-9m, maxRetries 10, latency 29s", W.delivery_panel,
         {"faults": "503@0-9m", "latency": "29s", "max_retries": 10}, "max_retries", [9, 10] * 5),
    ]


def headless() -> None:
    """Each panel moved 10 times in this process: run / draw / encode / total, median and p90 (ms)."""
    import matplotlib

    matplotlib.use("Agg")
    print("headless (in this process; ms)                        run          draw        encode         total")
    print("                                                    med   p90    med   p90    med   p90    med   p90")
    for name, make, defaults, control, moves in _headless_cases():
        panel = make(**defaults)
        rows = {"run": [], "draw": [], "encode": [], "total": []}
        for move in moves[:MOVES]:
            panel.update(**{control: move})
            t = panel.timings
            for key in ("run", "draw", "encode"):
                rows[key].append(t[key])
            rows["total"].append(sum(t.values()))
        cells = "  ".join(f"{statistics.median(v):5.0f} {_p90(v):5.0f}" for v in rows.values())
        print(f"  {name:<50}{cells}")
    print()


def browser(run: bool = False) -> int:
    """The figures the browser test recorded (run it first with ``run=True``)."""
    if run:
        code = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "browser",
                                "tests/test_browser.py"], cwd=ROOT)
        if code:
            print(f"(the browser test failed with status {code}; figures below may be partial)")
    files = sorted((ROOT / "test-artifacts" / "redraw").glob("*.json"))
    if not files:
        print("browser: no figures yet; run `.venv/bin/python benchmarks/redraw.py --browser` "
              "(or `pytest -m browser tests/test_browser.py`)")
        return 0
    print(f"browser (JupyterLab in Chromium: control change -> new figure src; {MOVES} moves; ms)")
    print(f"  {'notebook':<24}{'panel':<56}{'median':>8}{'p90':>8}  goal < {GOAL_MS:.0f} ms (median)")
    for path in files:
        data = json.loads(path.read_text())
        for p in data["panels"]:
            met = "met" if p["median_ms"] < GOAL_MS else "NOT met"
            print(f"  {data['notebook'][:22]:<24}{p['panel'][:54]:<56}{p['median_ms']:8.0f}{p['p90_ms']:8.0f}  {met}")
        print(f"  {'':<24}(measured {data['measured_at']} on {data.get('cpus', '?')} CPUs)")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    headless()
    return browser(run="--browser" in argv)


if __name__ == "__main__":
    sys.exit(main())
