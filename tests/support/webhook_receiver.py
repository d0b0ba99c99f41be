"""A real webhook receiver on 127.0.0.1 that checks every delivery's signature, and a real
SMTP server (aiosmtpd) that keeps every message: what the alerts tests deliver to.

The receiver computes the HMAC itself (not with newsagg's code), so a signature made
over other bytes than were sent, or under another key, is caught.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

from support.servers import free_port


@dataclass
class Received:
    """One POST as it arrived: its headers, exact body and whether the signature held."""

    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers["x-newsagg-delivery"]


@dataclass
class WebhookReceiver:
    """Answers `status` (200 unless told otherwise) to POSTs, keeping each with its check."""

    secrets: dict[str, str] = field(default_factory=dict)
    """Per saved search id (the body's `id`), the secret its signature must be made with."""
    status: int = 200
    location: str | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted(self) -> list[Received]:
        """The deliveries answered 2xx to (the ones that count as delivered)."""
        with self.lock:
            return [r for r in self.received if r.headers.get("x-answered", "").startswith("2")]

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        try:
            search_id = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError):
            return False
        secret = self.secrets.get(search_id)
        if secret is None:
            return False
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("x-newsagg-signature", ""))


@contextmanager
def webhook_receiver(receiver: WebhookReceiver | None = None) -> Iterator[WebhookReceiver]:
    receiver = receiver or WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                status, location = receiver.status, receiver.location
                headers["x-answered"] = str(status)
                receiver.received.append(
                    Received(self.path, headers, body, receiver.verify(headers, body))
                )
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: object, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def smtp_server(
    login: tuple[str, str] | None = None,
) -> Iterator[tuple[int, list[tuple[list[str], EmailMessage]]]]:
    """An aiosmtpd server on 127.0.0.1: its port and the messages it took (recipients, mail).

    With `login` (user, password) it requires AUTH with exactly those (over plain TCP:
    loopback only) and refuses mail before it."""
    mailbox = _Mailbox()
    port = free_port()  # aiosmtpd's readiness check connects to the port it was given
    options: dict[str, object] = {}
    if login is not None:

        def authenticate(
            server: object, session: object, envelope: object, mechanism: str, auth: object
        ) -> AuthResult:
            given = (auth.login.decode(), auth.password.decode())  # type: ignore[attr-defined]
            return AuthResult(success=given == login)

        options = {
            "authenticator": authenticate,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, mailbox.messages
    finally:
        controller.stop()
