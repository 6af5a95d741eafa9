"""A real ASGI server in a thread of the test process, for browsers and socket clients.

Uvicorn serves the same ASGI application as Daphne does in `make run`; living in the
test process, it shares the test database and the in-memory channel layer.
"""

import asyncio
import socket
import threading

import uvicorn


class _Server(uvicorn.Server):
    def __init__(self, config):
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        self.loop = asyncio.get_running_loop()
        self.ready.set()

    def install_signal_handlers(self):  # the test runner owns signals
        pass


class LiveServer:
    def __init__(self, application):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            application, log_level="warning", lifespan="off", ws="websockets-sansio"
        )
        self.server = _Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        self.thread.start()
        if not self.server.ready.wait(timeout=30):
            raise RuntimeError("The test server did not start.")
        return self

    def run_in_loop(self, coroutine):
        """Schedule a coroutine on the server's event loop (where the worker lives)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.server.loop)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
