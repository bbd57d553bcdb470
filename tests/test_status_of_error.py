"""status_of_error over every exception class of requests/urllib3, httpx/httpx2 and aiohttp: real
timeouts are "timeout", failed connections (refused, unknown host, reset) and everything else
"error" (urllib3's NewConnectionError inherits from its ConnectTimeoutError, and is no timeout).
Then the real thing: each library refused by a closed port, and timed out by a silent one."""
from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from collections.abc import Iterator
from types import ModuleType

import aiohttp
import httpx
import httpx2
import pytest
import requests
import requests.exceptions
import urllib3
import urllib3.exceptions
from prometheus_client import CollectorRegistry

from holystack.instrument import Instrument, status_of_error

from .test_transport import P, metric, without_fallbacks

# Per library: its exception module, its base class, the classes that are real timeouts.
TIMEOUTS = {
    "urllib3": (urllib3.exceptions, urllib3.exceptions.HTTPError,
                {"ConnectTimeoutError", "ReadTimeoutError", "TimeoutError"}),
    "requests": (requests.exceptions, requests.exceptions.RequestException, {"ConnectTimeout", "ReadTimeout", "Timeout"}),
    "httpx": (httpx, httpx.HTTPError, {"ConnectTimeout", "PoolTimeout", "ReadTimeout", "TimeoutException", "WriteTimeout"}),
    "httpx2": (httpx2, httpx2.HTTPError, {"ConnectTimeout", "PoolTimeout", "ReadTimeout", "TimeoutException",
                                          "WriteTimeout"}),
    "aiohttp": (aiohttp, aiohttp.ClientError, {"ConnectionTimeoutError", "ServerTimeoutError", "SocketTimeoutError"}),
}


def exception_classes(module: ModuleType, base: type) -> list[type]:
    return sorted({cls for cls in vars(module).values() if inspect.isclass(cls) and issubclass(cls, base)},
                  key=lambda cls: cls.__name__)


TABLE = [(library, cls) for library, (module, base, _) in TIMEOUTS.items() for cls in exception_classes(module, base)]


@pytest.mark.parametrize(("library", "cls"), TABLE, ids=[f"{lib}.{cls.__name__}" for lib, cls in TABLE])
def test_every_exception_class(library: str, cls: type) -> None:
    error = cls.__new__(cls)  # the class decides; no constructor arguments needed
    expected = "timeout" if cls.__name__ in TIMEOUTS[library][2] else "error"
    assert status_of_error(error) == expected


def test_the_table_covers_the_classes_the_issue_names() -> None:
    names = {f"{library}.{cls.__name__}" for library, cls in TABLE}
    assert {"urllib3.NewConnectionError", "urllib3.NameResolutionError", "requests.ConnectionError",
            "aiohttp.ClientConnectorError", "httpx.ConnectError", "httpx2.ConnectError"} <= names
    for library, (_, _, timeouts) in TIMEOUTS.items():  # every timeout named exists in its library
        assert timeouts <= {cls.__name__ for lib, cls in TABLE if lib == library}, library


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def tracked(call) -> str:  # type: ignore[no-untyped-def]
    """The status track() records for a call that raises."""
    instrument = Instrument.from_spec(without_fallbacks(), registry=CollectorRegistry(), initialize=False)
    with pytest.raises(Exception), instrument.track(provider=P, endpoint="/chat/completions", model="m"):
        call()
    return next(status for status in ("timeout", "error")
                if metric(instrument, "requests_total", status_code=status) == 1)


def _aiohttp(url: str) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session:
            async with session.get(url) as response:
                await response.read()

    asyncio.run(main())


CLIENTS = {
    "requests": lambda url: requests.get(url, timeout=0.3),
    "urllib3": lambda url: urllib3.PoolManager(retries=False).request("GET", url, timeout=0.3),
    "httpx": lambda url: httpx.get(url, timeout=0.3),
    "httpx2": lambda url: httpx2.get(url, timeout=0.3),
    "aiohttp": _aiohttp,
}


@pytest.mark.parametrize("library", list(CLIENTS))
def test_a_refused_connection_is_error(library: str, closed_port: int) -> None:
    assert tracked(lambda: CLIENTS[library](f"http://127.0.0.1:{closed_port}/")) == "error"


@pytest.mark.parametrize("library", list(CLIENTS))
def test_a_silent_upstream_is_timeout(library: str, silent_port: int) -> None:
    assert tracked(lambda: CLIENTS[library](f"http://127.0.0.1:{silent_port}/")) == "timeout"


def test_an_unknown_host_is_error() -> None:
    """urllib3's NameResolutionError, through requests (.invalid never resolves)."""
    assert tracked(lambda: requests.get("http://holystack.invalid/", timeout=5)) == "error"
