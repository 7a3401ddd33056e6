"""Build tools of the course (not part of the learner's package `micourse`).

- `exercises`: one exercise cell -> its stub (exercises notebook, site) and its solution.
- `myst`: MyST markdown -> Markdown that Colab renders, read with markdown-it-py.
- `notebooks`: a page -> its two Colab notebooks.
- `repo`: the repository URL (from book/_config.yml), the commit, the table of contents.

The Sphinx extension `micourse_site` (beside this package) uses all four; so do
`scripts/make_notebooks.py` and the tests.
"""
