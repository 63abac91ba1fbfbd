"""The Colab notebooks: they run top to bottom with their default (tiny) sizes, on one device and
on eight (a Colab TPU v2-8 has 8), their install cell gets credax from a source the README
documents or says how to provide one, and their metadata asks Colab for a TPU runtime."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "colab").glob("*.ipynb"))
WHEEL_COMMAND = "python -m pip wheel --no-deps . -w dist"
TPU_DEVICES = 8  # a Colab TPU v2-8 runtime (gpuType "V28")


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def execute(path: Path, tmp_path: Path, env: dict[str, str] | None = None) -> str:
    """Runs the notebook in a fresh kernel (in ``tmp_path``, with ``env`` if given) and returns
    the text of its outputs; fails on any error output."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(**({} if env is None else {"env": env}))  # env: the kernel's environment
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    return "".join(o.get("text", "") for o in outputs)


def devices_seen(outputs: str) -> int:
    found = re.findall(r"^devices: (\d+)", outputs, re.MULTILINE)
    assert len(found) == 1, f"expected one 'devices: N' line, got {outputs[:2000]}"
    return int(found[0])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path):
    outputs = execute(path, tmp_path)
    assert devices_seen(outputs) >= 1
    assert "credax from" in outputs and "installing credax" not in outputs  # no pip here


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_on_8_devices(path, tmp_path):
    # 8 host devices, like a Colab TPU v2-8: every sweep's seed count is not a multiple of 8.
    flags = os.environ.get("XLA_FLAGS", "")
    flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", flags)
    env = {
        **os.environ,
        "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count={TPU_DEVICES}".strip(),
        "JAX_PLATFORMS": "cpu",
    }
    outputs = execute(path, tmp_path, env)
    assert devices_seen(outputs) == TPU_DEVICES


def test_there_is_a_quickstart():
    assert any(p.name == "01_quickstart.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asks_colab_for_a_tpu(path):
    # Colab's format: notebook-level "accelerator" and colab.gpuType (V28: TPU v2-8, 8 devices).
    meta = json.loads(path.read_text())["metadata"]
    assert meta["accelerator"] == "TPU"
    assert meta["colab"]["gpuType"] == "V28"
    assert meta["kernelspec"]["name"] == "python3"
    assert meta["kernelspec"]["language"] == "python"


# --- the install cell --------------------------------------------------------------------------


def test_install_cell_comes_first_and_is_the_same_in_every_notebook():
    cells = [code_cells(p)[0] for p in NOTEBOOKS]
    assert "CREDAX_SOURCE" in cells[0] and WHEEL_COMMAND in cells[0]
    assert all(c == cells[0] for c in cells), "the notebooks' install cells differ"
    for p in NOTEBOOKS:  # nothing imports credax before it
        assert "import credax" not in code_cells(p)[0]


INSTALL_CELL = code_cells(NOTEBOOKS[0])[0]


@pytest.fixture
def install_cell(monkeypatch, tmp_path):
    """Runs the install cell in this process with its side effects faked: ``find_spec`` reports
    credax (and jax) missing as asked, until pip "installs" it; pip's commands are recorded (and
    fail if asked); ``/content`` is ``tmp_path / "content"``; the cwd is ``tmp_path / "cwd"``."""
    cwd, content = tmp_path / "cwd", tmp_path / "content"
    cwd.mkdir()
    content.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("CREDAX_SOURCE", raising=False)
    real_find_spec, real_glob = importlib.util.find_spec, __import__("glob").glob

    def run(*, credax=True, jax=True, pip_fails=False):
        pip = []

        def find_spec(name, package=None):
            if (name == "credax" and not credax and not pip) or (name == "jax" and not jax):
                return None
            return real_find_spec(name, package)

        def check_call(cmd, *args, **kwargs):
            pip.append(list(cmd))
            if pip_fails:
                raise subprocess.CalledProcessError(1, cmd)
            return 0

        def glob(pattern, *args, **kwargs):
            if pattern.startswith("/content/"):
                pattern = str(content / pattern[len("/content/") :])
            return real_glob(pattern, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:  # undone as soon as the cell has run
            patch.setattr(importlib.util, "find_spec", find_spec)
            patch.setattr(subprocess, "check_call", check_call)
            patch.setattr("glob.glob", glob)
            exec(compile(INSTALL_CELL, "<install cell>", "exec"), {"__name__": "__main__"})
        return pip

    run.cwd, run.content = cwd, content
    return run


def assert_pip_installs(calls, requirement):
    assert len(calls) == 1, calls
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert cmd[-1] == requirement


def test_install_cell_does_nothing_where_credax_is_importable(install_cell, monkeypatch, capsys):
    monkeypatch.setenv("CREDAX_SOURCE", "git+https://example.invalid/credax")  # not needed
    assert install_cell() == []
    out = capsys.readouterr().out
    credax_dir = os.path.dirname(importlib.util.find_spec("credax").origin)
    assert f"credax from {credax_dir}" in out and "jax" in out


def test_install_cell_without_a_source_says_how_to_provide_credax(install_cell):
    with pytest.raises(RuntimeError) as info:
        install_cell(credax=False)
    message = str(info.value)
    assert "CREDAX_SOURCE" in message and WHEEL_COMMAND in message


@pytest.mark.parametrize(
    "source", ["git+https://github.com/OWNER/credax", "/path/to/credax", "/dist/credax.whl"]
)
def test_install_cell_installs_credax_source(install_cell, monkeypatch, source, capsys):
    (install_cell.content / "credax-0.1.0-py3-none-any.whl").write_bytes(b"")  # source wins
    monkeypatch.setenv("CREDAX_SOURCE", source)
    assert_pip_installs(install_cell(credax=False), source)
    assert f"installing credax from {source}" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["cwd", "content"])
def test_install_cell_installs_an_uploaded_wheel(install_cell, where):
    folder = getattr(install_cell, where)
    old, new = folder / "credax-0.1.0-py3-none-any.whl", folder / "credax-0.2.0-py3-none-any.whl"
    old.write_bytes(b"")
    new.write_bytes(b"")
    os.utime(old, (1, 1))  # the most recent upload wins
    calls = install_cell(credax=False)
    assert len(calls) == 1 and Path(calls[0][-1]).resolve() == new.resolve()
    assert_pip_installs(calls, calls[0][-1])


def test_install_cell_reports_a_failed_install(install_cell, monkeypatch):
    monkeypatch.setenv("CREDAX_SOURCE", "git+https://example.invalid/credax")
    with pytest.raises(RuntimeError, match="pip could not install .*CREDAX_SOURCE"):
        install_cell(credax=False, pip_fails=True)


def test_install_cell_checks_for_jax(install_cell):
    with pytest.raises(RuntimeError, match="needs JAX"):
        install_cell(jax=False)
