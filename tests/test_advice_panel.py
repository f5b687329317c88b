"""The card in notebook 00: printed for the latest release, and a dropdown that shows any other's."""

from __future__ import annotations

import contextlib
import io

from blobedu.advice import advise
from blobedu.advice_panel import CardPanel, card_panel, release_options


def test_the_card_is_printed_then_the_dropdown_follows():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        panel = card_panel()
    assert out.getvalue().strip() == advise().text()
    assert panel.dropdown.value == release_options()[0] == "0.16.18"
    assert release_options()[-1] == "0.5.0"
    assert "0.16.18" in panel._repr_mimebundle_()["text/plain"]


def test_choosing_a_release_shows_its_card():
    panel = CardPanel()
    panel.dropdown.value = "0.15.5"
    shown = "".join(o.get("text", "") for o in panel.output.outputs)
    assert shown.strip() == advise("0.15.5").text()
    assert "computing" not in shown
