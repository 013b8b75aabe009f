"""An SSE-only app (sse-starlette on uvicorn), for doctor tests.

/events streams "tick N" every 200 ms. There is no WebSocket route: uvicorn answers an upgrade
with 403. Listens on 127.0.0.1 on a free port and prints the port on its first line.
"""
import asyncio
import socket

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.routing import Route


async def events(request):
    async def ticks():
        n = 0
        while True:
            n += 1
            yield {"data": f"tick {n}"}
            await asyncio.sleep(0.2)

    return EventSourceResponse(ticks())


app = Starlette(routes=[Route("/events", events)])

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
