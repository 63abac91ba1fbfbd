"""The credax command: validation before compilation, outputs, resume, divergence."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from credax._src import cli

TINY = ["--model", "mlp:40-8-10", "--epochs", "1", "--seeds", "2", "--batch-size", "200"]


def _run(args, capsys):
    code = cli.main(args)
    return code, capsys.readouterr()


def test_list(capsys):
    code, out = _run(["list"], capsys)
    assert code == 0
    for word in ("feedback", "Lillicrap", "mnist1d", "fashion_mnist", "tfds:NAME", "kp"):
        assert word in out.out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--rules", "bp,nope"], "unknown rule(s) nope"),
        (["--dataset", "no_such_set_xyz"], "unknown dataset"),
        (["--model", "mlp:40-x-10"], "bad --model sizes"),
        (["--model", "resnet"], "unknown model"),
        (["--model", "mlp:40-8-10:swish"], "unknown activation"),
        (["--optimizer", "rmsprop:1e-3"], "unknown optimizer"),
        (["--optimizer", "adam:-1"], "must be > 0"),
        (["--model", "mlp:41-8-10"], "does not match mnist1d"),
        (["--model", "mlp:40-8-7"], "10 classes"),
        (["--model", "lenet"], "lenet needs images"),
        (["--seeds", "0"], "--seeds must be >= 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, expected, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", *args, "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (tmp_path / "o" / "summary.json").exists()


def test_console_script_reports_without_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "credax._src.cli", "run", "--rules", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "choose from bp, fa" in out.stderr


def test_run_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    code, printed = _run(["run", "--rules", "bp,fa", *TINY, "--out", str(out)], capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["rules"]) == {"bp", "fa"}
    bp, fa = summary["rules"]["bp"], summary["rules"]["fa"]
    assert 0.0 <= bp["test_accuracy_mean"] <= 1.0 and bp["runs"] == 2
    assert bp["final_update_angles"] == pytest.approx([0.0, 0.0], abs=1e-2)
    assert fa["final_update_angles"][0] > 1.0  # FA's hidden update differs from backprop's
    for f in ("curves.png", "angles.png", "bp/block_0.npz", "fa/block_0.npz"):
        assert (out / f).stat().st_size > 0
    assert "BP" in printed.out and "compile s" in printed.out

    # Same command again: nothing is retrained, the summary is the same.
    stamp = (out / "fa" / "block_0.npz").stat().st_mtime_ns
    code, printed = _run(["run", "--rules", "bp,fa", *TINY, "--out", str(out)], capsys)
    assert code == 0 and "done earlier, skipped" in printed.err
    assert (out / "fa" / "block_0.npz").stat().st_mtime_ns == stamp
    again = json.loads((out / "summary.json").read_text())
    assert again["rules"]["fa"]["test_accuracy_per_run"] == fa["test_accuracy_per_run"]

    # Other settings into the same directory are refused.
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--rules", "bp", *TINY[:-2], "--batch-size", "100", "--out", str(out)])
    assert e.value.code == 2


def test_resume_after_an_interrupted_block(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--rules", "fa", *TINY, "--block", "1", "--out", str(out)]
    assert _run(args, capsys)[0] == 0
    first = json.loads((out / "summary.json").read_text())["rules"]["fa"]
    (out / "fa" / "block_1.npz").unlink()  # as if the run stopped after block 0
    code, printed = _run(args, capsys)
    assert code == 0 and "1 block(s) done earlier" in printed.err
    second = json.loads((out / "summary.json").read_text())["rules"]["fa"]
    assert second["test_accuracy_per_run"] == first["test_accuracy_per_run"]


def test_diverged_seeds_are_reported_and_left_out(tmp_path, capsys):
    out = tmp_path / "div"
    args = [
        "run",
        "--rules",
        "bp",
        "--dataset",
        "teacher",
        "--model",
        "mlp:30-10:identity",
        "--optimizer",
        "sgd:50",
        "--epochs",
        "1",
        "--seeds",
        "2",
        "--out",
        str(out),
    ]
    code, printed = _run(args, capsys)
    assert code == 0
    s = json.loads((out / "summary.json").read_text())["rules"]["bp"]
    assert len(s["diverged"]) == 2 and all(d["step"] >= 0 for d in s["diverged"])
    assert s["test_loss_mean"] is None
    assert "2/2" in printed.out
