"""Every kind of item the outbox holds: the service runs one worker for each.

Adding a kind is a module that builds a ``Kind`` (see ``kind.py`` and docs/outbox.md)
and one line here.
"""

from __future__ import annotations

from . import answers, comment, installations
from .kind import Kind

KINDS: tuple[Kind, ...] = (
    comment.KIND,
    answers.REACTION_KIND,
    answers.REPLY_KIND,
    installations.KIND,
)
