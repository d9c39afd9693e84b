"""The plugin registry: name -> plugin class (or any factory ``(args, handle) -> Plugin``).

``in_tree_registry()`` holds the built-in plugins; user code registers its own with
``registry.register(MyPlugin)`` and passes the registry to the Framework/Scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.components.scheduler.interfaces import Handle, Plugin

PluginFactory = Callable[[dict[str, Any] | None, Handle], Plugin]


class Registry(dict[str, PluginFactory]):
    """Plugin factories by name."""

    def register(self, factory: PluginFactory, name: str | None = None) -> PluginFactory:
        """Register a plugin class (its ``name`` attribute) or a named factory; usable as a decorator."""
        key = name or getattr(factory, "name", "")
        if not key:
            raise ValueError("a plugin factory needs a name")
        if key in self:
            raise ValueError(f"a plugin named {key} already exists")
        self[key] = factory
        return factory

    def merged(self, other: Registry) -> Registry:
        out = Registry(self)
        for name, factory in other.items():
            out.register(factory, name)
        return out


def in_tree_registry() -> Registry:
    """The built-in plugins."""
    from kubesim.components.scheduler.plugins import IN_TREE

    reg = Registry()
    for cls in IN_TREE:
        reg.register(cls)
    return reg
