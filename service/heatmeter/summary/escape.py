"""Making user text inert wherever the comment shows it: Markdown, Mermaid labels, links.

Pure functions; every user-controlled string (task names, kinds, repository names,
happiness words) passes through one of them before it reaches a comment.
"""

from __future__ import annotations

import string
import unicodedata
from urllib.parse import urlsplit

# Labels and URLs longer than this are cut before escaping, to bound the comment's size.
MAX_LABEL_CHARS = 40
MAX_URL_CHARS = 500

# A zero-width space, written as an entity so the Markdown source stays visible ASCII.
_ZWSP = "&#8203;"
# Everything else passes as a numeric entity: no character of a user's text then means
# anything to Markdown (tables, links, HTML, code, emphasis) or ends the hidden marker.
_PLAIN_ASCII = frozenset(string.ascii_letters + string.digits + " ")
# Only characters that cannot close a Markdown link, open HTML or form an entity.
_URL_CHARS = frozenset(string.ascii_letters + string.digits + "-._~:/?#=%+,!$*")
_MERMAID_CHARS = frozenset(string.ascii_letters + string.digits + " -_./+")


def escape_markdown(text: str) -> str:
    """Text made inert for GitHub Markdown, tables and HTML: it renders as itself and no more.

    Letters, digits and spaces stay; every other character becomes a numeric entity
    (``@`` is ``&#64;``, ``|`` is ``&#124;``), so it cannot build a link, tag, comment, code
    span or table cell. Entities alone do not stop GitHub's mentions, issue references
    and autolinks, which are found after entities are decoded, so a zero-width space
    follows ``@``, ``#``, ``:``, the ``-`` of ``GH-1`` and the ``.`` of ``www.``. Line
    breaks and other control characters become spaces; invisible format characters
    (bidirectional overrides, zero-width joiners) are dropped.
    """
    cleaned = clean(text)
    out: list[str] = []
    for index, char in enumerate(cleaned):
        if char in _PLAIN_ASCII or (ord(char) > 127 and char.isalnum()):
            out.append(char)
            continue
        out.append(f"&#{ord(char)};")
        after = cleaned[index + 1 : index + 2]
        if (
            char in "@#:"
            or (char == "-" and after.isdigit())
            or (char == "." and cleaned[max(0, index - 3) : index].lower() == "www")
        ):
            out.append(_ZWSP)
    return "".join(out)


def escape_mermaid_label(text: str) -> str:
    """Text safe inside a double-quoted Mermaid label on one line of a fenced block.

    Only letters, digits, spaces and ``-_./+`` survive; anything else (quotes, backticks,
    brackets, ``%%`` directives, line breaks) becomes ``_``. Mermaid has no escape that
    every diagram type honours, so replacing is the dependable choice.
    """
    safe = "".join(char if char in _MERMAID_CHARS else "_" for char in clean(text))
    return shorten(safe, MAX_LABEL_CHARS)


def safe_https_url(url: str | None) -> str | None:
    """The URL if it is a plain ``https://`` URL that can sit in a Markdown link, else None."""
    if not url or len(url) > MAX_URL_CHARS or not url.startswith("https://"):
        return None
    if not set(url) <= _URL_CHARS:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    return url


def clean(text: str) -> str:
    """Control characters and line breaks as single spaces; invisible format characters dropped."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cf", "Cs"):
            continue
        kept.append(" " if category in ("Cc", "Zs", "Zl", "Zp") else char)
    return " ".join("".join(kept).split())


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
