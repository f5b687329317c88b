"""The README's table of hazards by version is the one blobedu.hazards generates (issue #18)."""

from pathlib import Path

from blobedu.hazards import HAZARD_IDS, readme_block

README = Path(__file__).resolve().parent.parent / "README.md"


def _table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- hazards-table")
    start = text.index("\n", start) + 1
    return text[start:text.index("<!-- /hazards-table -->")].strip()


def test_the_readme_tables_are_the_generated_ones():
    assert _table() == readme_block(), "regenerate the block with blobedu.hazards.readme_block()"


def test_every_hazard_appears_in_the_table():
    table = _table()
    for hazard_id in HAZARD_IDS:
        assert f"`{hazard_id}`" in table


def test_every_hazard_has_an_anchor_the_notebooks_can_link_to():
    for hazard_id in HAZARD_IDS:
        assert f'<a id="hazard-{hazard_id}"></a>' in _table()
