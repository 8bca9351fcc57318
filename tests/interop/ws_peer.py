"""ws_peer.py — a WebSocket peer nobody here wrote (Debian python3-websockets 10.4), for test_interop.

  ws_peer.py client PORT [OFFER EXPECT]
                           connect to ws://127.0.0.1:PORT/interop: text echo, 100 KB binary
                           echo, ping (awaits the pong), close 1000. OFFER: default (the
                           library's permessage-deflate offer, the default), none (no offer),
                           nct (permessage-deflate asking no context takeover both ways);
                           EXPECT: any (default), on (the server must accept it: then 20
                           compressible 4 KB messages are echoed too), off (it must not)
  ws_peer.py server [plain] echo server on 127.0.0.1, port 0 (with the library's
                           permessage-deflate unless plain); prints the port, serves one
                           connection, exits when the client has closed it
Exit status 0 when every step held; 1 with a message on stderr otherwise.
"""
import asyncio
import os
import sys

import websockets.client
import websockets.server
from websockets.extensions import permessage_deflate


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def offer(kind):
    if kind == "none":
        return {"compression": None}
    if kind == "nct":
        f = permessage_deflate.ClientPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True)
        return {"compression": None, "extensions": [f]}
    return {}   # the library's default offer: "permessage-deflate; client_max_window_bits"


async def run_client(port, kind="default", expect="any"):
    # With the default offer against a server without compression, the server must decline
    # it by silence.
    async with websockets.client.connect(f"ws://127.0.0.1:{port}/interop", max_size=1 << 21,
                                         open_timeout=10, close_timeout=5, **offer(kind)) as ws:
        on = any(e.name == "permessage-deflate" for e in ws.extensions)
        check(expect == "any" or on == (expect == "on"),
              f"permessage-deflate agreed: {on}, expected {expect}")
        if on and kind == "nct":
            pmd = ws.extensions[0]
            check(pmd.local_no_context_takeover and pmd.remote_no_context_takeover,
                  "no context takeover both ways")
        await ws.send("hello, vsock")
        got = await asyncio.wait_for(ws.recv(), 10)
        check(got == "hello, vsock", f"text echo: got {got!r}")
        blob = os.urandom(100 * 1024)
        await ws.send(blob)
        got = await asyncio.wait_for(ws.recv(), 10)
        check(isinstance(got, bytes) and got == blob, "binary echo differs")
        if expect == "on":
            # compressible and alike: with context takeover each refers to the last
            for i in range(20):
                doc = (f'{{"seq": {i}, "user": "u{i % 3}", "items": [' +
                       ",".join(f'{{"id": {j}, "name": "item-{j}", "ok": true}}'
                                for j in range(90)) + "]}").encode()[:4096]
                await ws.send(doc)
                got = await asyncio.wait_for(ws.recv(), 10)
                check(got == doc, f"compressible echo {i} differs")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close(code=1000, reason="done")
        check(ws.close_code == 1000, f"close code {ws.close_code}")


async def run_server(plain=False):
    done = asyncio.get_running_loop().create_future()

    async def echo(ws, path=None):
        try:
            async for msg in ws:
                await ws.send(msg)
        finally:
            if not done.done():
                done.set_result(ws.close_code)

    async with websockets.server.serve(echo, "127.0.0.1", 0, max_size=1 << 21,
                                       compression=None if plain else "deflate") as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        code = await asyncio.wait_for(done, 20)
        check(code == 1000, f"client closed with {code}")


def main():
    try:
        if len(sys.argv) in (3, 5) and sys.argv[1] == "client":
            asyncio.run(run_client(int(sys.argv[2]), *sys.argv[3:]))
        elif len(sys.argv) in (2, 3) and sys.argv[1] == "server":
            asyncio.run(run_server(sys.argv[2:] == ["plain"]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Exception as e:  # report any failure as the test's message
        print(f"ws_peer: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
