"""@frozen: a frozen dataclass that costs nothing to compile.

Python 3.11's @dataclass(frozen=True) compiles six methods from source for every class, when its
module is imported: __init__, __setattr__, __delattr__, __eq__, __hash__ and __repr__. Over the fifty
classes a render loads, that was a quarter of its time above the import floor (issue 18). @frozen
lets dataclass collect the fields (dataclasses.fields, replace and asdict work on the class) and
gives every class the same six methods, written once here, which read the fields from the class.

They behave as dataclass's: __init__ takes the fields in order, positionally or by name, with their
defaults and default factories, and refuses what dataclass's refuses with Python's own TypeError
messages; assigning or deleting an attribute raises FrozenInstanceError; instances are equal when of
the same class with equal compared fields, hash as the tuple of the hashed fields (field(compare=...,
hash=...) honoured: the same hash values); repr is `Name(field=value, ...)` of the shown fields; the
class's signature and, without a docstring, its __doc__ are dataclass's (made when first read). A
method the class defines itself is kept. Not supported: __post_init__, kw_only fields and fields
outside __init__ (refused when the class is made), InitVar; a subclass's own attributes are frozen
too."""
from __future__ import annotations

import inspect
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T", bound=type)
# Each class keeps what the shared methods read in class attributes named _frozen_*: its fields'
# names, their defaults, and the getters of the compared, hashed and shown ones.


class _Factory:
    """A field's default_factory, told apart from a default value."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def _bound(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The value of every field, in order, from __init__'s arguments: by position, by name, else the
    default; TypeError as Python words it for a function of these parameters."""
    names: tuple[str, ...] = cls._frozen_names  # type: ignore[attr-defined]
    defaults: dict[str, Any] = cls._frozen_defaults  # type: ignore[attr-defined]
    where = f"{cls.__qualname__}.__init__()"
    if len(args) > len(names):
        most, least = len(names) + 1, len(names) + 1 - len(defaults)  # self counts
        takes = f"{most}" if least == most else f"from {least} to {most}"
        raise TypeError(f"{where} takes {takes} positional arguments but {len(args) + 1} were given")
    for name in names[:len(args)]:
        if name in kwargs:
            raise TypeError(f"{where} got multiple values for argument {name!r}")
    values, missing = list(args), []
    for name in names[len(args):]:
        if name in kwargs:
            values.append(kwargs.pop(name))
        elif name in defaults:
            default = defaults[name]
            values.append(default.make() if isinstance(default, _Factory) else default)
        else:
            missing.append(name)
    if missing:
        quoted = [repr(name) for name in missing]
        listed = quoted[0] if len(quoted) == 1 else (
            f"{quoted[0]} and {quoted[1]}" if len(quoted) == 2 else f"{', '.join(quoted[:-1])}, and {quoted[-1]}")
        plural = "s" if len(missing) > 1 else ""
        raise TypeError(f"{where} missing {len(missing)} required positional argument{plural}: {listed}")
    if kwargs:
        raise TypeError(f"{where} got an unexpected keyword argument {next(iter(kwargs))!r}")
    return tuple(values)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    names = self._frozen_names
    if kwargs or len(args) != len(names):
        args = _bound(type(self), args, kwargs)
    # What dataclass's frozen __init__ does field by field (object.__setattr__), in one step.
    self.__dict__.update(zip(names, args))


def _setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


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


METHODS = {"__init__": _init, "__setattr__": _setattr, "__delattr__": _delattr, "__eq__": _eq,
           "__hash__": _hash, "__repr__": _repr}


def _values(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of an object as a tuple, as dataclass's methods compare and hash them."""
    if len(names) == 1:
        one = attrgetter(names[0])  # attrgetter of one name gives the value itself, not a 1-tuple
        return lambda obj: (one(obj),)
    return attrgetter(*names) if names else lambda obj: ()


def _hashed(f: Field[Any]) -> bool:
    return f.compare if f.hash is None else f.hash


class _Shown:
    """A default as a signature shows it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_FACTORY_SHOWN = _Shown("<factory>")  # as dataclass's signatures show a default factory


class _Signature:
    """A class's __signature__, __init__'s as dataclass writes it, made when first read (inspect, help)."""

    def __init__(self, every: tuple[Field[Any], ...]) -> None:
        self.every, self.made = every, None

    def __get__(self, obj: Any, owner: type) -> inspect.Signature:
        if self.made is None:
            def default(f: Field[Any]) -> Any:
                return f.default if f.default is not MISSING else (
                    _FACTORY_SHOWN if f.default_factory is not MISSING else inspect.Parameter.empty)
            self.made = inspect.Signature([inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                             default=default(f), annotation=f.type)
                                           for f in self.every], return_annotation=None)
        return self.made


class _Doc:
    """The __doc__ dataclass gives a class without a docstring (its name and signature), made when first read."""

    def __get__(self, obj: Any, owner: type) -> str:
        return owner.__name__ + str(inspect.signature(owner)).replace(" -> None", "")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: T) -> T:
    """The class as @dataclass(frozen=True) makes it, with the shared methods."""
    body = dict(cls.__dict__)
    if "__post_init__" in body:
        raise TypeError(f"@frozen {cls.__qualname__}: __post_init__ is not supported; use @dataclass(frozen=True)")
    # As dataclass decides: a __hash__ of None beside the class's own __eq__ is Python's, not the class's.
    own = {name for name in METHODS if name in body} - (
        {"__hash__"} if body.get("__hash__", MISSING) is None and "__eq__" in body else set())
    if not body.get("__doc__"):
        cls.__doc__ = "-"  # written below; spares dataclass a signature of object.__init__ for it
    made: Any = dataclass(init=False, repr=False, eq=False)(cls)
    every = fields(made)
    if any(not f.init or f.kw_only is True for f in every):
        raise TypeError(f"@frozen {cls.__qualname__}: kw_only and init=False fields are not supported")
    made._frozen_names = tuple(f.name for f in every)
    made._frozen_defaults = {f.name: f.default if f.default is not MISSING else _Factory(f.default_factory)
                             for f in every if f.default is not MISSING or f.default_factory is not MISSING}
    made._frozen_compared = staticmethod(_values([f.name for f in every if f.compare]))
    made._frozen_hashed = staticmethod(_values([f.name for f in every if _hashed(f)]))
    made._frozen_shown = tuple(f.name for f in every if f.repr)
    for name, method in METHODS.items():
        if name not in own:
            setattr(made, name, method)
    if "__init__" not in own:
        made.__signature__ = _Signature(every)
    if not body.get("__doc__"):
        made.__doc__ = _Doc()
    return made
