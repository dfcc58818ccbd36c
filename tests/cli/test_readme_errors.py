"""Issue 20: errors are one line that says what to do, with the README's exit code; the README's
exit-code table, model list and Python entry point match the code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import avlocate
from avlocate import errors

MODEL = "lite-demo"


def _one_line(r) -> str:  # noqa: ANN001
    err = r.err.strip()
    assert err.count("\n") == 0 and err.startswith("avlocate: ") and "Traceback" not in err, r.err
    return err


@pytest.fixture
def demo(repo_root) -> Path:
    return repo_root / "samples" / "demo1.mp4"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("AVLOCATE_HOME", str(h))
    monkeypatch.delenv("AVLOCATE_WEIGHTS", raising=False)
    return h


# -- the table ------------------------------------------------------------------------------------

def test_readme_exit_code_table_is_the_one_in_errors(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert errors.exit_code_table() in section
    codes = {cls.exit_code for cls in errors.ALL_ERRORS}
    assert set(errors.EXIT_CODES) == {0, errors.EXIT_BATCH_FAILURES, errors.EXIT_INTERNAL, errors.EXIT_INTERRUPTED} | codes


# -- 6: click's usage errors ----------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [(["run", "--bogus", "x.mp4"], ["--bogus", "avlocate run --help"]),
                                         (["run"], ["Missing argument", "avlocate run --help"]),
                                         (["weights", "import"], ["Missing argument", "avlocate weights import --help"]),
                                         (["batch", "d", "--out", "r", "--workers", "0"], ["--workers"])])
def test_usage_errors_are_one_line(cli, args, words):
    r = cli(*args)
    assert r.code == 2
    line = _one_line(r)
    assert all(w in line for w in words), line


# -- 9: exit codes per the table ------------------------------------------------------------------

def test_missing_paths_exit_3(cli, demo, tmp_path, home):
    r = cli("weights", "import", tmp_path / "nope.pt", "--from", "i3d-rgb")
    assert r.code == 3 and "check the path" in _one_line(r)
    r = cli("run", demo, "-m", MODEL, "-q", "--checkpoint", tmp_path / "nope.safetensors")
    assert r.code == 3 and "check the path" in _one_line(r)
    r = cli("evaluate", "-m", MODEL, "--annotations", tmp_path / "nope.json", "--features", tmp_path)
    assert r.code == 3 and "check the path" in _one_line(r)
    r = cli("run", demo, "-m", MODEL, "-q", "--features", tmp_path / "no-such-dir")  # 13: not silently decoded
    assert r.code == 3 and "avlocate extract" in _one_line(r)


def test_weights_verify_of_a_named_missing_file_fails(cli, home):
    r = cli("weights", "verify", "i3d-rgb")
    assert r.code == errors.WeightsError.exit_code and "not installed" in r.err and "weights pull" in r.err
    r = cli("weights", "verify", "no-such-weights")
    assert r.code == 2 and "weights list" in _one_line(r)
    assert cli("weights", "verify").code == 0  # no names: a report of what is there


def test_bad_device_is_usage(cli, demo):
    r = cli("run", demo, "-m", MODEL, "-q", "--device", "tpu")
    assert r.code == 2 and "tpu" in _one_line(r)


def test_report_reads_a_jsonl_with_a_torn_last_line(cli, demo, tmp_path):
    out = tmp_path / "r.jsonl"
    r = cli("run", demo, "-m", MODEL, "-q", "-f", "jsonl")
    assert r.code == 0
    out.write_text(r.out + r.out.strip()[: len(r.out) // 2])  # a crash mid-write of the second line
    r = cli("report", out, "-o", tmp_path / "rep")
    assert r.code == 0, r.err
    assert (tmp_path / "rep" / "index.html").is_file()
    out.write_text("not json\n" + r.out)
    r = cli("report", out, "-o", tmp_path / "rep2")
    assert r.code == 2 and "avlocate batch" in _one_line(r)


# -- 7, 8: a wrong weights file: short, with what to do -------------------------------------------

def test_wrong_file_for_an_extractor_is_a_short_line(cli, tmp_path, repo_root, home):
    r = cli("weights", "import", repo_root / "avlocate" / "assets" / "weights" / "lite-demo.safetensors", "--from", "i3d-rgb")
    assert r.code == 5
    line = _one_line(r)
    assert len(line) < 600 and "missing" in line and "--from" in line
    torch.save({101: torch.zeros(2)}, tmp_path / "k.pt")  # a dict, but not of named tensors
    r = cli("weights", "import", tmp_path / "k.pt", "--from", "i3d-flow")
    assert r.code == 5 and "named tensors" in _one_line(r)


# -- 4: every model the README names can be used ---------------------------------------------------

def test_models_lists_zeroshot_and_the_readme_names_only_real_models(cli, repo_root):
    r = cli("models")
    assert r.code == 0 and "zeroshot" in r.out
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Models and extractors", 1)[1].split("\n\n", 2)[1]
    first_cells = [line.split("|")[1] for line in table.splitlines()[2:]]
    for cell in first_cells:
        assert "-weakly" not in cell  # heads to train, not models to run


def test_head_variant_as_model_says_how_to_get_one(cli, demo):
    r = cli("run", demo, "-m", "vscg-weakly", "-q")
    assert r.code == 5 and "train-segment --head vscg-weakly" in _one_line(r)


def test_batch_refuses_zeroshot_in_one_line(cli, tmp_path, repo_root):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes((repo_root / "samples" / "demo1.mp4").read_bytes())
    r = cli("batch", tmp_path / "v", "--out", tmp_path / "r.jsonl", "-m", "zeroshot")
    assert r.code == 2 and "--labels" in _one_line(r) and not (tmp_path / "r.jsonl").exists()


# -- 4, 14: Python takes the CLI's names and refuses what the CLI refuses ---------------------------

def test_locate_takes_the_cli_option_names(demo):
    result = avlocate.locate(str(demo), model=MODEL, device="cpu", scores=True)
    assert result.extra["scores"]["classes"] == ["bell", "siren", "engine", "drum"]
    with pytest.raises(errors.UsageError, match="outside"):
        avlocate.locate(str(demo), model=MODEL, threshold=3)
    with pytest.raises(errors.UsageError, match="no option 'colour'"):
        avlocate.locate(str(demo), model=MODEL, colour=True)
    with pytest.raises(errors.UsageError, match="--labels does not apply to model .*; it needs --model zeroshot"):
        avlocate.locate(str(demo), model=MODEL, labels=["bell"])


def test_locate_zeroshot_from_python(demo, home):
    """The zero-shot path is reached (here it stops at its missing library or weights, in one line)."""
    with pytest.raises(errors.AvlocateError) as caught:
        avlocate.locate(str(demo), model="zeroshot", labels=["bell", "drum"], device="cpu")
    message = str(caught.value)
    assert "no model named" not in message and "clip" in message.lower()


# -- 5: the audio-only message names something the user can do ------------------------------------

def test_audio_only_file_says_what_to_do(cli, bad_inputs):
    r = cli("run", bad_inputs["audio_only"], "-m", MODEL, "-q")
    line = _one_line(r)
    assert r.code == errors.MediaError.exit_code and "no video stream" in line
    assert "request audio only" not in line and "pass the video file" in line


# -- 12: Python sees the times JSON shows ---------------------------------------------------------

def test_event_times_are_milliseconds_in_python_too(demo):
    result = avlocate.locate(str(demo), model=MODEL, device="cpu")
    assert result.events
    for event, as_json in zip(result.events, result.to_dict()["events"]):
        assert (event.start, event.end) == (as_json["start"], as_json["end"])
        assert event.start == round(event.start, 3)


# -- 15, 16: one default device; help that says what the defaults are -----------------------------

def _help(cli, *command) -> str:  # noqa: ANN001
    r = cli(*command, "--help")
    assert r.code == 0
    return " ".join(r.out.replace("│", " ").split())


@pytest.mark.parametrize("command", [("run",), ("batch",), ("train",), ("train-segment",), ("evaluate-segment",)])
def test_device_defaults_to_auto_everywhere(cli, command):
    text = _help(cli, *command)
    assert "[default: auto]" in text, text


def test_help_shows_the_zeroshot_defaults_and_every_option_has_help(cli):
    from avlocate.zeroshot.scoring import ZeroShotConfig

    text = _help(cli, "run")
    assert f"zeroshot: {ZeroShotConfig().threshold:g}" in text
    assert f"default {ZeroShotConfig().min_duration:g}" in text
    import typer.main

    from avlocate.cli import app

    # typer vendors click: test parameters by kind, not by click's classes
    group = typer.main.get_command(app)
    checked = 0
    for name, command in group.commands.items():
        subcommands = command.commands.items() if hasattr(command, "commands") else [(name, command)]
        for sub, cmd in subcommands:
            for param in cmd.params:
                if param.param_type_name == "option" and param.name != "help":
                    assert param.help, f"{name} {sub}: {param.opts} has no help text"
                    checked += 1
    assert checked > 50  # the walk reached the options


# -- 17: Ctrl-C says so ---------------------------------------------------------------------------

def test_interrupt_prints_a_line(cli, demo, monkeypatch):
    import avlocate.pipeline.video as pipeline

    def interrupted(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "locate_with", interrupted)
    r = cli("run", demo, "-q")
    assert r.code == errors.EXIT_INTERRUPTED and "interrupted" in _one_line(r)


@pytest.mark.parametrize("command", [("run",), ("batch",), ("weights", "import"), ("samples", "make")])
def test_help_shows_flags_as_flags_and_names_the_arguments(cli, command):
    text = _help(cli, *command)
    assert "<bool>" not in text and "\\[" not in text
    assert "{videos}" not in text and "{folder}" not in text


def test_readme_run_options_are_the_commands_options(repo_root):
    """Every option the README's `run` table names exists, and every `run` option is in the table."""
    import re

    import typer.main

    from avlocate.cli import app

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    table = readme.split("Options of `run`:", 1)[1].split("\n\n", 2)[1]
    documented = {m for row in table.splitlines()[2:] for m in re.findall(r"--[a-z][a-z-]*", row.split("|")[1])}
    group = typer.main.get_command(app)
    actual = {opt for p in group.commands["run"].params if p.param_type_name == "option" for opt in p.opts
              if opt.startswith("--") and opt != "--help"}
    assert documented - {"--debug"} == actual


@pytest.mark.parametrize("source", ["i3d-rgb", "official-unav"])
def test_unreadable_checkpoint_never_advises_unsafe_loading(cli, tmp_path, home, source):
    (tmp_path / "p.pt").write_bytes(b"garbage, not a checkpoint")
    (tmp_path / "cls.txt").write_text("a\nb\n")
    r = cli("weights", "import", tmp_path / "p.pt", "--from", source, "--as", "x", "--classes", tmp_path / "cls.txt")
    line = _one_line(r)
    assert r.code == 5 and "weights_only" not in line and "give" in line and len(line) < 400
