"""ws_echo.py — an echo server from a WebSocket library nobody here wrote (Debian python3-websockets 10.4), as an external target for `linkbench run --target`.

  /usr/bin/python3 ws_echo.py [--listen HOST:PORT] [--corrupt-every N] [--drop-every N]

Listens (default 127.0.0.1:0, any port), prints HOST:PORT on its first line, echoes every
message back on its connection until SIGTERM or SIGINT. --corrupt-every N flips one byte
near the end of every Nth message (counted per server); --drop-every N never answers every
Nth: a misbehaving server, to show that the driver counts what it gets wrong.
"""
import argparse
import asyncio
import signal
import sys

import websockets.server


async def main(args):
    host, _, port = args.listen.rpartition(":")
    n = 0

    async def echo(ws, path=None):
        nonlocal n
        try:
            async for msg in ws:
                n += 1
                if args.drop_every and n % args.drop_every == 0:
                    continue
                if args.corrupt_every and n % args.corrupt_every == 0:
                    b = bytearray(msg if isinstance(msg, bytes) else msg.encode())
                    b[-1] ^= 0xFF
                    msg = bytes(b)
                await ws.send(msg)
        except websockets.exceptions.ConnectionClosed:
            pass

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.server.serve(echo, host or "127.0.0.1", int(port), max_size=1 << 22,
                                       compression=None, ping_interval=None) as srv:
        h, p = srv.sockets[0].getsockname()[:2]
        print(f"{h}:{p}", flush=True)
        await stop
    print(f"messages {n}", file=sys.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--corrupt-every", type=int, default=0)
    ap.add_argument("--drop-every", type=int, default=0)
    asyncio.run(main(ap.parse_args()))
