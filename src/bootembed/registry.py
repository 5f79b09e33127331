"""Registries: the project's extension points, one module per entry, discovered from their package.

Every extension point (a synthesis strategy, an evaluation task, a generation backend) is one module of its package
behind one interface, in the style of peft's tuners and sentence-transformers' losses / evaluators. A
:class:`Registry` finds the entries by listing the package's modules, so adding a strategy is adding one module:
the CLI choices, the params validation, the report order and the generated ``dvc.yaml`` all read the registry.

Names come from module names without importing the modules (:meth:`Registry.names`), so validating a params file
or building the CLI never imports torch or mteb; an entry's module is imported when the entry is used
(:meth:`Registry.get`).

Example:
    >>> from bootembed.strategies import STRATEGIES
    >>> "xllora" in STRATEGIES
    True
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind, one per module of ``package``.

    Args:
        kind: what an entry is, for error messages (``"strategy"``).
        package: dotted name of the package holding one module per entry.
        attribute: module attribute holding the entry; its ``name`` attribute (if any) must equal the entry name.
        skip: module names that are not entries (the interface module, shared helpers).
        suffix: only modules whose name ends with this are entries; the entry name drops it
            (``transformers_backend`` -> ``transformers``).
        order: sort key of an entry for :meth:`ordered` (default: name).
    """

    def __init__(
        self,
        kind: str,
        package: str,
        attribute: str,
        *,
        skip: tuple[str, ...] = ("base",),
        suffix: str = "",
        order: Callable[[T], object] | None = None,
    ) -> None:
        self.kind = kind
        self.package = package
        self.attribute = attribute
        self.skip = skip
        self.suffix = suffix
        self._order = order
        self._modules: dict[str, str] | None = None
        self._entries: dict[str, T] = {}

    def _module_names(self) -> dict[str, str]:
        if self._modules is None:
            pkg = importlib.import_module(self.package)
            found: dict[str, str] = {}
            for info in pkgutil.iter_modules(pkg.__path__):
                module = info.name
                if module.startswith("_") or module in self.skip:
                    continue
                if self.suffix and not module.endswith(self.suffix):
                    continue
                name = module[: len(module) - len(self.suffix)] if self.suffix else module
                found[name] = f"{self.package}.{module}"
            self._modules = found
        return self._modules

    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted (module names only: nothing is imported)."""
        return tuple(sorted(self._module_names()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._module_names()

    def module(self, name: str) -> str:
        """Dotted module name of entry ``name`` (nothing is imported).

        Raises:
            ValueError: no such entry.
        """
        self._check(name)
        return self._module_names()[name]

    def _check(self, name: str) -> None:
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of {list(self.names())}")

    def get(self, name: str) -> T:
        """The entry called ``name`` (its module is imported on first use).

        Raises:
            ValueError: no such entry (the message lists the registered names).
            RuntimeError: the module's entry carries another name.
        """
        self._check(name)
        if name not in self._entries:
            module = importlib.import_module(self._module_names()[name])
            entry = getattr(module, self.attribute)
            entry_name = getattr(entry, "name", name)
            if entry_name != name:
                raise RuntimeError(
                    f"{module.__name__}.{self.attribute}: {self.kind} name {entry_name!r} differs from "
                    f"its module's name {name!r}"
                )
            self._entries[name] = entry
        return self._entries[name]

    def ordered(self) -> list[T]:
        """Every entry, imported, sorted by the registry's ``order`` key (then name)."""
        entries = [self.get(name) for name in self.names()]
        if self._order is None:
            return entries
        return sorted(entries, key=lambda e: (self._order(e), getattr(e, "name", "")))  # type: ignore[misc]

    def __iter__(self) -> Iterator[T]:
        return iter(self.ordered())
