"""`python -m bench.fakeapi --latency 2`: the test suite's fake OpenAI server in a process
of its own, counting the requests it holds open.

It prints its port on the first line of stdout, then answers commands on stdin, one a
line: `stats` prints {"peak", "open", "answered", "busy"} as JSON (busy: request-seconds
held open), `reset` starts a new count; end of input stops it.
"""

import argparse
import json
import sys
import threading
import time

from tests.fakes.openai_server import FakeOpenAI


class CountingFakeOpenAI(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.open = self.peak = self.answered = 0
        self.busy = 0.0  # request-seconds: summed over requests, how long each was open
        self._count_lock = threading.Lock()

    async def _answer(self, request, recorded, kind):
        with self._count_lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
        started = time.monotonic()
        try:
            return await super()._answer(request, recorded, kind)
        finally:
            with self._count_lock:
                self.open -= 1
                self.answered += 1
                self.busy += time.monotonic() - started

    def _record(self, recorded) -> None:
        """Keep no request bodies: a long benchmark would hold them all in memory."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=2.0)
    options = parser.parse_args()
    server = CountingFakeOpenAI().start()
    server.latency = options.latency
    print(server.port, flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            with server._count_lock:
                stats = {
                    "peak": server.peak,
                    "open": server.open,
                    "answered": server.answered,
                    "busy": server.busy,
                }
            print(json.dumps(stats), flush=True)
        elif command == "reset":
            with server._count_lock:
                server.peak, server.busy = server.open, 0.0
            print("{}", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
