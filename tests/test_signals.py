"""Ctrl-C stops the long-running commands even when the kernel hands the signal to another thread
than the main one (holystack/live/signals.py): the main thread waits in slices, so that CPython runs
the handler. An untimed Event.wait, what `up` did, does not wake for it (shown too, so the test
can fail)."""
from __future__ import annotations

import subprocess
import sys

# A process like `up`: the stop handlers installed, then a server thread takes the SIGINT.
SCRIPT = """
import signal, sys, threading
from holystack.live.signals import stop_on_signals, wait_for_stop
stop = stop_on_signals()
threading.Timer(0.3, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT)).start()
if sys.argv[1] == "sliced":
    wait_for_stop(stop)
else:
    stop.wait()
print("stopped")
"""
# Far above the slice (0.2 s) on any machine; the untimed wait never ends by itself.
BOUND_SECONDS = 30.0
HANG_SECONDS = 5.0


def test_a_signal_on_another_thread_stops_the_sliced_wait() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, "sliced"], capture_output=True, text=True,
                          timeout=BOUND_SECONDS)
    assert done.returncode == 0 and done.stdout.strip() == "stopped", done


def test_a_signal_on_another_thread_does_not_wake_an_untimed_wait() -> None:
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, "untimed"], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = process.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        out = None
    finally:
        process.kill()
        process.wait()
    assert out is None, out  # still waiting: the reason wait_for_stop exists
