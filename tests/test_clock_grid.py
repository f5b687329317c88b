"""Virtual waits wake on looptime's microsecond grid (a wait off it spins looptime 0.3 forever)."""

import math

from hypothesis import given, strategies as st

from blobedu.clock import _on_looptime_grid

micros = st.integers(min_value=0, max_value=10 * 86400 * 1_000_000)
waits = st.floats(min_value=1e-9, max_value=5 * 86400, allow_nan=False, allow_infinity=False)


@given(micros, waits)
def test_a_wait_is_lengthened_by_under_a_microsecond_to_end_on_the_grid(now_us, seconds):
    now = now_us / 1_000_000  # looptime's time(): whole microseconds, int / int
    got = _on_looptime_grid(now, seconds)
    assert seconds - 1e-9 <= got < seconds + 1e-6 + 1e-9
    end_us = (now + got) * 1_000_000
    assert abs(end_us - round(end_us)) < 1e-3  # looptime's round() of the gap reaches the timer exactly


@given(micros, st.integers(min_value=1, max_value=5 * 86400 * 1000))
def test_a_wait_already_on_the_grid_is_unchanged(now_us, millis):
    now, seconds = now_us / 1_000_000, millis / 1000
    assert math.isclose(_on_looptime_grid(now, seconds), seconds, abs_tol=1e-9)
