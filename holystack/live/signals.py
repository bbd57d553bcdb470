"""Ctrl-C and SIGTERM for the long-running commands (simulate, upstream, up): an event that stops them.

The kernel hands a signal sent to the process to any of its threads. CPython runs the Python handler
only on the main thread, between bytecodes; when the signal lands on another thread (a server's, a
client's) the main thread is not woken from a wait without a timeout, and the handler, so the stop,
waits until it is. wait_for_stop therefore waits in short slices."""
from __future__ import annotations

import signal
import threading

# How often the main thread wakes to run a pending signal handler: the longest Ctrl-C may wait.
WAKE_SECONDS = 0.2


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so that every server is stopped before exit."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def wait_for_stop(stop: threading.Event) -> None:
    """Block until stop is set, waking every WAKE_SECONDS so that the signal handlers run (see above)."""
    while not stop.wait(WAKE_SECONDS):
        pass
