"""blobedu.links and ``blobedu link``: exact Binder/nbviewer URLs, input checks, the README's links.

No fixtures: stdout/stderr are captured with ``contextlib.redirect_*``.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from blobedu.cli import main
from blobedu.errors import BlobeduError
from blobedu.links import (NOTEBOOKS, badge, binder_url, forum_snippet, notebook_name, nbviewer_url, pages_url,
                           readme_table)

REPO = Path(__file__).resolve().parents[1]
EXPECTED_NOTEBOOKS = ["00_start_here.ipynb", "01_retry_loop.ipynb", "02_verify_after_write.ipynb",
                      "03_tempfail_flow.ipynb", "04_no_wal.ipynb", "05_tuning.ipynb",
                      "06_beyond_incoming_mail.ipynb", "07_fleet.ipynb", "08_other_servers.ipynb", "09_atlas.ipynb"]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# ---- the table --------------------------------------------------------------------------------------

def test_table_has_the_notebooks_in_order():
    assert list(NOTEBOOKS) == EXPECTED_NOTEBOOKS


def test_every_row_is_a_question_and_a_one_line_answer():
    for name, row in NOTEBOOKS.items():
        assert row.question.endswith("?"), name
        assert row.answer and "\n" not in row.answer and row.answer.endswith("."), name
        assert len(row.answer) < 300, name


def test_the_forum_questions():
    assert NOTEBOOKS["00_start_here.ipynb"].question == "What happens to a message when Stalwart can't reach S3?"
    assert NOTEBOOKS["04_no_wal.ipynb"].question == "Does Stalwart have a WAL or cache for blobs, and would one help?"
    assert NOTEBOOKS["05_tuning.ipynb"].question == "Should I raise maxRetries or the timeout?"


# ---- exact URLs ---------------------------------------------------------------------------------------

def test_binder_url_exactly():
    assert binder_url("blobedu/blobedu", "v0.1.0", "notebooks/03_tempfail_flow.ipynb") == (
        "https://mybinder.org/v2/gh/blobedu/blobedu/v0.1.0?urlpath=lab/tree/notebooks/03_tempfail_flow.ipynb")


def test_nbviewer_url_exactly():
    assert nbviewer_url("blobedu/blobedu", "v0.1.0", "03_tempfail_flow.ipynb") == (
        "https://nbviewer.org/github/blobedu/blobedu/blob/v0.1.0/notebooks/03_tempfail_flow.ipynb")


def test_commit_sha_ref():
    sha = "a874fca0123456789abcdef0123456789abcdef0"
    assert binder_url("o/r", sha, "00") == f"https://mybinder.org/v2/gh/o/r/{sha}?urlpath=lab/tree/notebooks/00_start_here.ipynb"
    assert nbviewer_url("o/r", sha, "00") == f"https://nbviewer.org/github/o/r/blob/{sha}/notebooks/00_start_here.ipynb"


def test_a_ref_with_a_slash_is_quoted_for_binder():
    # mybinder.org wants the ref as one path segment; GitHub's blob URLs take the slash as it is.
    assert binder_url("o/r", "release/v1.0", "01").startswith("https://mybinder.org/v2/gh/o/r/release%2Fv1.0?urlpath=")
    assert "/blob/release/v1.0/notebooks/" in nbviewer_url("o/r", "release/v1.0", "01")


@pytest.mark.parametrize("given", ["notebooks/02_verify_after_write.ipynb", "02_verify_after_write.ipynb",
                                   "02_verify_after_write", "02", "2", "./notebooks/02_verify_after_write.ipynb",
                                   "/abs/clone/notebooks/02_verify_after_write.ipynb"])
def test_notebook_can_be_named_several_ways(given):
    assert notebook_name(given) == "02_verify_after_write.ipynb"


def test_badge():
    assert badge("blobedu/blobedu", "v0.1.0") == (
        "[![Binder](https://mybinder.org/badge_logo.svg)]"
        "(https://mybinder.org/v2/gh/blobedu/blobedu/v0.1.0?urlpath=lab/tree/notebooks/00_start_here.ipynb)")


def test_forum_snippet():
    text = forum_snippet("03", "blobedu/blobedu", "v0.1.0")
    lines = text.splitlines()
    assert lines[0] == "### Is my mail lost while S3 is down? Who keeps it, and for how long?"
    assert NOTEBOOKS["03_tempfail_flow.ipynb"].answer in lines
    assert ("(https://mybinder.org/v2/gh/blobedu/blobedu/v0.1.0?urlpath=lab/tree/notebooks/03_tempfail_flow.ipynb)"
            in text)
    assert "(https://nbviewer.org/github/blobedu/blobedu/blob/v0.1.0/notebooks/03_tempfail_flow.ipynb)" in text
    # the static page beside Binder's, and which one runs the model
    page = next(line for line in lines if "blobedu.github.io" in line)
    assert "(https://blobedu.github.io/blobedu/03_tempfail_flow.html)" in page and "no kernel" in page
    assert "run the model" in next(line for line in lines if "mybinder.org" in line)


def test_pages_url_follows_github_pages():
    assert pages_url("blobedu/blobedu", "02") == "https://blobedu.github.io/blobedu/02_verify_after_write.html"
    assert pages_url("Some-Owner/Repo.Name", "00") == "https://some-owner.github.io/Repo.Name/00_start_here.html"
    with pytest.raises(BlobeduError):
        pages_url("https://github.com/o/r", "00")


def test_readme_table_has_a_row_per_notebook():
    rows = readme_table("blobedu/blobedu", "v0.1.0").splitlines()
    assert rows[0].startswith("|") and set(rows[1]) <= {"|", "-"}
    assert len(rows) == 2 + len(NOTEBOOKS)
    for row, (name, nb) in zip(rows[2:], NOTEBOOKS.items()):
        assert row.startswith(f"| {nb.question} | [{name}](notebooks/{name}) |")
        assert binder_url("blobedu/blobedu", "v0.1.0", name) in row
        assert nbviewer_url("blobedu/blobedu", "v0.1.0", name) in row
        assert f"[page]({pages_url('blobedu/blobedu', name)})" in row


# ---- the CLI ----------------------------------------------------------------------------------------------

def test_cli_link_prints_the_snippet():
    code, out, err = run_cli("link", "notebooks/03_tempfail_flow.ipynb", "--repo", "o/r", "--ref", "v1.0")
    assert (code, err) == (0, "")
    assert out == forum_snippet("03_tempfail_flow.ipynb", "o/r", "v1.0") + "\n"
    assert "https://mybinder.org/v2/gh/o/r/v1.0?urlpath=lab/tree/notebooks/03_tempfail_flow.ipynb" in out
    assert "https://nbviewer.org/github/o/r/blob/v1.0/notebooks/03_tempfail_flow.ipynb" in out
    assert "https://o.github.io/r/03_tempfail_flow.html" in out


BAD = [
    (("link", "03", "--repo", "justaname", "--ref", "v1"), "OWNER/NAME"),
    (("link", "03", "--repo", "a/b/c", "--ref", "v1"), "OWNER/NAME"),
    (("link", "03", "--repo", "https://github.com/o/r", "--ref", "v1"), "OWNER/NAME"),
    (("link", "03", "--repo", "o/r.git", "--ref", "v1"), "OWNER/NAME"),
    (("link", "03", "--repo", "", "--ref", "v1"), "OWNER/NAME"),
    (("link", "03", "--repo", "o/r", "--ref", ""), "tag"),
    (("link", "03", "--repo", "o/r", "--ref", "   "), "tag"),
    (("link", "03", "--repo", "o/r", "--ref", "main"), "looks like a branch"),
    (("link", "03", "--repo", "o/r", "--ref", "master"), "looks like a branch"),
    (("link", "03", "--repo", "o/r", "--ref", "HEAD"), "looks like a branch"),
    (("link", "03", "--repo", "o/r", "--ref", "origin/main"), "looks like a branch"),
    (("link", "03", "--repo", "o/r", "--ref", "v1 .0"), "not a valid git ref"),
    (("link", "99", "--repo", "o/r", "--ref", "v1"), "known notebooks"),
    (("link", "notebooks/99_nope.ipynb", "--repo", "o/r", "--ref", "v1"), "known notebooks"),
    (("link", "", "--repo", "o/r", "--ref", "v1"), "known notebooks"),
    (("link", "03", "--ref", "v1"), "--repo"),
]


@pytest.mark.parametrize("argv, says", BAD, ids=[" ".join(repr(a) for a in argv[1:]) for argv, _ in BAD])
def test_cli_bad_input_is_status_2_and_one_line(argv, says):
    code, out, err = run_cli(*argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("blobedu: error: ") and says in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("call", [lambda: binder_url("o", "v1", "00"), lambda: nbviewer_url("o/r", "main", "00"),
                                  lambda: forum_snippet("x", "o/r", "v1"), lambda: readme_table("o/r", "HEAD"),
                                  lambda: badge("", "v1")])
def test_library_raises_blobedu_error(call):
    with pytest.raises(BlobeduError):
        call()


# ---- the README ---------------------------------------------------------------------------------------

README_NOTEBOOK = re.compile(r"notebooks/(\d\d_[A-Za-z0-9_\-]+\.ipynb)")


def test_readme_links_point_at_notebooks_that_exist():
    readme = (REPO / "README.md").read_text()
    referenced = sorted(set(README_NOTEBOOK.findall(readme)))
    assert referenced, "README.md links to no notebooks/NN_*.ipynb (paste the notebook table into it)"
    absent = [name for name in referenced if not (REPO / "notebooks" / name).is_file()]
    assert not absent, f"README.md links to notebooks that do not exist in notebooks/: {absent}"
    unknown = [name for name in referenced if name not in NOTEBOOKS]
    assert not unknown, f"README.md links to notebooks blobedu.links does not know: {unknown}"


def test_readme_lists_every_notebook():
    readme = (REPO / "README.md").read_text()
    referenced = set(README_NOTEBOOK.findall(readme))
    left_out = [name for name in NOTEBOOKS if name not in referenced]
    assert not left_out, f"README.md does not link to: {left_out}"


def test_every_snippet_carries_the_line_that_matters():
    from blobedu.key_lines import KEY_LINES, key_line

    assert set(KEY_LINES) == set(NOTEBOOKS)
    for name in NOTEBOOKS:
        line = key_line(name)
        assert line and "\n" not in line
        assert f"**{line}**" in forum_snippet(name, "o/r", "v1.0").splitlines()


def test_the_03_snippet_gives_the_tolerance_by_sender():
    from blobedu.durations import format_duration
    from blobedu.tolerance import tolerance

    text = forum_snippet("03", "o/r", "v1.0")
    for sender in ("stalwart", "postfix", "exim"):
        t = tolerance(sender, "0.16.18" if sender == "stalwart" else None)
        assert format_duration(t.longest_outage_delivered) in text and format_duration(t.bounce_at) in text
    assert "1d04h" in text  # facts §3, revision 3: a 0.16 Stalwart sender's last try
