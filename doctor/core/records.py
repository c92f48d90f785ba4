"""``@record``: a dataclass whose ``__eq__``, ``__repr__`` and ``__hash__`` are shared, not compiled per class.

``dataclasses.dataclass`` writes each method it adds as source and compiles it when the class is
defined: about 0.1 ms per method, three to six per class. A replay imports some ninety dataclasses,
so that compiling cost more than the diagnosis itself (issue 23: replay within 2x ``import click``).
A ``@record`` class is an ordinary dataclass (``fields``, ``asdict``, ``replace`` and ``__init__``
are dataclasses' own) whose equality, repr and hash are the three functions below, reading the field
names recorded once per class. They give what the generated methods give: equality only between
objects of the very same class, over the ``compare`` fields in order; the ``repr`` fields as
``Name(a=1, b='x')``; for a frozen class the hash of the ``hash`` fields (``compare`` ones when
``hash`` is unset), and none for a mutable one. ``__init__`` is dataclasses' own, compiled when the
first object is made (a replay builds most facts from JSON, without it); a frozen class refuses
assignment and deletion through two shared functions, with dataclasses' FrozenInstanceError. A method
the class body defines is kept, as dataclasses keeps it. A class without a docstring gets its field
names as one (dataclasses would build its full signature with ``inspect``, another 0.08 ms).
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar

try:
    from typing import dataclass_transform
except ImportError:  # Python 3.10: type checkers then read @record as a plain decorator

    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda decorator: decorator


T = TypeVar("T", bound=type)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = self.__record_compare__
    return tuple([getattr(self, n) for n in names]) == tuple([getattr(other, n) for n in names])


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__record_repr__)
    return f"{self.__class__.__qualname__}({shown})"


def _hash(self: Any) -> int:
    return hash(tuple([getattr(self, n) for n in self.__record_hash__]))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _deferred_init(cls: type, frozen: bool) -> Callable[..., None]:
    """An __init__ that compiles dataclasses' own for ``cls`` on its first call and puts it in its place."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        real = cls.__dict__["__init__"]
        if real is __init__:
            real = _compiled_init(cls, frozen)
            real.__qualname__ = f"{cls.__qualname__}.__init__"
            cls.__init__ = real
        real(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _compiled_init(cls: type, frozen: bool) -> Callable[..., None]:
    """dataclasses' __init__ for ``cls``'s fields (in order, with their defaults and factories), made on a
    stand-in class of the same fields: it sets attributes by name (a frozen one through object.__setattr__),
    so it serves ``cls`` as is."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": cls.__module__}
    for f in dataclasses.fields(cls):
        annotations[f.name] = f.type
        namespace[f.name] = dataclasses.field(default=f.default, default_factory=f.default_factory, init=f.init,
                                              repr=False, compare=False)
    stand_in = type(cls.__name__, (), namespace)
    return dataclasses.dataclass(stand_in, eq=False, repr=False, frozen=frozen, match_args=False).__init__


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: T | None = None, /, *, frozen: bool = False, **options: Any) -> Any:
    """``@dataclass`` (``@record(frozen=True)``: ``@dataclass(frozen=True)``), equality, repr and hash shared."""

    def wrap(cls: T) -> T:
        own = set(cls.__dict__)
        # as dataclasses decides: a __hash__ the body wrote, unless it is the None that writing __eq__ implies
        explicit_hash = "__hash__" in own and not (cls.__dict__["__hash__"] is None and "__eq__" in own)
        if not cls.__dict__.get("__doc__"):
            cls.__doc__ = f"{cls.__name__}({', '.join(inspect.get_annotations(cls))})"
        # __init__ is compiled when the first object is made: a replay builds most facts from JSON without
        # it, and imports classes it never makes. A frozen class then refuses assignment through the two
        # functions below rather than through two more methods compiled for it.
        deferred = "__init__" not in own and options.get("init", True) and not options.get("slots")
        if frozen and deferred and {"__setattr__", "__delattr__"} & own:
            raise TypeError(f"frozen {cls.__name__} cannot define __setattr__ or __delattr__")
        cls = dataclasses.dataclass(cls, eq=False, repr=False, frozen=frozen and not deferred,
                                    **{**options, "init": not deferred})
        if deferred:
            cls.__init__ = _deferred_init(cls, frozen)
            if frozen:
                cls.__setattr__ = _frozen_setattr
                cls.__delattr__ = _frozen_delattr
        fields = dataclasses.fields(cls)
        cls.__record_compare__ = tuple(f.name for f in fields if f.compare)
        cls.__record_repr__ = tuple(f.name for f in fields if f.repr)
        cls.__record_hash__ = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        if "__eq__" not in own:
            cls.__eq__ = _eq
        if "__repr__" not in own:
            cls.__repr__ = _repr
        if not explicit_hash:
            cls.__hash__ = _hash if frozen else None
        return cls

    return wrap if cls is None else wrap(cls)
