"""notebooks/00_start_here.ipynb's numbers."""

from . import Model
from .helpers import dur, put_elapsed, sleeps, tol

CLAIMS = [
    Model("1, 2, 4 s", lambda: ", ".join(f"{s:g}" for s in sleeps()) + " s"),
    Model("maxRetries 3", lambda: f"maxRetries {len(sleeps())}"),
    Model("1 s retry", lambda: f"{put_elapsed('refused@0'):g} s retry", note="the hidden transport retry"),
    Model("4d06h", lambda: dur(tol("exim").last_try_at)),
]
