"""Registries: built-ins by name, plugins only from installed entry points, broken plugins reported."""
from importlib.metadata import EntryPoint

import pytest

import avlocate.registry as registry
from avlocate.errors import ModelError


@pytest.fixture
def fake_plugins(monkeypatch):
    eps = [
        EntryPoint("plugin-head", "avlocate.heads.lite:LiteAVHead", "avlocate.heads"),
        EntryPoint("broken-head", "avlocate_no_such_module:Head", "avlocate.heads"),
        EntryPoint("lite-av", "avlocate_no_such_module:Impostor", "avlocate.heads"),  # may not replace a built-in
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: [e for e in eps if e.group == group])
    monkeypatch.setattr(registry.HEADS, "_items", dict(registry.HEADS.items()))
    monkeypatch.setattr(registry.HEADS, "_plugins_loaded", False)
    monkeypatch.setattr(registry.HEADS, "plugin_errors", {})
    return registry.HEADS


def test_builtins_are_registered():
    assert {"lite-av", "unav", "ccnet", "esgnet", "vscg", "avsgn"} <= set(registry.HEADS.names())
    assert {"lite", "i3d-vggish"} <= set(registry.EXTRACTORS.names())


def test_plugins_load_and_broken_ones_are_reported(fake_plugins):
    from avlocate.heads.lite import LiteAVHead

    assert fake_plugins.get("plugin-head") is LiteAVHead
    assert fake_plugins.get("lite-av") is LiteAVHead  # the built-in wins over the impostor
    assert "broken-head" in fake_plugins.plugin_errors
    with pytest.raises(ModelError, match="failed to load"):
        fake_plugins.get("broken-head")
    with pytest.raises(ModelError, match="unknown head 'nope'"):
        fake_plugins.get("nope")


def test_models_command_survives_a_broken_plugin(fake_plugins, cli):
    r = cli("models")
    assert r.code == 0
    assert "plugin-head" in r.out
    assert "broken-head" in r.out and "failed to load" in r.out
