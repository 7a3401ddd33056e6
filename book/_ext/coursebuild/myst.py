"""MyST markdown -> Markdown that Colab renders, read with markdown-it-py (MyST-parser's parser).

Colab knows CommonMark, HTML and `$math$`, not MyST: admonitions become block quotes, hints and
dropdowns `<details>` folds, roles plain text, labels and comments disappear. Links to other
pages of the course go where a notebook reader can follow them: the page's own notebook in
Colab, or the page on the site (a `.md` file means nothing there).

Each cell is parsed into block tokens; a block that needs no change is copied from the source
line for line (its `map`), so what Colab shows is what the author wrote.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

# docname of a course page (e.g. "chapters/01-transformers/02-foundations") -> URL, or None
LinkResolver = Callable[[str], "str | None"]

ADMONITION_TITLES = {
    "admonition": "",
    "hint": "Hint",
    "tip": "Tip",
    "note": "Note",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
DROPPED_DIRECTIVES = {"glue:figure", "glue:math", "glue", "tableofcontents", "bibliography"}
_REFERENCE_ROLES = {"doc", "ref", "numref", "eq", "term", "download", "any"}
_TEXT_ROLES = {"sub", "sup", "kbd", "guilabel", "menuselection"}


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """CommonMark plus the MyST syntax the course uses (as MyST-parser configures markdown-it)."""
    return (
        MarkdownIt("commonmark")
        .enable("table")
        .use(front_matter_plugin)
        .use(colon_fence_plugin)
        .use(myst_block_plugin)
        .use(myst_role_plugin)
    )


def directive_of(token: Token) -> tuple[str, str] | None:
    """(name, argument) when a fence token is a MyST directive, e.g. ("hint", "")."""
    if token.type not in {"fence", "colon_fence"}:
        return None
    info = token.info.strip()
    if not info.startswith("{") or "}" not in info:
        return None
    name, _, arg = info[1:].partition("}")
    return name.strip(), arg.strip()


def split_options(body: str) -> tuple[dict[str, str], str]:
    """A directive's `:key: value` lines (or `---` YAML block), and the content after them."""
    lines = body.split("\n")
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), None)
        if end is not None:
            for line in lines[1:end]:
                key, sep, value = line.partition(":")
                if sep:
                    options[key.strip()] = value.strip()
            return options, "\n".join(lines[end + 1 :])
    i = 0
    while i < len(lines) and lines[i].startswith(":") and lines[i].count(":") >= 2:
        key, _, value = lines[i][1:].partition(":")
        options[key.strip()] = value.strip()
        i += 1
    return options, "\n".join(lines[i:])


def _explicit_target(content: str) -> tuple[str | None, str]:
    """`text <target>` -> (text, target); `target` -> (None, target)."""
    content = content.strip()
    if content.endswith(">") and "<" in content:
        text, _, target = content[:-1].rpartition("<")
        return text.strip() or None, target.strip()
    return None, content


