"""An SSE app on sse-starlette and uvicorn, for the sidecar's SSE decoder tests.

GET /events sends events 1..10 (id = n), 60 ms apart, the first with retry: 2500, and
sse-starlette's keep-alive comments every 25 ms. With Last-Event-ID: k it resumes at k + 1.
Listens on 127.0.0.1 on a free port and prints the port on its first line.
"""
import asyncio
import socket

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.routing import Route


async def events(request):
    start = int(request.headers.get("last-event-id", "0")) + 1

    async def stream():
        for n in range(start, 11):
            event = {"id": str(n), "data": f"event {n}"}
            if n == start:
                event["retry"] = 2500
            yield event
            await asyncio.sleep(0.06)

    return EventSourceResponse(stream(), ping=0.025)


app = Starlette(routes=[Route("/events", events)])

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
