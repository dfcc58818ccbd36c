"""Name -> factory registries for extractors and heads, extended by installed entry points.

Built-in classes register themselves with ``@EXTRACTORS.register("name")``. Third-party packages
declare entry points in the groups ``avlocate.extractors`` / ``avlocate.heads``; they are loaded
lazily, and one that fails to import is recorded in ``plugin_errors`` instead of breaking the CLI.
Plugins come only from installed entry points: nothing is ever imported from a path or a URL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

from .errors import ModelError

T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    kind: str  # "extractor" or "head": used in messages
    group: str  # entry-point group
    _items: dict[str, T] = field(default_factory=dict)
    _plugins_loaded: bool = False
    plugin_errors: dict[str, str] = field(default_factory=dict)

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                continue  # built-ins win; a plugin cannot silently replace them
            try:
                self._items[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin must not break avlocate
                self.plugin_errors[ep.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def get(self, name: str) -> T:
        _load_builtins()
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            if name in self.plugin_errors:
                raise ModelError(
                    f"{self.kind} {name!r} is installed but failed to load ({self.plugin_errors[name]})"
                ) from None
            known = ", ".join(sorted(self._items)) or "none"
            raise ModelError(f"unknown {self.kind} {name!r}; installed: {known} (see `avlocate models`)") from None

    def names(self) -> list[str]:
        _load_builtins()
        self._load_plugins()
        return sorted(self._items)

    def items(self) -> dict[str, Any]:
        _load_builtins()
        self._load_plugins()
        return dict(sorted(self._items.items()))


EXTRACTORS: Registry[Any] = Registry("extractor", "avlocate.extractors")
HEADS: Registry[Any] = Registry("head", "avlocate.heads")
#: ``weights import --from NAME`` converters that build a module (a head, an extractor network):
#: registered beside the module whose layout they know (see avlocate.weights.weight_import).
IMPORTERS: Registry[Any] = Registry("import source", "avlocate.importers")

_builtins_loaded = False


def _load_builtins() -> None:
    """Import the modules whose import registers the built-in extractors and heads."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from . import builtins  # noqa: F401  (side effect: registrations)
