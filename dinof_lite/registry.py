"""Named registries (score_sde_pytorch style): look components up by name, list valid names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["Registry"]

T = TypeVar("T", bound=type)


class Registry(dict):
    """A ``{name: class}`` dict with a ``register`` decorator and a ``lookup`` that explains misses.

    >>> PREDICTORS = Registry("predictor")
    >>> @PREDICTORS.register("euler_maruyama")
    ... class EulerMaruyama: ...
    >>> PREDICTORS.lookup("euler_maruyama") is EulerMaruyama
    True
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """Class decorator: store the class under ``name`` (and set its ``name`` attribute)."""

        def decorator(cls: T) -> T:
            if name in self and not overwrite:
                raise ValueError(f"{self.kind} {name!r} is already registered; pass overwrite=True")
            cls.name = name
            self[name] = cls
            return cls

        return decorator

    def lookup(self, name: str | type) -> type:
        """The class registered as ``name``; a class is passed through unchanged."""
        if isinstance(name, type):
            return name
        try:
            return self[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid: {', '.join(sorted(self))}"
            ) from None
