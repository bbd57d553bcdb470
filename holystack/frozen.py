"""@frozen: a frozen dataclass, at about half the import cost of @dataclass(frozen=True).

Python 3.11's dataclass compiles six methods from source for every frozen class, when its module is
imported: __init__, __setattr__, __delattr__, __eq__, __hash__ and __repr__. Over the fifty classes a
render loads, that was a fifth of its time above the import floor (issue 18). @frozen lets dataclass
compile the first three and gives every class the same __eq__, __hash__ and __repr__, written once
here. They behave as dataclass's: equal when of the same class with equal compared fields, the hash of
the tuple of the hashed fields (field(compare=..., hash=...) honoured), `Name(field=value, ...)` of the
fields shown, and a method the class defines itself is kept. dataclasses.fields and replace work as
before."""
from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import Field, dataclass, fields
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def _values(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of an object as a tuple, as dataclass's methods compare and hash them."""
    if len(names) == 1:
        one = attrgetter(names[0])  # attrgetter of one name gives the value itself, not a 1-tuple
        return lambda obj: (one(obj),)
    return attrgetter(*names) if names else lambda obj: ()


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return self._frozen_compared(self) == other._frozen_compared(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self._frozen_hashed(self))


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._frozen_shown)
    return f"{self.__class__.__qualname__}({shown})"


def _hashed(field: Field[Any]) -> bool:
    return field.compare if field.hash is None else field.hash


def frozen(cls: T) -> T:
    """The class as @dataclass(frozen=True) makes it, with the shared __eq__, __hash__ and __repr__."""
    body = cls.__dict__
    # As dataclass decides: a __hash__ of None beside the class's own __eq__ is Python's, not the class's.
    own_hash = "__hash__" in body and not (body["__hash__"] is None and "__eq__" in body)
    own = {name for name in ("__eq__", "__repr__") if name in body} | ({"__hash__"} if own_hash else set())
    made = dataclass(frozen=True, eq=False, repr=False)(cls)
    every = fields(made)
    made._frozen_compared = staticmethod(_values([f.name for f in every if f.compare]))
    made._frozen_hashed = staticmethod(_values([f.name for f in every if _hashed(f)]))
    made._frozen_shown = tuple(f.name for f in every if f.repr)
    for name, method in (("__eq__", _eq), ("__hash__", _hash), ("__repr__", _repr)):
        if name not in own:
            setattr(made, name, method)
    return made
