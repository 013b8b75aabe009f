"""An SSE and long-poll app on sse-starlette and uvicorn, for the fault tests on those transports.

GET /events?n=N&gap=MS&size=B sends events 1..N (id = k, data "event k" then B dots), GAP ms
apart, then ends; no keep-alive comments. GET /poll?wait=MS&size=B answers {"seq": 1, "data": ...}
after WAIT ms, unless the client went away first. Every event the app sees is a JSON line on
stdout, tagged with the request's X-Client-Id: sse-sent (k), sse-done, sse-gone (after k sent),
poll-answered, poll-gone. Listens on 127.0.0.1 on a free port and prints the port first.
"""
import asyncio
import json
import socket

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


def emit(**kw):
    print(json.dumps(kw), flush=True)


async def events(request):
    q = request.query_params
    n, gap, size = int(q.get("n", "5")), int(q.get("gap", "100")), int(q.get("size", "0"))
    client = request.headers.get("x-client-id", "")

    async def stream():
        sent = 0
        try:
            for k in range(1, n + 1):
                yield {"id": str(k), "data": f"event {k}" + "." * size}
                sent = k
                emit(ev="sse-sent", client=client, k=k)
                await asyncio.sleep(gap / 1000)
            emit(ev="sse-done", client=client, sent=sent)
        except asyncio.CancelledError:
            emit(ev="sse-gone", client=client, sent=sent)
            raise

    return EventSourceResponse(stream(), ping=3600)


async def poll(request):
    q = request.query_params
    wait, size = int(q.get("wait", "100")), int(q.get("size", "0"))
    client = request.headers.get("x-client-id", "")
    loop = asyncio.get_running_loop()
    end = loop.time() + wait / 1000
    while loop.time() < end:
        if await request.is_disconnected():
            emit(ev="poll-gone", client=client)
            return JSONResponse({})
        await asyncio.sleep(0.01)
    emit(ev="poll-answered", client=client)
    return JSONResponse({"seq": 1, "data": "." * size})


app = Starlette(routes=[Route("/events", events), Route("/poll", poll)])

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
