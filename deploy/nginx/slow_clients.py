"""Measure how a server treats slow clients: open N connections that each send half a
request (the headers never end), wait, and count how many the server still holds open.

    python deploy/nginx/slow_clients.py 127.0.0.1 8000 1000 25

Loopback only, bounded: N sockets, one wait, then every socket is closed and it exits.
"""

from __future__ import annotations

import argparse
import socket
import time

HALF_A_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: newsagg\r\nX-Slow: "


def still_held(sock: socket.socket) -> bool:
    """True if the server has neither answered nor closed the connection."""
    sock.setblocking(False)
    try:
        sock.recv(4096)  # an answer (408) or b"" (closed): either way, let go
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("host", choices=["127.0.0.1", "localhost", "::1"])
    parser.add_argument("port", type=int)
    parser.add_argument("connections", type=int, help="at most 5000")
    parser.add_argument("seconds", type=float, help="how long to wait, at most 300")
    args = parser.parse_args()
    count, wait = min(args.connections, 5000), min(args.seconds, 300.0)
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection((args.host, args.port), timeout=5)
            sock.sendall(HALF_A_REQUEST)
            socks.append(sock)
        print(f"opened {len(socks)} connections with half a request each", flush=True)
        time.sleep(wait)
        held = sum(still_held(sock) for sock in socks)
        print(f"after {wait:g} s the server still holds {held} of {len(socks)} open")
    finally:
        for sock in socks:
            sock.close()


if __name__ == "__main__":
    main()
