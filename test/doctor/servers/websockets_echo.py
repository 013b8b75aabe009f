"""An echo server built with the Python `websockets` library, for doctor tests.

Listens on 127.0.0.1 on a free port and prints the port on its first line. Like any
`websockets` server it answers a plain GET (no Upgrade) with 426 Upgrade Required.
"""
import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
