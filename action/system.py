"""The little the action needs from the operating system, without importing `os`."""

# `os` costs about 2 ms under `python3 -I -S` (it pulls in stat, posixpath and
# _collections_abc), a sixth of the interpreter's own start-up. Its C half, `posix` (`nt` on
# Windows), is loaded before any Python code runs and holds everything used here.

from __future__ import annotations

import sys

POSIX = "posix" in sys.builtin_module_names
if POSIX:
    import posix as _os
else:  # Windows, where running the command needs `subprocess`, and so `os`, anyway
    import os as _os  # type: ignore[no-redef]

SEP = "/" if POSIX else "\\"

getpid = _os.getpid
urandom = _os.urandom
remove = _os.remove
replace = _os.replace


def _environ() -> dict[str, str]:
    loaded = sys.modules.get("os")
    if loaded is not None:
        # Tests, or a program that imported `os`: its live os.environ is the truth.
        return loaded.environ  # type: ignore[no-any-return]
    if not POSIX:
        return _os.environ  # type: ignore[return-value]
    # posix.environ is the start-up environment as bytes; decode it as os.environ does.
    encoding = sys.getfilesystemencoding()
    return {
        key.decode(encoding, "surrogateescape"): value.decode(encoding, "surrogateescape")
        for key, value in _os.environ.items()
    }


environ = _environ()


def exists(path: str) -> bool:
    try:
        _os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def private_opener(path: str, flags: int) -> int:
    """An `opener` for open() that creates the file for its owner only (read, write, run)."""
    return _os.open(path, flags, 0o700)


def join(folder: str, name: str) -> str:
    return folder + name if folder.endswith(("/", "\\")) else folder + SEP + name


def split(path: str) -> tuple[str, str]:
    """(folder, name), as os.path.split for the plain paths the action handles."""
    cut = max(path.rfind("/"), path.rfind("\\") if not POSIX else -1)
    if cut < 0:
        return "", path
    return path[:cut] or path[:1], path[cut + 1 :]


def basename(path: str) -> str:
    return split(path)[1]
