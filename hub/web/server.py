"""The workbench served by uvicorn on a thread, for the tour, the benchmark and tests."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def forwarding(trusted: list[str] | tuple[str, ...] = ()) -> dict[str, object]:
    """uvicorn's options for forwarded headers: believed only from the ``trusted`` proxy addresses the
    operator lists (uvicorn's own default believes 127.0.0.1, so any client of a same-host proxy
    could pick its address)."""
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": ",".join(trusted) if trusted else ""}


class BackgroundServer:
    """``uvicorn`` serving ``app`` on 127.0.0.1 in a daemon thread.

    Args:
        app: the ASGI application.
        port: default a free port.
        trusted_proxies: addresses whose forwarded headers are believed (default none).
    """

    def __init__(self, app, port: int | None = None, trusted_proxies: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off", **forwarding(trusted_proxies)))
        self._thread = threading.Thread(target=self._server.run, name="workbench", daemon=True)

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        """Start and wait until it accepts connections.

        Raises:
            RuntimeError: it did not come up in time.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.started:
                return self
            time.sleep(0.02)
        raise RuntimeError(f"the workbench did not start on port {self.port}")

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(10)
