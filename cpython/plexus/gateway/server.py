"""Run a gateway in the foreground until SIGINT or SIGTERM."""

import asyncio
import gc
import logging
import signal
import sys

from aiohttp import web

from plexus.gateway.app import make_app
from plexus.gateway.profile import DEFAULT
from plexus.gateway.storage import StoreUnavailable, redact_url


def tls_context(cert, key):
    """A server context for --tls-cert/--tls-key (PEM files)."""
    import ssl
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


# Each telemetry frame allocates a few dozen short-lived containers; at the
# default threshold (700) the cyclic collector runs every few dozen frames and
# now and then walks every object of every connection. Nearly all of those
# objects die by reference counting, so collections can be rarer: the
# collector still runs, memory stays bounded.
GC_THRESHOLD = (20000, 50, 100)
# The store's threads (SQLite's readers, and the pipe to its writer process)
# share the interpreter lock with the event loop. While the loop is busy (a
# fleet at capacity) each waits up to the switch interval for the lock at
# every turn; at the default 5 ms a writer thread's commits fell behind the
# frames the loop took in. 1 ms keeps them close.
SWITCH_INTERVAL_S = 0.001


def _event_loop_runner():
    """uvloop's run() when it is installed (the gateway extra, except on
    Windows): its event loop costs about a fifth less CPU per device frame
    than asyncio's own (docs/benchmarks.md). asyncio.run otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def _tune_interpreter():
    gc.freeze()  # what exists at start (modules, the app) is never garbage: not walked again
    gc.set_threshold(*GC_THRESHOLD)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


async def serve(host, port, db_path, rate_limits=None, ready=None, ssl_context=None, profile=DEFAULT,
                max_queued_points=None, reuse_port=False):
    app = make_app(db_path, rate_limits, profile, max_queued_points)
    # auto_decompress off: /ingest unpacks gzip itself, with the 5 MiB limit on the result
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_port=reuse_port or None)
    await site.start()
    _tune_interpreter()
    bound = site._server.sockets[0].getsockname()[1]
    url = "%s://%s:%d" % ("https" if ssl_context else "http", host, bound)
    print("listening on %s (database %s, profile %s)" % (url, redact_url(db_path), profile.name), file=sys.stderr,
          flush=True)
    print("queue depth, lag and counters: %s/metrics" % url, file=sys.stderr, flush=True)
    if ready is not None:
        ready(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        print("shutting down: closing device connections%s" % (" (1001 going away)" if profile.goodbye else ""),
              file=sys.stderr, flush=True)
        await runner.cleanup()


def run(host, port, db_path, rate_limits=None, ssl_context=None, profile=DEFAULT, max_queued_points=None,
        reuse_port=False):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        _event_loop_runner()(serve(host, port, db_path, rate_limits, ssl_context=ssl_context, profile=profile,
                                   max_queued_points=max_queued_points, reuse_port=reuse_port))
    except StoreUnavailable as e:  # PostgreSQL unreachable at start (the message names the URL, no password)
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0
