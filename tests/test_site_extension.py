"""Pieces of the site's Sphinx extension (book/_ext/micourse_site.py) that need no build."""

from __future__ import annotations

import pytest

site = pytest.importorskip("micourse_site")


def test_links_to_skipped_pages_become_text() -> None:
    text = (
        "Next: [Foundations](02-foundations.md), then [GPT-2](03-clean-gpt2.md#top) and "
        "{doc}`the KV cache <06-kv-cache>`; see also [the web](https://example.org/02-foundations.md)."
    )
    out = site._unlink_skipped(
        "chapters/01-transformers/01-inputs-outputs",
        text,
        {"chapters/01-transformers/02-foundations", "chapters/01-transformers/06-kv-cache"},
    )
    assert "Foundations (coming soon)" in out and "](02-foundations.md)" not in out
    assert "the KV cache (coming soon)" in out
    assert "[GPT-2](03-clean-gpt2.md#top)" in out  # that page exists: untouched
    assert "(https://example.org/02-foundations.md)" in out


def test_banner_goes_under_the_title() -> None:
    body = "<section><h1>Title</h1><p>text</p></section>"
    assert (
        site._insert_after_title(body, "<div>B</div>") == "<section><h1>Title</h1>\n<div>B</div><p>text</p></section>"
    )


def test_repository_url_parsing() -> None:
    from coursebuild.repo import Repository

    r = Repository.from_url("https://github.com/mi-course/transformers-mech-interp")
    assert (r.org, r.name) == ("mi-course", "transformers-mech-interp")
    assert Repository.from_url("https://github.com/a/b.git/") == Repository("a", "b")
    assert r.colab_url("notebooks/x.ipynb") == (
        "https://colab.research.google.com/github/mi-course/transformers-mech-interp/blob/gh-pages/notebooks/x.ipynb"
    )
    with pytest.raises(ValueError):
        Repository.from_url("mi-course/transformers-mech-interp")
