"""Shared fixtures. Tests that need promtool or amtool fail, never skip, when they are missing."""
from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from holystack.checks.tools import GOGC

# Property tests (tests/test_property.py): "ci" is bounded and derandomized (the same examples
# every run); "hunt" is for long local runs: pytest --hypothesis-profile=hunt tests/test_property.py
# "ci" does not shrink a failure (each tool example takes seconds): it reports the example as found.
settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None, print_blob=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.register_profile("hunt", max_examples=4000, deadline=None, print_blob=True)
settings.load_profile("ci")

# The Go tools and servers the tests start (promtool above all) collect garbage at validate's
# target (holystack/checks/tools.py): about a fifth less CPU for promtool's unit tests. A GOGC
# already set wins.
os.environ.setdefault("GOGC", GOGC)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
CASES = ROOT / "tests" / "cases"
# Seconds per test id as a suite run measured them: the order the xdist workers take the tests in.
DURATIONS = ROOT / "tests" / "durations.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/cases/*/expected from the current renderers.")
    parser.addoption("--store-durations", action="store_true",
                     help=f"Merge this run's test times into {DURATIONS.relative_to(ROOT)} "
                          "(the order the xdist workers take the tests in).")


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; install the Debian package {package} (scripts/setup does)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _require("promtool", "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _require("amtool", "prometheus-alertmanager")


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text("utf-8")


@pytest.fixture(scope="session")
def servers() -> None:
    """The real Prometheus and Alertmanager servers, which the end-to-end tests start."""
    from holystack.errors import UsageError
    from holystack.live.servers import BINARIES, require_binary

    for kind in BINARIES:
        try:
            require_binary(kind)
        except UsageError as missing:
            pytest.fail(str(missing))


@pytest.fixture(scope="session")
def litellm() -> str:
    """The LiteLLM proxy's command (scripts/setup installs it into .venv-litellm: it needs openai<3,
    dev openai>=3); fails, never skips, without it."""
    from holystack.live.litellm_proxy import COMMAND_ENV, SETUP_VENV, litellm_command

    command = litellm_command()
    if command is None:
        pytest.fail(f"the LiteLLM proxy is not installed: run scripts/setup (it makes {SETUP_VENV} with "
                    f"holystack[litellm]) or set {COMMAND_ENV} to the litellm command")
    return command


@pytest.fixture(scope="session")
def otel_extra() -> None:
    """The opentelemetry extra (opentelemetry-instrumentation-openai-v2 and the Prometheus exporter,
    what the otel-genai app runs); fails, never skips, without it. A fixture, not an import at the top
    of the tests' modules: they take a second to import, and every xdist worker collects every module."""
    try:
        import opentelemetry.exporter.prometheus  # noqa: F401
        import opentelemetry.instrumentation.openai_v2  # noqa: F401
    except ImportError as missing:
        pytest.fail(f"the opentelemetry extra is not installed ({missing}): run scripts/setup")


# -- work done once per session -------------------------------------------------------------------
# Several tests read the same rendered case, or the same validate report of it; they share one
# render and one validate run per test session, across the xdist workers too (the first worker to
# ask does the work under a file lock, the others wait for it and read its result). Shared folders
# are read-only: a test that damages its output copies it first (copy_out).
class Once:
    """once(key, make): make(folder) runs once per session for key; its JSON result is read by all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def __call__(self, key: str, make: Callable[[Path], Any]) -> tuple[Path, Any]:
        folder, result = self.root / key, self.root / f"{key}.json"
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not result.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                value = make(folder)
                result.write_text(json.dumps(value), "utf-8")
        return folder, json.loads(result.read_text("utf-8"))


@dataclass(frozen=True)
class Cases:
    """The golden cases (tests/cases/<name>/spec.yaml; "holysheep" is the reference spec), each
    rendered once and validated --strict once per session."""

    once: Once

    def rendered(self, name: str) -> Path:
        """The case's rendered output (read-only: copy_out it to change it)."""
        from holystack import render_to

        def make(folder: Path) -> None:
            render_to(CASES / name / "spec.yaml", folder / "out")

        folder, _ = self.once(f"render-{name}", make)
        return folder / "out"

    def validated(self, name: str) -> Any:
        """validate --strict's Report on the case's rendered output."""
        from holystack.checks.result import CheckResult
        from holystack.validate import Report, validate

        out = self.rendered(name)

        def make(_: Path) -> list[dict[str, Any]]:
            report = validate(CASES / name / "spec.yaml", out, strict=True)
            return [{"name": r.name, "status": r.status, "detail": r.detail, "findings": list(r.findings)}
                    for r in report.results]

        _, rows = self.once(f"validate-{name}", make)
        return Report([CheckResult(row["name"], row["status"], row["detail"], tuple(row["findings"]))
                       for row in rows], strict=True)

    def promtool_inputs(self, name: str) -> str:
        """A digest of the bytes promtool's generated tests read: the rule files and the test files.
        Two cases with the same digest get the same verdict from `promtool test rules`."""
        prometheus = self.rendered(name) / "prometheus"
        digest = hashlib.sha256()
        for path in sorted([*(prometheus / "rules").glob("*"), *(prometheus / "tests").glob("*")]):
            digest.update(f"{path.relative_to(prometheus)}\0".encode() + path.read_bytes() + b"\0")
        return digest.hexdigest()


@pytest.fixture(scope="session")
def once(tmp_path_factory: pytest.TempPathFactory) -> Once:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base folder is in the session's: share that one.
    return Once((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "once")


@pytest.fixture(scope="session")
def cases(once: Once) -> Cases:
    return Cases(once)


def copy_out(out: Path, target: Path) -> Path:
    """A copy of a shared rendered output that a test may change."""
    shutil.copytree(out, target, symlinks=True)
    return target


# -- live servers ----------------------------------------------------------------------------------
# Every server listens on a port the kernel picks (free_port) and keeps its data in a temporary
# folder of its own, so that tests run side by side (pytest-xdist workers included).
E2E_SPEC = ROOT / "tests" / "e2e" / "spec.yaml"
StartStack = Callable[..., Any]  # (spec: dict | None = None, fast: bool = True) -> RunningStack


def _start_live_stack(spec: dict[str, Any] | None, workdir: Path, fast: bool = True) -> Any:
    from holystack.live.playground import Ports, loopback_spec, start_stack, write_spec
    from holystack.spec import read_spec

    ports = Ports.free()
    data = loopback_spec(spec if spec is not None else read_spec(E2E_SPEC), ports)
    return start_stack(write_spec(data, workdir / "spec.yaml"), ports, workdir, fast=fast)


@pytest.fixture(scope="session")
def shared_stack(servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Prometheus and Alertmanager for the whole session (per xdist worker), running
    the e2e spec (tests/e2e/spec.yaml) rendered on loopback: a RunningStack with .out,
    .prometheus.url and .alertmanager.url. For tests that only read from the servers; a test that
    reloads, restarts, stops or feeds them takes fresh_stack instead."""
    stack = _start_live_stack(None, tmp_path_factory.mktemp("shared-stack"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def fresh_stack(servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartStack]:
    """A function that starts a new real Prometheus and Alertmanager for this test only, on a spec
    (a dict; default the e2e spec), rendered on loopback; every stack it started is stopped after
    the test, however it ends."""
    started: list[Any] = []

    def start(spec: dict[str, Any] | None = None, fast: bool = True) -> Any:
        started.append(_start_live_stack(spec, tmp_path_factory.mktemp("fresh-stack"), fast))
        return started[-1]

    try:
        yield start
    finally:
        for stack in started:
            stack.stop()


def _postgres_binary(name: str) -> str:
    """initdb and pg_ctl: on PATH, or in Debian's versioned folder."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        pytest.fail(f"{name} is not installed; install the Debian package postgresql (scripts/setup does)")
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL on a temporary data directory and a loopback port; yields the DSN of its
    'postgres' database. Run as the postgres user when the tests run as root (initdb refuses root)."""
    from holystack.live.servers import free_port

    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="holystack-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    run = lambda *args: subprocess.run([*as_owner, *args], check=True, capture_output=True, timeout=120)  # noqa: E731
    run(initdb, "-D", str(data), "-U", "holystack", "--auth=trust", "-E", "UTF8", "--locale=C")
    run(pg_ctl, "-D", str(data), "-l", str(root / "postgres.log"), "-w", "-t", "60", "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off", "start")
    try:
        yield f"postgresql://holystack@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database(postgres: str) -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards; yields its DSN."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(postgres, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE {name} WITH (FORCE)")


# -- the order the xdist workers take the tests in (scripts/test) ----------------------------------
# --dist worksteal first hands each of the N workers a contiguous block of the collection (sizes as
# xdist computes them: what is left over the workers left), then an idle worker steals the tail half
# of the longest queue; a worker's last test is never stolen. So the long tests are dealt first,
# longest first, each to the head of the block with the least time dealt so far (the longest-
# processing-time rule): every worker starts on long tests, and each ends on quick ones that the
# others can take, not on a long test started last. The long tests are those of the modules that
# start real servers (Prometheus, Alertmanager, PostgreSQL, the LiteLLM proxy: they wait on those
# servers' clocks) or run promtool or amtool (or read the session's shared validate runs); their
# times are DURATIONS, as suite runs measured them (pytest --store-durations merges a run's into it;
# it keeps the tests that took STORED_SECONDS at least, so a test not in it counts half of that). A
# long module's tests stay together and in their order when they share a fixture set up once per
# module (or class); those of a module without one are dealt one by one. The quick tests fill each
# block up. Run in one process (-p no:xdist, -n 0), the order is pytest's own.
LONG_FIRST = (frozenset({"servers", "postgres", "litellm"}), frozenset({"promtool", "amtool", "cases", "once"}))
STORED_SECONDS = 0.5  # --store-durations keeps the tests that took this long at least
UNKNOWN_SECONDS = STORED_SECONDS / 2


def _rank(tests: list[pytest.Item]) -> int:
    fixtures = {name for test in tests for name in getattr(test, "fixturenames", ())}
    return next((rank for rank, names in enumerate(LONG_FIRST) if fixtures & names), len(LONG_FIRST))


def _units(tests: list[pytest.Item]) -> list[list[pytest.Item]]:
    """A module's tests as the units dealt to the workers: all of them together if they share a fixture
    set up once per module (or class), else one by one."""
    scopes = {definition.scope for test in tests
              for definitions in getattr(getattr(test, "_fixtureinfo", None), "name2fixturedefs", {}).values()
              for definition in definitions}
    return [tests] if scopes & {"module", "class", "package"} else [[test] for test in tests]


def _blocks(count: int, workers: int) -> list[int]:
    """The sizes of the blocks worksteal first hands the workers (xdist/scheduler/worksteal.py)."""
    sizes = []
    for index in range(workers):
        sizes.append((count - sum(sizes)) // (workers - index))
    return sizes


def _durations() -> dict[str, float]:
    return json.loads(DURATIONS.read_text("utf-8")) if DURATIONS.is_file() else {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    if workers < 2:
        return
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    durations = _durations()

    def seconds(unit: list[pytest.Item]) -> float:
        return sum(durations.get(test.nodeid, UNKNOWN_SECONDS) for test in unit)

    long = [unit for tests in modules.values() if _rank(tests) < len(LONG_FIRST) for unit in _units(tests)]
    quick = [test for tests in modules.values() if _rank(tests) == len(LONG_FIRST) for test in tests]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    dealt = [0.0] * workers
    for unit in sorted(long, key=seconds, reverse=True):  # stable: the collection's order among equals
        head = dealt.index(min(dealt))
        heads[head] += unit
        dealt[head] += seconds(unit)
    ordered: list[pytest.Item] = []
    for head, size in zip(heads, _blocks(len(items), workers)):
        fill = max(0, size - len(head))
        ordered += head + quick[:fill]
        del quick[:fill]
    items[:] = ordered + quick


_measured: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each test's time, setup to teardown (under xdist the controller hears every worker's reports)."""
    _measured[report.nodeid] = _measured.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """--store-durations: this run's times replace those of the same tests (a partial run keeps the
    others'), written whole or not at all (os.replace: a worker collecting meanwhile reads one file)."""
    if session.config.getoption("store_durations") and not hasattr(session.config, "workerinput"):
        merged = {**_durations(), **{nodeid: round(seconds, 1) for nodeid, seconds in _measured.items()}}
        kept = {nodeid: seconds for nodeid, seconds in sorted(merged.items()) if seconds >= STORED_SECONDS}
        written = DURATIONS.with_suffix(".json.tmp")
        written.write_text(json.dumps(kept, indent=0) + "\n", "utf-8")
        os.replace(written, DURATIONS)