class Converter:
    """Converts the cells of one page; `resolve` maps a course page to a URL (None: plain text)."""

    def __init__(self, docname: str = "", resolve: LinkResolver | None = None):
        self.docname = docname
        self.resolve = resolve or (lambda _doc: None)

    # ------------------------------------------------------------------ links
    def _page_url(self, target: str) -> str | None:
        """URL of a relative link to another course page (`02-foundations.md#x`, `/chapters/x`)."""
        if "://" in target or target.startswith(("#", "mailto:")):
            return None
        path, sep, anchor = target.partition("#")
        if not path.endswith(".md") and "." in posixpath.basename(path):
            return None  # an image or a download, not a page
        path = path.removesuffix(".md")
        here = posixpath.dirname(self.docname)
        doc = path.lstrip("/") if path.startswith("/") else posixpath.normpath(posixpath.join(here, path))
        url = self.resolve(doc)
        if url is None:
            return None
        return url + (sep + anchor if anchor and url.endswith(".html") else "")

    def _role(self, name: str, content: str) -> str:
        if name.startswith("glue"):
            return f"`{content.split(':', 1)[0]}` (printed above)"
        if name == "math":
            return f"${content}$"
        if name in _REFERENCE_ROLES:
            text, target = _explicit_target(content)
            label = text or target.rsplit("/", 1)[-1]
            url = self._page_url(target) if name == "doc" else None
            return f"[{label}]({url})" if url else label
        if name == "abbr":
            text, _ = _explicit_target(content.replace("(", "<").replace(")", ">"))
            return text or content
        if name in _TEXT_ROLES:
            return content
        return f"`{content}`"

    def _inline(self, source: str, inline_tokens: list[Token]) -> str:
        """The block's source with its roles rewritten and its links to pages redirected."""
        for inline in inline_tokens:
            for child in inline.children or []:
                if child.type == "myst_role":
                    raw = "{" + child.meta["name"] + "}`" + child.content + "`"
                    source = source.replace(raw, self._role(child.meta["name"], child.content), 1)
                elif child.type == "link_open":
                    href = str(child.attrs.get("href", ""))
                    url = self._page_url(href)
                    if url:
                        source = source.replace(f"]({href})", f"]({url})", 1)
        return source

    # ------------------------------------------------------------------ directives
    def _directive(self, name: str, arg: str, token: Token) -> str | None:
        options, body = split_options(token.content)
        if name in ADMONITION_TITLES:
            return self._admonition(name, arg, options, self.convert(body))
        if name == "dropdown":
            return (
                f"<details>\n<summary><b>{self._line(arg)}</b></summary>\n\n{self.convert(body).strip()}\n\n</details>"
            )
        if name in {"code-block", "code", "sourcecode"}:
            return f"```{arg}\n{body.rstrip()}\n```"
        if name == "math":
            return f"$$\n{body.strip()}\n$$"
        if name in {"figure", "image"}:
            alt = options.get("alt") or self.convert(body).strip() or "figure"
            if arg.startswith(("http://", "https://")):
                return f"![{alt}]({arg})"
            return f"*(Figure on the course site: {alt})*"
        if name in DROPPED_DIRECTIVES:
            return None
        return self.convert(body)  # containers (tab-set, margin, ...): keep their content

    def _line(self, text: str) -> str:
        tokens = parser().parseInline(text)
        return self._inline(text, tokens)

    def _admonition(self, name: str, arg: str, options: dict[str, str], body_md: str) -> str:
        label = ADMONITION_TITLES[name]
        title = self._line(arg)
        if name != "admonition" and title:
            title = f"{label}: {title}"
        title = title or label or "Note"
        body_md = body_md.strip("\n")
        if "dropdown" in options.get("class", "").split() or name == "hint":
            # Colab renders <details>; a blank line after <summary> lets the body be Markdown.
            return f"<details>\n<summary><b>{title}</b> (click to expand)</summary>\n\n{body_md}\n\n</details>"
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in body_md.split("\n"))
        return f"> **{title}**\n>\n{quoted}"

    # ------------------------------------------------------------------ blocks
    def convert(self, text: str) -> str:
        """One MyST markdown cell -> Markdown for Colab."""
        lines = text.split("\n")
        tokens = parser().parse(text)
        out: list[str] = []
        pos = 0
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.level != 0 or token.map is None:
                i += 1
                continue
            start, end = token.map
            out.extend(lines[pos:start])
            pos = end
            if token.nesting == 1:  # a container block: gather its inline tokens up to its close
                close = token.type.removesuffix("_open") + "_close"
                j = i + 1
                while not (tokens[j].level == 0 and tokens[j].type == close):
                    j += 1
                inline = [t for t in tokens[i + 1 : j] if t.type == "inline"]
                out.append(self._inline("\n".join(lines[start:end]), inline))
                i = j + 1
                continue
            directive = directive_of(token)
            if directive is not None:
                converted = self._directive(*directive, token)
                if converted is not None:
                    out.append(converted)
            elif token.type not in {"myst_target", "myst_line_comment", "front_matter"}:
                out.extend(lines[start:end])  # code blocks, HTML, rules: verbatim
            i += 1
        out.extend(lines[pos:])
        return "\n".join(out)


def myst_to_colab_markdown(text: str, docname: str = "", resolve: LinkResolver | None = None) -> str:
    """Turn one MyST markdown cell into Markdown that Colab renders."""
    return Converter(docname, resolve).convert(text)


def lint_myst(text: str) -> list[tuple[int, str]]:
    """Mistakes in a MyST page that render wrongly *without* any warning: [(line, message)].

    A backtick-fenced directive whose title contains a backtick (```{admonition} Implement `f`)
    is not a directive in CommonMark: the info string ends at the backtick, so the line reads as
    a paragraph with inline code, and the next fence swallows the cells after it. Found here as
    a paragraph that starts with three backticks and a `{name}`.
    """
    problems = []
    for token in parser().parse(text):
        if token.type == "inline" and token.map and token.content.startswith("```{"):
            problems.append(
                (
                    token.map[0] + 1,
                    "a ```{directive} title contains a backtick, which ends the fence's info string: "
                    "write it with a colon fence instead, :::{admonition} ... :::",
                )
            )
    return problems
