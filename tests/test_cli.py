"""The credax command: validation before compilation, outputs, resume, divergence."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from credax._src import cli

TINY = [
    "--model", "mlp:40-8-10", "--epochs", "1", "--seeds", "2", "--batch-size", "200", "--no-cache",
]  # fmt: skip


def _run(args, capsys):
    code = cli.main(args)
    return code, capsys.readouterr()


def test_list(capsys):
    code, out = _run(["list"], capsys)
    assert code == 0
    for word in ("feedback", "Lillicrap", "mnist1d", "fashion_mnist", "tfds:NAME", "kp"):
        assert word in out.out
    # Factory names (and a variant's options) are listed beside the short names.
    assert "feedback_alignment" in out.out and "sign_symmetry(random_magnitude=True" in out.out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--rules", "bp,nope"], "unknown rule(s) nope"),
        (["--rules", ","], "no rule named in ','"),
        (["--optimizer", "sgd:nan"], "finite"),
        (["--optimizer", "adam:inf"], "finite"),
        (["--optimizer", "sgd:0.1:-0.9"], "momentum must be >= 0"),
        (["--block", "0"], "--block must be a positive divisor"),
        (["--block", "3"], "--block must be a positive divisor"),
        (["--eval-every", "0"], "--eval-every must be a positive"),
        (["--eval-every", "7"], "--eval-every must divide the 800"),
        (["--diverge-factor", "0.5"], "--diverge-factor"),
        (["--diverge-factor", "lots"], "--diverge-factor"),
        (["--seed-block", "0"], "--seed-block"),
        (["--dataset", "no_such_set_xyz"], "unknown dataset"),
        (["--model", "mlp:40-x-10"], "bad --model sizes"),
        (["--model", "resnet"], "unknown model"),
        (["--model", "mlp:40-8-10:swish"], "unknown activation"),
        (["--optimizer", "rmsprop:1e-3"], "unknown optimizer"),
        (["--optimizer", "adam:-1"], "must be > 0"),
        (["--model", "mlp:41-8-10"], "does not match mnist1d"),
        (["--model", "mlp:40-8-7"], "10 classes"),
        (["--rules", "bp,fa", "--model", "lenet"], "lenet needs images"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--rules", "tp,fa", "--model", "lenet"], "tp needs a chain of dense layers"),
        (["--rules", "big,dtp", "--model", "mlp:40-10"], "big, dtp need a chain"),
        (["--rules", "tp", "--model", "snn:40-8-10"], "tp needs a chain of dense layers"),
        (["--model", "snn:40-8-10:rate"], "unknown encoding 'rate'"),
        (["--rules", "stdp"], "stdp needs a spiking network"),
        (["--rules", "spike_latency"], "spike_latency needs a time-to-first-spike network"),
        (["--model", "latency:40-8-10:x"], "expected latency:SIZES"),
        (["--rules", "stdp", "--model", "snn:40-8-10"], "stdp reads input spikes"),
        (["--model", "snn:40-8-10:poisson:0"], "bad --model steps 0"),
        (["--model", "snn:40-8-10:poisson:many"], "bad --model steps 'many'"),
        (["--model", "snn:40-8-10:poisson:5:9"], "expected snn:SIZES"),
        (["--model", "snn:41-8-10"], "use snn:40-..."),
        (["--data-dir", "somewhere"], "--data-dir is not used by mnist1d"),
        (["--dataset", "teacher", "--data-dir", "d"], "--data-dir is not used by teacher"),
        (["--process-id", "1"], "--process-id are for runs across processes"),
        (["--coordinator", "h:1", "--num-processes", "2"], "are for runs across processes"),
        (
            [
                "--distributed",
                "--coordinator",
                "127.0.0.1:1234",
                "--num-processes",
                "2",
                "--process-id",
                "2",
            ],
            "expected process_id in [0, 2)",
        ),
        (
            [
                "--distributed",
                "--coordinator",
                "nohost.invalid:1234",
                "--num-processes",
                "2",
                "--process-id",
                "0",
            ],
            "cannot resolve the coordinator's host",
        ),
        (["--distributed", "--num-processes", "2"], "together"),
        (["--seed", str(2**70)], "--seed must fit in 64 bits"),
        (["--draws", "0"], "--draws must be >= 1"),
    ],  # fmt: skip
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


def test_a_spiking_run_records_rates_and_spike_counts(tmp_path, capsys):
    """--model snn: the same command and table; every rule records each layer's firing rate (Hz)
    and spikes per example, NaN for the non-spiking readout."""
    out = tmp_path / "snn"
    args = ["run", "--rules", "bp,fa", "--model", "snn:40-8-10:poisson:6", "--epochs", "1",
            "--seeds", "2", "--batch-size", "200", "--no-cache", "--out", str(out)]  # fmt: skip
    assert cli.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["model"] == "snn:40-8-10:poisson:6"
    for rule in ("bp", "fa"):
        final = summary["rules"][rule]["final"]
        rate, count = final["firing_rate"], final["spike_count"]
        assert 0 < rate[0] <= 1000 and math.isnan(rate[1] if rate[1] is not None else math.nan)
        assert count[0] == pytest.approx(rate[0] / 1000 * 6 * 8, rel=0.3)
    assert "firing_rate" in capsys.readouterr().out


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
    for rule in ("bp", "fa"):  # the times of the run that made the blocks, not zeros
        for t in ("compile_s", "train_s"):
            assert again["rules"][rule][t] == summary["rules"][rule][t] > 0

    # Other settings into the same directory are refused.
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--rules", "bp", *TINY, "--batch-size", "100", "--out", str(out)])
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


# --- names, settings, resume ------------------------------------------------------------------


def test_rules_by_factory_name_and_label(tmp_path, capsys):
    out = tmp_path / "run"
    code, _ = _run(["run", "--rules", "feedback_alignment,BP,fa", *TINY, "--out", str(out)], capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["rules"]) == ["bp", "fa"]  # registry order, repeats collapsed


def test_other_rules_are_kept_in_the_summary(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(["run", "--rules", "bp,fa", *TINY, "--out", str(out)], capsys)[0] == 0
    assert _run(["run", "--rules", "dfa", *TINY, "--out", str(out)], capsys)[0] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["rules"]) == {"bp", "fa", "dfa"}
    assert summary["rules"]["fa"]["test_accuracy_mean"] is not None


def _write_bytes(path, data):
    path.write_bytes(data)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_block_is_recomputed(tmp_path, capsys, damage):
    out = tmp_path / "run"
    args = ["run", "--rules", "fa", *TINY, "--block", "1", "--out", str(out)]
    assert _run(args, capsys)[0] == 0
    first = json.loads((out / "summary.json").read_text())["rules"]["fa"]
    path = out / "fa" / "block_1.npz"
    data = path.read_bytes()
    _write_bytes(
        path, {"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64, "empty": b""}[damage]
    )
    code, printed = _run(args, capsys)
    assert code == 0
    assert "block_1.npz is" in printed.err and "recomputing it" in printed.err
    assert "1 block(s) done earlier" in printed.err
    second = json.loads((out / "summary.json").read_text())["rules"]["fa"]
    assert second["test_accuracy_per_run"] == first["test_accuracy_per_run"]


def test_blocks_carry_their_settings(tmp_path, capsys):
    """Without config.json, blocks made with other settings are still refused, naming them."""
    out = tmp_path / "run"
    assert _run(["run", "--rules", "bp", *TINY, "--out", str(out)], capsys)[0] == 0
    (out / "config.json").unlink()
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--rules", "bp", *TINY, "--optimizer", "sgd:0.1", "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other settings" in err[0]
    assert "--optimizer 'adam:0.001' -> 'sgd:0.1'" in err[0]


def test_refused_rerun_names_the_setting(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(["run", "--rules", "bp", *TINY, "--out", str(out)], capsys)[0] == 0
    with pytest.raises(SystemExit):
        cli.main(["run", "--rules", "bp", *TINY, "--epochs", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert "--epochs 1 -> 2" in err and "Traceback" not in err


def test_files_follow_the_umask(tmp_path, capsys):
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert _run(["run", "--rules", "bp", *TINY, "--out", str(out)], capsys)[0] == 0
    finally:
        os.umask(old)
    for f in ("summary.json", "config.json", "bp/block_0.npz", "curves.png"):
        assert (out / f).stat().st_mode & 0o777 == 0o644, f


@pytest.mark.parametrize("where", ["file", "under_a_file"])
def test_unusable_out_is_one_line(tmp_path, capsys, where):
    f = tmp_path / "f"
    f.write_text("x")
    target = f if where == "file" else f / "sub"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--rules", "bp", *TINY, "--out", str(target)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0], err


def test_corrupt_idx_file_is_one_line(tmp_path, capsys):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):  # fmt: skip
        (tmp_path / name).write_bytes(b"not gzip at all")
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--dataset", "fashion_mnist", "--data-dir", str(tmp_path), "--model",
                  "mlp:784-8-10", "--out", str(tmp_path / "o"), "--no-cache"])  # fmt: skip
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train-images-idx3-ubyte.gz" in err[0], err


def test_divergence_by_growth_is_flagged_without_warnings(tmp_path, capsys):
    """A loss that grows past the factor (finite) counts as diverged; with every seed diverged
    the means are absent and no RuntimeWarning leaks."""
    import warnings

    # SGD at 3 on the linear teacher (curvature ~1): the error doubles every step, the loss
    # overflows to inf after some 60 steps; a factor of 10 flags it within a few steps.
    steps = {}
    for factor in ("10", "none"):
        out = tmp_path / f"grow{factor}"
        args = ["run", "--rules", "bp", "--dataset", "teacher", "--model", "mlp:30-10:identity",
                "--optimizer", "sgd:3", "--epochs", "1", "--seeds", "2", "--no-cache",
                "--diverge-factor", factor, "--out", str(out)]  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            code, printed = _run(args, capsys)
        assert code == 0
        s = json.loads((out / "summary.json").read_text())["rules"]["bp"]
        assert len(s["diverged"]) == 2 and s["test_loss_mean"] is None
        assert "2/2" in printed.out
        steps[factor] = max(d["step"] for d in s["diverged"])
    assert steps["10"] < 10 < 30 < steps["none"], steps


def test_rule_records_are_printed_and_plotted(tmp_path, capsys):
    out = tmp_path / "rec"
    code, printed = _run(["run", "--rules", "bp,fa,np", *TINY, "--out", str(out)], capsys)
    assert code == 0
    assert "feedback_angles" in printed.out  # FA's own record, in the table's second part
    assert (out / "feedback_angles.png").stat().st_size > 0
    fa = json.loads((out / "summary.json").read_text())["rules"]["fa"]["final"]
    assert len(fa["feedback_angles"]) == 2


def test_styles_are_distinct_per_rule():
    from credax._src.registry import RULES

    styles = cli.rule_styles(list(RULES))
    keys = {(s["color"], s["linestyle"], s["marker"]) for s in styles.values()}
    assert len(keys) == len(RULES)


def test_compilation_cache_warm_run(tmp_path):
    """A second run with the same cache compiles from disk: it finds every program it needs in
    the persistent cache and adds no entry to it (a count, not a clock)."""
    args = [sys.executable, "-m", "credax._src.cli", "run", "--rules", "bp,fa", "--model",
            "mlp:40-8-10", "--epochs", "1", "--seeds", "2", "--batch-size", "200",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    entries = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        r = subprocess.run([*args, "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert set(json.loads((out / "summary.json").read_text())["rules"]) == {"bp", "fa"}
        entries.append(sorted(p.name for p in (tmp_path / "cache" / "jax").iterdir()))
    assert len(entries[0]) >= 2  # both rules' programs were cached by the first run
    assert entries[1] == entries[0]  # the second compiled nothing new
    assert (tmp_path / "cache" / "data").is_dir()


def test_list_describes_rules_by_any_name(capsys):
    code, out = _run(["list", "feedback_alignment", "FG-A"], capsys)
    assert code == 0
    assert "fa (FA): feedback_alignment()" in out.out and "records: feedback_angles" in out.out
    assert "fga (FG-A): forward_gradient(activity=True)" in out.out
    with pytest.raises(SystemExit) as e:
        cli.main(["list", "nope"])
    assert e.value.code == 2 and "unknown rule(s) nope" in capsys.readouterr().err


def test_list_prints_each_rules_traits(capsys):
    code, out = _run(["list", "pc", "brsf", "hebb_decay"], capsys)
    assert code == 0
    assert "traits: chain_only, relaxes" in out.out
    assert "traits: sign_concordant, stochastic" in out.out
    assert "task unsupervised" in out.out and "traits: none" in out.out
    with pytest.raises(SystemExit) as e:
        cli.main(["list", ""])
    assert e.value.code == 2 and "expected rule names" in capsys.readouterr().err


def test_bare_run_compares_rules_of_every_task(monkeypatch, capsys, tmp_path):
    """The default rule list is the registry's, whatever the tasks: with the suite's
    unsupervised and modulated rules registered, a run without --rules trains each by its
    task's protocol (a delta-rule readout, a contextual bandit) beside the supervised ones, in one
    table. (The other registered rules are left out of the default here to keep it short.)"""
    import dataclasses

    from credax._src import registry

    keep = {"bp", "fa", "hebb_decay", "reward_hebb"}
    for name, entry in list(registry.RULES.items()):
        if name not in keep:
            monkeypatch.setitem(
                registry.RULES, name, dataclasses.replace(entry, in_default_run=False)
            )
    out = tmp_path / "o"
    code, printed = _run(["run", *TINY, "--out", str(out)], capsys)
    assert code == 0, printed.err
    summary = json.loads((out / "summary.json").read_text())["rules"]
    assert set(summary) == keep
    for name in keep:  # every rule has the readout's test accuracy and its angles
        assert 0.0 <= summary[name]["test_accuracy_mean"] <= 1.0, name
        assert len(summary[name]["final_update_angles"]) == 2
    assert summary["hebb_decay"]["task"] == "unsupervised"
    assert len(summary["hebb_decay"]["final"]["weight_norms"]) == 2
    assert "train_loss" in summary["hebb_decay"]["final"]  # the readout's loss
    assert summary["hebb_decay"]["final_update_angles"][1] < 1e-3  # the delta rule is exact
    assert summary["reward_hebb"]["task"] == "modulated"
    for label in ("HebbD", "RHebb", "BP", "FA"):
        assert label in printed.out


def test_run_identity_is_an_allow_list():
    """Only the settings that change results enter a run's identity: --out, --rules, the cache
    and the process flags do not; every result-affecting flag does, each under its name."""
    from credax._src.cli import _config

    def identity(*extra):
        args = _config.make_parser().parse_args(["run", *extra])
        return _config.build_config(args).identity()

    base = identity()
    assert set(base) == {"format", *_config.RESULT_FIELDS}
    for neutral in (["--out", "elsewhere"], ["--rules", "bp"], ["--no-cache"],
                    ["--cache-dir", "c"], ["--distributed"]):  # fmt: skip
        assert identity(*neutral) == base, neutral
    for flag, value, key in [
        ("--epochs", "3", "epochs"), ("--block", "4", "block"), ("--draws", "2", "draws"),
        ("--feedback-seeds", "2", "draws"), ("--optimizer", "sgd:0.1", "optimizer"),
        ("--model", "mlp:40-8-10", "model"), ("--diverge-factor", "none", "diverge_factor"),
        ("--seed-block", "1", "seed_block"), ("--dataset", "teacher", "dataset"),
        ("--precision", "highest", "precision"),
    ]:  # fmt: skip
        changed = identity(flag, value)
        assert [k for k in base if base[k] != changed[k]] == [key], flag
    changed = identity("--seeds", "4")  # the block (all seeds by default) follows
    assert [k for k in base if base[k] != changed[k]] == ["seeds", "block"]
    assert identity("--optimizer", "adam:0.001") == base  # the same optimizer, spelt otherwise


@pytest.mark.parametrize("what", ["config_dir", "rule_file", "block_dir"])
def test_damaged_out_layout_is_one_line_before_training(tmp_path, capsys, what):
    out = tmp_path / "run"
    out.mkdir()
    if what == "config_dir":
        (out / "config.json").mkdir()
    elif what == "rule_file":
        (out / "bp").write_text("not a folder")
    else:
        (out / "bp" / "block_0.npz").mkdir(parents=True)
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--rules", "bp", *TINY, "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("is not a file" in err[0] or "is not a folder" in err[0]), err


def test_interrupted_run_says_what_was_saved(tmp_path):
    """Ctrl-C during a run: one line saying what is saved and how to resume, exit 130. The run
    has 64 blocks (minutes), so that a loaded machine cannot finish it before the signal."""
    import signal
    import time

    out = tmp_path / "run"
    # A shell's background job (as CI may start the suite) ignores SIGINT, and a child inherits
    # that; a Python started with SIGINT ignored leaves it so. The child restores Ctrl-C's
    # default action (KeyboardInterrupt) before running the command, as in a terminal.
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['credax'] + sys.argv[1:]; runpy.run_module('credax._src.cli', "
        "run_name='__main__')"
    )
    args = [sys.executable, "-c", start, "run", "--rules", "bp,fa,dfa,usf",
            "--model", "mlp:40-8-10", "--epochs", "200", "--seeds", "16", "--block", "1",
            "--no-cache", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "bp" / "block_0.npz").exists():
        time.sleep(0.2)
    assert (out / "bp" / "block_0.npz").exists(), "the run saved nothing in time"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "credax: interrupted;" in last and "run the same command again to resume" in last
    assert "of 64 blocks are saved in" in last


def test_distributed_without_a_coordinator_on_cpus_is_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "credax._src.cli", "run", "--distributed", "--rules", "bp",
         *TINY, "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "JAX_PLATFORMS": "cpu"},
    )  # fmt: skip
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "--distributed: jax.distributed could not start" in lines[0]
