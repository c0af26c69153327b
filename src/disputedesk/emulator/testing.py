"""Running the emulator in-process for tests: a real uvicorn server on 127.0.0.1, port 0.

    with running_emulator(seed=1) as server:
        client = server.stripe_client()          # needs the ``stripe`` package
        client.v1.refunds.create(params={...})
        server.emulator.advance(10)

Other test suites reuse :func:`running_emulator`; it lives here (not in a conftest) for that.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Iterator

import uvicorn

from .app import create_app
from .emulator import Emulator


class EmulatorServer:
    """An emulator served by uvicorn in a background thread."""

    def __init__(self, emulator: Emulator | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.emulator = emulator or Emulator()
        self.app = create_app(self.emulator)
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on such sockets, and
        # without it every response waits ~40 ms for Nagle + delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        # File.url of files made outside a request (seed data) points at this server
        self.emulator.settings["files_base_url"] = self.base_url
        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "EmulatorServer":
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]},
                                        name=f"emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()
        self.emulator.stop()

    def stripe_client(self, api_key: str = "sk_test_emulator", **kwargs: Any) -> Any:
        """A ``stripe.StripeClient`` whose api and files addresses point here."""
        return stripe_client(self.base_url, api_key, **kwargs)

    def advance(self, seconds: float) -> None:
        self.emulator.advance(seconds)


def stripe_client(base_url: str, api_key: str = "sk_test_emulator", *,
                  max_network_retries: int = 0, stripe_account: str | None = None,
                  **kwargs: Any) -> Any:
    import stripe  # only tests and tools need the SDK; the emulator itself does not

    options: dict[str, Any] = {"base_addresses": {"api": base_url, "files": base_url},
                               "max_network_retries": max_network_retries}
    if stripe_account is not None:
        options["stripe_account"] = stripe_account
    options.update(kwargs)
    return stripe.StripeClient(api_key, **options)


@contextlib.contextmanager
def running_emulator(emulator: Emulator | None = None, **emulator_kwargs: Any
                     ) -> Iterator[EmulatorServer]:
    """Serve an emulator on a free port for the duration of the block."""
    if emulator is None:
        emulator = Emulator(**emulator_kwargs)
    server = EmulatorServer(emulator).start()
    try:
        yield server
    finally:
        server.stop()
