"""asyncio.run for test code, on a thread of its own: the browser tests'
Playwright (sync API) keeps an event loop running on the main thread for the
whole session, and asyncio.run refuses to start beside it."""

import asyncio
import threading


def run(coro):
    """Run the coroutine to completion on a new thread; its result or its exception."""
    out = {}

    def main():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as e:  # handed to the caller's thread
            out["error"] = e

    t = threading.Thread(target=main, name="test-asyncio")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
