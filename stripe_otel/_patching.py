"""Installing and removing wrappers so that ``uninstrument()`` restores things exactly.

Each :class:`Patch` remembers the attribute as it stood in the owner's own ``__dict__``
(or that it was inherited), and puts exactly that back. A patch whose target is missing
(a stripe version that moved a private method) is skipped with a warning: fail open.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

import wrapt

_logger = logging.getLogger("stripe_otel")
_MISSING = object()


class Patch:
    """One wrapper for ``module.owner.attribute`` (``owner`` "" for a module function)."""

    __slots__ = ("_original", "_target", "attribute", "module", "owner", "wrapper")

    def __init__(
        self, module: str, owner: str, attribute: str, wrapper: Callable[..., Any]
    ) -> None:
        self.module = module
        self.owner = owner
        self.attribute = attribute
        self.wrapper = wrapper
        self._original: Any = _MISSING
        self._target: Any = None

    def __repr__(self) -> str:
        return f"Patch({self.module}:{self.owner}.{self.attribute})"

    @property
    def applied(self) -> bool:
        return self._target is not None

    def apply(self) -> bool:
        """Wrap the target. Returns False (and logs) if it does not exist."""
        if self.applied:
            return True
        try:
            target = importlib.import_module(self.module)
            for name in self.owner.split(".") if self.owner else ():
                target = getattr(target, name)
            getattr(target, self.attribute)
        except (ImportError, AttributeError):
            _logger.warning(
                "stripe-otel: %s.%s.%s not found; that part is not instrumented. "
                "This stripe version may be newer than stripe-otel supports.",
                self.module,
                self.owner,
                self.attribute,
            )
            return False
        self._original = vars(target).get(self.attribute, _MISSING)
        wrapt.wrap_function_wrapper(target, self.attribute, self.wrapper)
        self._target = target
        return True

    def remove(self) -> None:
        """Put back exactly what was there (or delete ours if it was inherited)."""
        target, self._target = self._target, None
        if target is None:
            return
        if self._original is _MISSING:
            delattr(target, self.attribute)
        else:
            setattr(target, self.attribute, self._original)
        self._original = _MISSING
