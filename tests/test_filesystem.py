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
from holystack.output import with_manifest, write_tree
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


# -- the writer under filesystem faults ------------------------------------------------------
def _can_chattr() -> bool:
    return os.geteuid() == 0 and shutil.which("chattr") is not None


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True, capture_output=True)


def _state(folder: Path) -> dict[str, object]:
    """The parent's entries and every entry under it, with contents and modes."""
    return {rel: (kind, content, (folder / rel).lstat().st_mode) for rel, (kind, content) in _listing(folder).items()}


@pytest.mark.skipif(not _can_chattr(), reason="needs root and chattr for an immutable folder")
def test_old_tree_that_cannot_be_removed_is_a_warning_and_out_is_new(tmp_path: Path) -> None:
    """After the swap, an immutable folder in the old tree stops its removal: OUT is new, exit 0,
    and the warning names the one folder to remove."""
    out = tmp_path / "out"
    write_tree(with_manifest({"a.txt": "old\n"}), out)
    stuck = out / "kept"
    stuck.mkdir()
    (stuck / "data").write_text("x")
    _chattr("+i", stuck)
    try:
        code, output = _render(EXAMPLE, out)
        leftovers = [p for p in tmp_path.iterdir() if p.name != "out"]
        assert code == 0, output
        assert (out / "prometheus" / "prometheus.yml").is_file() and not (out / "a.txt").exists()
        assert (out / "kept" / "data").read_text() == "x"  # a foreign folder is carried into the new tree
        assert len(leftovers) == 1 and leftovers[0].name.startswith(".out.holystack-")
        assert f"warning: {out} holds the new tree" in output and f"remove {leftovers[0]} by hand" in output
    finally:
        for path in [stuck, *[p / "kept" for p in tmp_path.iterdir()]]:
            if path.exists():
                _chattr("-i", path)


@pytest.mark.skipif(not _root_with_unshare(), reason="needs root and unshare to mount a full tmpfs")
def test_full_disk_while_staging_leaves_out_and_its_parent_as_they_were(tmp_path: Path) -> None:
    """A real ENOSPC halfway through staging: exit 2, OUT and its parent unchanged, no staging folder."""
    script = (
        f"mount -t tmpfs -o size=256k holystack-test {tmp_path} && mkdir {tmp_path}/out && "
        f"echo mine > {tmp_path}/out/NOTES.md && ls -la --time-style=+ {tmp_path} {tmp_path}/out > {tmp_path}.before && "
        f"{sys.executable} -m holystack render {EXAMPLE} -o {tmp_path}/out; code=$?; "
        f"ls -la --time-style=+ {tmp_path} {tmp_path}/out > {tmp_path}.after; "
        f"diff {tmp_path}.before {tmp_path}.after && echo SAME; ls -a {tmp_path}; exit $code"
    )
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert "SAME" in result.stdout, result.stdout
    assert ".holystack-" not in result.stdout


@pytest.mark.skipif(not _can_chattr(), reason="needs root and chattr for an immutable folder")
def test_immutable_parent_leaves_everything_as_it_was(tmp_path: Path) -> None:
    """EPERM where staging would go: exit 2, nothing created, OUT untouched."""
    parent = tmp_path / "site"
    out = parent / "out"
    write_tree({"a.txt": "old\n"}, out)
    before = _state(parent)
    _chattr("+i", parent)
    try:
        code, output = _render(EXAMPLE, out)
    finally:
        _chattr("-i", parent)
    assert code == 2 and "cannot write next to" in output and "Traceback" not in output
    assert _state(parent) == before


def test_failure_while_carrying_removes_staging_and_made_parents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EPERM on carrying a foreign file (injected at os.link and shutil.copy2, the boundary): exit 2,
    OUT as it was, no staging folder, and a parent holystack created for OUT is gone again."""
    out = tmp_path / "out"
    write_tree(render_files(EXAMPLE), out)
    (out / "NOTES.md").write_text("mine")
    locked = out / "locked"
    locked.mkdir()
    (locked / "f").write_text("y")
    os.chmod(locked, 0o500)  # read-only: staging copies its mode after filling it
    before = _state(tmp_path)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr(shutil, "copy2", refuse)
    with pytest.raises(OutputError, match="Operation not permitted") as caught:
        write_tree(render_files(EXAMPLE), out)
    assert "is as it was" in str(caught.value)
    assert _state(tmp_path) == before
    monkeypatch.undo()
    write_tree(render_files(EXAMPLE), out)  # without the fault the read-only folder is carried
    assert (out / "locked" / "f").read_text() == "y" and (out / "locked").stat().st_mode & 0o777 == 0o500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    deep = tmp_path / "new" / "deeper" / "out"

    def fail_write(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "write_bytes", fail_write)
    with pytest.raises(OutputError):
        write_tree(render_files(EXAMPLE), deep)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # tmp_path/new was created, then removed
