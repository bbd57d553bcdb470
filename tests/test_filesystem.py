"""The spec reader and the writer against the filesystem: special files, size caps, symlinks,
mount points. A refused write leaves OUT and the folder around it exactly as they were."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from holystack import OutputError, render_files
from holystack.cli import app
from holystack.errors import SpecError
from holystack.output import write_tree
from holystack.spec import MAX_SPEC_BYTES, read_spec

from .conftest import EXAMPLE


def _listing(folder: Path) -> dict[str, tuple[str, bytes | str | None]]:
    """Every entry under folder, links not followed: kind and content (or link target)."""
    out: dict[str, tuple[str, bytes | str | None]] = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", None)
            elif path.is_file():
                out[rel] = ("file", path.read_bytes())
            else:
                out[rel] = ("special", None)
    return out


def _render(spec: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["render", str(spec), "-o", str(out)])
    return result.exit_code, result.output


# -- reading the spec ------------------------------------------------------------------------
def test_fifo_spec_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(SpecError, read_spec, fifo).value))
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the hung reader so the test run can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO as the spec blocked")
    assert "is a FIFO, not a regular file" in str(outcome[0])


@pytest.mark.parametrize("special, kind", [("/dev/zero", "a device"), ("/dev/null", "a device")])
def test_device_spec_is_refused_before_reading(special: str, kind: str) -> None:
    with pytest.raises(SpecError) as caught:
        read_spec(special)
    assert f"is {kind}, not a regular file" in str(caught.value)


def test_folder_spec_is_refused(tmp_path: Path) -> None:
    code, output = _render(tmp_path, tmp_path / "out")
    assert code == 2 and "is a folder, not a regular file" in output and "Traceback" not in output


def test_oversized_spec_is_refused_by_size(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(MAX_SPEC_BYTES + 1)  # sparse: no memory, no disk
    with pytest.raises(SpecError) as caught:
        read_spec(big)
    assert "larger than" in str(caught.value)


# -- writing OUT -----------------------------------------------------------------------------
def test_out_that_is_a_symlink_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "keep.txt").write_text("mine")
    link = tmp_path / "out"
    link.symlink_to(real)
    before = _listing(tmp_path)
    code, output = _render(EXAMPLE, link)
    assert code == 2 and "is a symbolic link" in output and "Traceback" not in output
    assert _listing(tmp_path) == before  # the link, its target and no stray .holystack-* folder


def test_symlinked_folder_inside_out_stays_a_link(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("outside")
    write_tree(render_files(EXAMPLE), out)
    (out / "extra").symlink_to(elsewhere)
    write_tree(render_files(EXAMPLE), out)
    assert (out / "extra").is_symlink() and os.readlink(out / "extra") == str(elsewhere)
    assert (elsewhere / "data.txt").read_text() == "outside"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "out"]


def test_symlink_where_holystack_writes_a_folder_is_refused(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write_tree(render_files(EXAMPLE), out)
    elsewhere.mkdir()
    shutil.rmtree(out / "sql")
    (out / "sql").symlink_to(elsewhere)
    before = _listing(tmp_path)
    with pytest.raises(OutputError, match="symbolic link where holystack writes a folder"):
        write_tree(render_files(EXAMPLE), out)
    assert _listing(tmp_path) == before


def test_fifo_inside_out_is_refused_not_copied(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(render_files(EXAMPLE), out)
    os.mkfifo(out / "pipe")
    before = _listing(tmp_path)
    with pytest.raises(OutputError, match="not a regular file, folder or symlink"):
        write_tree(render_files(EXAMPLE), out)
    assert _listing(tmp_path) == before


def _root_with_unshare() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("mount") is not None


@pytest.mark.skipif(not _root_with_unshare(), reason="needs root and unshare for a private mount namespace")
def test_mount_point_inside_out_is_refused_and_its_volume_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(render_files(EXAMPLE), out)
    (out / "volume").mkdir()
    # In a private mount namespace: mount a tmpfs inside OUT, put a file on it, render, and
    # report whether the file survived.
    script = (
        f"mount -t tmpfs holystack-test {out / 'volume'} && echo precious > {out / 'volume' / 'data'} && "
        f"{sys.executable} -m holystack render {EXAMPLE} -o {out}; code=$?; "
        f"cat {out / 'volume' / 'data'}; ls -a {tmp_path}; exit $code"
    )
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "is a mount point inside" in result.stderr and "Traceback" not in result.stderr
    assert "precious" in result.stdout
    assert ".holystack-" not in result.stdout
