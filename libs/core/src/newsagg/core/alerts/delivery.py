"""What a webhook delivery must hold to: where it may go, and how its body is signed.

Shared by the API (a saved search's webhook URL is checked when it is saved) and the
alerts worker (checked again when it is sent, on the address actually connected to: a
DNS answer that changed since, to a private address, is refused then too).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOW_PRIVATE_SETTING = "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS"
SIGNATURE_HEADER = "X-Newsagg-Signature"
DELIVERY_HEADER = "X-Newsagg-Delivery"
EVENT_HEADER = "X-Newsagg-Event"
USER_AGENT = "newsagg-alerts/0.1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(ValueError):
    """The webhook URL may not be called: not http(s), or its host is not public."""


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL with the address to connect to, checked."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    """The resolved address that passed the check: the one to connect to."""


def signature(secret: str, body: bytes) -> str:
    """The X-Newsagg-Signature value: `sha256=` and the hex HMAC-SHA256 of the exact body
    bytes under the search's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, reserved, multicast and unspecified."""
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def resolve_webhook(url: str, *, allow_private: bool) -> WebhookTarget:
    """The URL's host resolved now; WebhookRefused if it is not http(s) with a host and no
    credentials, does not resolve, or (unless allow_private) any address it resolves to is
    not public: one private answer among public ones is refused, since a later connection
    may pick it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused("has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"its host {parts.hostname!r} does not resolve") from exc
    addresses = [_address(str(info[4][0])) for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise WebhookRefused(
                    f"its host resolves to {address}, a loopback, private or otherwise "
                    f"non-public address ({ALLOW_PRIVATE_SETTING}=true allows those)"
                )
    return WebhookTarget(url, parts.scheme, parts.hostname, port, str(addresses[0]))
