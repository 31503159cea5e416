"""``cxplay serve --workers N`` on Linux: a listening socket per worker, spread by the kernel.

uvicorn's supervisor binds one socket and every worker accepts on it. Whichever worker is
awake when connections arrive accepts all that are pending (libuv accepts until the queue is
empty), so a client that opens its keep-alive connections together -- a proxy's pool, a
load generator -- often finds them all on one worker: of 16 connections opened in a row,
16/0 in three of five tries (docs/performance.md, s-svc2 and s-svc3), and the other worker
idles. Here the parent binds the address with ``SO_REUSEPORT`` and does not listen on it (it
holds the port); each worker opens its own socket on the same address with ``SO_REUSEPORT``
and listens, and the kernel hands each new connection to one of the listening sockets by a
hash of its addresses. uvicorn's supervisor (restarts, signals, health checks) is unchanged:
the socket it passes to a worker pickles as the address to listen on, not as a descriptor.

The price, as for any ``SO_REUSEPORT`` server: a worker that stops drops the connections
still waiting in its own accept queue (not those it has accepted). Elsewhere (no
``SO_REUSEPORT``, or one that does not spread connections, as on macOS) and with one worker,
nothing changes.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

__all__ = ["ListenPerWorker", "balanced", "listener", "run_workers"]

#: uvicorn's exit status for a server that could not start (the CLI maps it to "cannot listen").
STARTUP_FAILURE = 3

log = logging.getLogger("uvicorn.error")  # where uvicorn says where it listens


def balanced() -> bool:
    """Whether this system spreads connections over ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listener(family: int, address: Any) -> socket.socket:
    """A new socket on ``address`` with ``SO_REUSEPORT``, bound and not yet listening.

    A worker's server listens on it (``loop.create_server(sock=...)``, uvicorn's backlog).
    """
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


class ListenPerWorker(socket.socket):
    """The parent's socket: holds the address; each worker gets a socket of its own on it."""

    @classmethod
    def hold(cls, host: str, port: int) -> ListenPerWorker:
        """The parent's socket on ``host:port``, as uvicorn binds it (a port of 0: any)."""
        family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
        shared = listener(family, (host, port))
        try:
            return cls(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, shared.detach())
        except BaseException:
            shared.close()
            raise

    def __reduce__(self) -> tuple[Any, tuple[int, Any]]:
        # what a worker receives from the supervisor, which pickles the sockets it passes:
        # the address, to listen on with a socket of its own
        return listener, (int(self.family), self.getsockname())


def run_workers(config: uvicorn.Config) -> None:
    """Run uvicorn's supervisor over ``config.workers`` workers, each on its own socket.

    What ``uvicorn.run`` does for ``workers > 1``, with :class:`ListenPerWorker` as the socket.
    """
    from uvicorn.supervisors import Multiprocess

    try:
        held = ListenPerWorker.hold(config.host, config.port)
    except OSError as exc:  # as uvicorn's own bind: logged, and "startup failed"
        log.error(exc)
        raise SystemExit(STARTUP_FAILURE) from None
    try:
        shown = f"[{config.host}]" if ":" in config.host else config.host
        port = held.getsockname()[1]
        log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port)
        Multiprocess(config, sockets=[held]).run()
    except KeyboardInterrupt:  # as uvicorn.run
        pass
    finally:
        held.close()
