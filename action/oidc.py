"""The job's GitHub Actions OIDC token, when the workflow grants `id-token: write`."""

from __future__ import annotations

from action import transport

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class TokenError(Exception):
    """The token endpoint is configured but gave no token."""


def quote(text: str) -> str:
    """Percent-encode `text` for a query value (urllib.parse.quote with safe="")."""
    return "".join(
        chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8")
    )


def fetch_token(environ: Mapping[str, str], audience: str, deadline: transport.Deadline) -> str:
    """GET `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`, answered with `{"value": "<jwt>"}`."""
    url = environ["ACTIONS_ID_TOKEN_REQUEST_URL"]
    if audience:
        url += ("&" if "?" in url else "?") + "audience=" + quote(audience)
    headers = {
        "Authorization": "bearer " + environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        "Accept": "application/json",
    }
    try:
        answer = transport.request("GET", url, deadline=deadline, headers=headers, environ=environ)
    except transport.SendError as exc:
        raise TokenError(f"OIDC token request failed: {exc}") from None
    except ValueError as exc:
        raise TokenError(f"OIDC token request failed: {exc}") from None
    payload = answer.json()
    token = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenError("OIDC token endpoint answered without a token")
    return token
