"""A WebSocket echo service written with Python's `websockets` (not by this project), for
`socketlens lab --target` tests. `--heartbeat SECONDS` turns on the library's own keepalive
(ping_interval and ping_timeout); without it the server never pings. Prints its port, then serves
until killed."""
import argparse
import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--heartbeat", type=float, default=None)
    args = p.parse_args()
    async with serve(
        echo,
        "127.0.0.1",
        0,
        ping_interval=args.heartbeat,
        ping_timeout=args.heartbeat,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
