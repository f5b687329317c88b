"""Tables render as HTML in a notebook and as the same rows in text (teaching.md, 7)."""

from html.parser import HTMLParser

from hypothesis import given, strategies as st

from blobedu.text import Table, table


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self.caption, self._in_caption = [], None, None, "", False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        elif self._in_caption:
            self.caption += data


text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@given(st.lists(st.fixed_dictionaries({"a": text, "b": st.integers()}), min_size=1, max_size=5), text)
def test_the_html_holds_exactly_the_rows_escaped_and_the_text_is_the_plain_table(rows, caption):
    t = Table(rows, columns=["a", "b"], caption=caption or None)
    parsed = _Cells()
    parsed.feed(t._repr_html_())
    parsed.close()
    assert parsed.rows == [["a", "b"]] + [[r["a"], str(r["b"])] for r in rows]
    assert parsed.caption == (caption or "")
    assert str(t).endswith(table(rows, ["a", "b"]))


def test_columns_pick_and_order_and_an_empty_table_says_so():
    t = Table([{"x": 1, "y": 2}], columns=["y", "x"])
    assert "<th>y</th><th>x</th>" in t._repr_html_() and "<td>2</td><td>1</td>" in t._repr_html_()
    assert "no rows" in Table([])._repr_html_() and str(Table([])) == "(no rows)"
