"""Run the message board: ``python -m examples.messageboard [--framework tornado|aiohttp] [--port N]``.

Tornado is the default framework. Without ``MONGODB_URI``, a throwaway SecantusDB server is started
for the board (its messages last as long as the process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Iterator

FRAMEWORKS = ("tornado", "aiohttp")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.messageboard",
        description="A message board with attachments and live updates, on Motor. Stores its "
        "messages in MONGODB_URI if set, else in a SecantusDB server it starts and stops.",
    )
    parser.add_argument(
        "--framework", choices=FRAMEWORKS, default="tornado", help="the web framework (default: tornado)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8888, help="the port to listen on; 0 picks a free one (default: 8888)"
    )
    parser.add_argument("--database", default="messageboard", help="the database (default: messageboard)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def mongodb_uri() -> Iterator[str]:
    """``MONGODB_URI``, or the URI of a SecantusDB server started until the block ends."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    from motor.testing import SecantusServer

    with SecantusServer() as server:
        print(f"Started SecantusDB at {server.uri} (in memory: messages go when the board stops)", flush=True)
        yield server.uri


async def serve(args: argparse.Namespace, uri: str) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises instead.
            loop.add_signal_handler(signum, stopping.set)
    glue = importlib.import_module(f"{__package__}.{args.framework}_app")
    async with glue.Client(uri) as client:
        app = await glue.start(client[args.database], host=args.host, port=args.port)
        print(f"Message board ({args.framework}) at {app.url}  (Ctrl-C to stop)", flush=True)
        try:
            await stopping.wait()
        finally:
            print("Stopping the message board", flush=True)
            await app.stop()


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Until the event loop takes over SIGTERM: exit through the with blocks, stopping SecantusDB.
    signal.signal(signal.SIGTERM, _exit)
    with mongodb_uri() as uri, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args, uri))
    return 0


if __name__ == "__main__":
    sys.exit(main())
