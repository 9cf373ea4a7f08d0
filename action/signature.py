"""SHA-256 and the HMAC-SHA256 signature of a report body (RFC 2104), without `hashlib`."""

# `hmac` and `hashlib` cost about 5 ms to import under `python3 -I -S`, most of it loading
# OpenSSL through `_hashlib` (3.8 ms alone, so `_hashlib.hmac_digest` saves nothing). The
# builtin `_sha2` (`_sha256` before Python 3.12) loads in well under 1 ms, and HMAC over it
# is the ten lines below; a test checks them against hmac.new().

from __future__ import annotations

import sys

try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256
    else:
        from _sha256 import sha256
except ImportError:  # another interpreter, or a build without the builtin hashes
    from hashlib import sha256

BLOCK_SIZE = 64  # SHA-256's block, in bytes
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def hmac_sha256(key: bytes, message: bytes) -> str:
    """The hex HMAC-SHA256 of `message` under `key`, as hmac.new(key, message, sha256)."""
    if len(key) > BLOCK_SIZE:
        key = sha256(key).digest()
    key = key.ljust(BLOCK_SIZE, b"\0")
    inner = sha256(key.translate(_INNER_PAD))
    inner.update(message)
    outer = sha256(key.translate(_OUTER_PAD))
    outer.update(inner.digest())
    return outer.hexdigest()


def sign(secret: str, body: bytes) -> str:
    """The `X-Heatmeter-Signature-256` value: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    return "sha256=" + hmac_sha256(secret.encode(), body)
