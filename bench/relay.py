"""The physical baseline: the thinnest server that does what the studio's live path does.

`python -m bench.relay --port P [--redis URL]` serves WebSocket clients at /ws and passes
on, unchanged, every message it gets: from `POST /push` (an HTTP request turned into a
push) and, with --redis, from the Redis pub/sub channel `bench.raw`. No Django, no
database, no templates: the studio's figures are measured against this.
"""

import argparse
import asyncio

from aiohttp import WSMsgType, web

CHANNEL = "bench.raw"


def build(redis_url: str | None) -> web.Application:
    clients: set[web.WebSocketResponse] = set()

    async def broadcast(text: str) -> None:
        for ws in list(clients):
            try:
                await ws.send_str(text)
            except ConnectionError:
                clients.discard(ws)

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        clients.add(ws)
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            clients.discard(ws)
        return ws

    async def push(request: web.Request) -> web.Response:
        await broadcast(await request.text())
        return web.Response(text="ok")

    async def subscribe(app: web.Application):
        if not redis_url:
            yield
            return
        import redis.asyncio as redis

        connection = redis.Redis.from_url(redis_url)
        pubsub = connection.pubsub()
        await pubsub.subscribe(CHANNEL)

        async def relay():
            async for message in pubsub.listen():
                if message["type"] == "message":
                    await broadcast(message["data"].decode())

        task = asyncio.create_task(relay())
        yield
        task.cancel()
        await pubsub.aclose()
        await connection.aclose()

    app = web.Application()
    app.router.add_get("/ws", websocket)
    app.router.add_post("/push", push)
    app.cleanup_ctx.append(subscribe)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default=None)
    options = parser.parse_args()
    web.run_app(
        build(options.redis),
        host="127.0.0.1",
        port=options.port,
        access_log=None,
        print=None,
        backlog=1024,
    )


if __name__ == "__main__":
    main()
