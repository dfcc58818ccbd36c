"""A third-party extractor arrives through the `avlocate.extractors` entry-point group.

The venv is never changed: the tiny plugin is an importable module plus a ``.dist-info`` folder
with ``entry_points.txt`` on a temporary PYTHONPATH, which is what `pip install` would create.
`avlocate models` runs in a fresh process that sees it; the other tests run the CLI in this
process with the folder on ``sys.path`` and the registries as a fresh process has them (plugins
not looked up yet), which saves a new interpreter's imports per test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = textwrap.dedent('''
    """A test plugin: the lite features under another name, marking that it was used."""
    from avlocate.features.lite import LiteExtractor


    class TinyExtractor(LiteExtractor):
        name = "tinyplug"

        def extract(self, clip):
            features = super().extract(clip)
            features.warnings["tinyplug"] = "used"
            return features
''')


def make_site(root: Path, module: str, source: str | None, entry_points: dict[str, str]) -> Path:
    """A folder that, on sys.path, looks like an installed distribution with these entry points."""
    site = root / "site"
    site.mkdir(parents=True, exist_ok=True)
    if source is not None:
        (site / f"{module}.py").write_text(source)
    dist = site / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[avlocate.extractors]\n{lines}")
    return site


def run_avlocate(args: list[str], site: Path, extra_env: dict[str, str], repo_root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, **extra_env)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(repo_root), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "avlocate", *args], capture_output=True, text=True,
                          env=env, cwd=repo_root, timeout=120)


@pytest.fixture()
def fresh_registries(monkeypatch):
    """The registries as a new process has them: built-ins registered, entry points not read yet
    (they are read on first lookup, from ``sys.path`` as it is then). Restored afterwards, and a
    plugin module imported meanwhile is forgotten, so no other test sees it."""
    from avlocate import registry

    registry.EXTRACTORS.names()  # the built-ins (and any plugin of the venv, as a new process would)
    for reg in (registry.EXTRACTORS, registry.HEADS, registry.IMPORTERS):
        monkeypatch.setattr(reg, "_items", dict(reg._items))
        monkeypatch.setattr(reg, "_plugins_loaded", False)
        monkeypatch.setattr(reg, "plugin_errors", {})
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] in ("tinyplug", "tinyplug_not_there"):
            del sys.modules[name]


@pytest.fixture()
def plugin_env(tmp_path, repo_root):
    site = make_site(tmp_path, "tinyplug", PLUGIN, {"tinyplug": "tinyplug:TinyExtractor",
                                                    "broken-plug": "tinyplug_not_there:Nothing"})
    # A model card that uses the plugin extractor: the bundled demo head and weights, whose
    # features the plugin reproduces; only the extractor name differs.
    card = json.loads((repo_root / "avlocate" / "assets" / "weights" / "lite-demo.json").read_text())
    card["name"] = "tinyplug-demo"
    card["extractor"] = card["feature_protocol"]["extractor"] = "tinyplug"
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "tinyplug-demo.json").write_text(json.dumps(card))
    return site, {"AVLOCATE_WEIGHTS": str(weights), "AVLOCATE_HOME": str(tmp_path / "home")}


def test_plugin_is_listed_and_a_broken_one_reported(plugin_env, repo_root):
    site, env = plugin_env
    r = run_avlocate(["models"], site, env, repo_root)
    assert r.returncode == 0, r.stderr
    extractors = next(line for line in r.stdout.splitlines() if line.startswith("extractors:"))
    assert "tinyplug" in extractors.split(": ", 1)[1].split(", ")
    assert "lite" in extractors  # built-ins still there
    assert "tinyplug-demo" in r.stdout
    assert "plugin extractor 'broken-plug' failed to load: ModuleNotFoundError" in r.stdout


def test_plugin_is_invisible_without_its_distribution(cli, fresh_registries, tmp_path, monkeypatch):
    monkeypatch.setenv("AVLOCATE_HOME", str(tmp_path / "home"))
    r = cli("models")
    assert r.code == 0 and "tinyplug" not in r.out


def test_run_uses_the_plugin_extractor(cli, fresh_registries, plugin_env, repo_root, monkeypatch):
    import avlocate

    site, env = plugin_env
    monkeypatch.syspath_prepend(str(site))  # what PYTHONPATH=site gives a new process
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    video = repo_root / "samples" / "demo1.mp4"
    r = cli("run", video, "--model", "tinyplug-demo", "--device", "cpu", "-q")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["extractor"] == "tinyplug" and data["model"] == "tinyplug-demo"
    assert data["warnings"].get("tinyplug") == "used"
    # same features as the bundled demo's extractor, so the same events
    ref = avlocate.locate(str(video), model="lite-demo", device="cpu")
    assert [(e["label"], e["start"], e["end"]) for e in data["events"]] == \
        [(e.label, pytest.approx(e.start, abs=1e-3), pytest.approx(e.end, abs=1e-3)) for e in ref.events]
    assert data["events"]
