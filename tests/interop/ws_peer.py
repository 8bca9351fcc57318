"""ws_peer.py — a WebSocket peer nobody here wrote (Debian python3-websockets 10.4), for test_interop.

  ws_peer.py client PORT   connect to ws://127.0.0.1:PORT/interop: text echo, 100 KB binary
                           echo, ping (awaits the pong), close 1000
  ws_peer.py server        echo server on 127.0.0.1, port 0; prints the port, serves one
                           connection, exits when the client has closed it
Exit status 0 when every step held; 1 with a message on stderr otherwise.
"""
import asyncio
import os
import sys

import websockets.client
import websockets.server


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def run_client(port):
    # The default offer of permessage-deflate stays: the server must decline it by silence.
    async with websockets.client.connect(f"ws://127.0.0.1:{port}/interop", max_size=1 << 21,
                                         open_timeout=10, close_timeout=5) as ws:
        await ws.send("hello, vsock")
        got = await asyncio.wait_for(ws.recv(), 10)
        check(got == "hello, vsock", f"text echo: got {got!r}")
        blob = os.urandom(100 * 1024)
        await ws.send(blob)
        got = await asyncio.wait_for(ws.recv(), 10)
        check(isinstance(got, bytes) and got == blob, "binary echo differs")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close(code=1000, reason="done")
        check(ws.close_code == 1000, f"close code {ws.close_code}")


async def run_server():
    done = asyncio.get_running_loop().create_future()

    async def echo(ws, path=None):
        try:
            async for msg in ws:
                await ws.send(msg)
        finally:
            if not done.done():
                done.set_result(ws.close_code)

    async with websockets.server.serve(echo, "127.0.0.1", 0, max_size=1 << 21) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        code = await asyncio.wait_for(done, 20)
        check(code == 1000, f"client closed with {code}")


def main():
    try:
        if len(sys.argv) == 3 and sys.argv[1] == "client":
            asyncio.run(run_client(int(sys.argv[2])))
        elif len(sys.argv) == 2 and sys.argv[1] == "server":
            asyncio.run(run_server())
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Exception as e:  # report any failure as the test's message
        print(f"ws_peer: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
