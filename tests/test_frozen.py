"""@frozen behaves as @dataclass(frozen=True): the same class, built twice, answers alike."""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from holystack.frozen import frozen


def _twins() -> tuple[Any, Any]:
    """The same class body made by dataclass(frozen=True) and by @frozen."""
    made = []
    for decorate in (dataclass(frozen=True), frozen):
        class Case:
            a: int
            b: dict[str, int] = field(default_factory=dict, hash=False)
            c: str = field(default="x", compare=False)
            d: int = field(default=1, repr=False)
        made.append(decorate(Case))
    return made[0], made[1]


def _outcome(call: Callable[[], Any]) -> str:
    try:
        return repr(call())
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return f"{type(exc).__name__}: {exc}"


USES: dict[str, Callable[[Any], Any]] = {
    "repr": lambda cls: cls(1, {"k": 1}, "p"),
    "equal, c not compared": lambda cls: cls(1, {}, "p") == cls(1, {}, "q"),
    "unequal": lambda cls: cls(1, {}) == cls(2, {}),
    "not equal to another type": lambda cls: cls(1) == (1,),
    "hash, b not hashed": lambda cls: hash(cls(1, {"k": 1})) == hash(cls(1, {"j": 2})),
    "hash value": lambda cls: hash(cls(7, {}, "z", 3)),
    "by name and defaults": lambda cls: cls(d=3, a=1),
    "a fresh default each": lambda cls: cls(1).b is not cls(1).b,
    "fields": lambda cls: [f.name for f in dataclasses.fields(cls)],
    "replace": lambda cls: dataclasses.replace(cls(1, {}, "p"), a=5),
    "asdict": lambda cls: dataclasses.asdict(cls(1, {"k": 1})),
    "vars": lambda cls: vars(cls(1)),
    "match args": lambda cls: cls.__match_args__,
    "signature": lambda cls: str(inspect.signature(cls)),
    "doc": lambda cls: cls.__doc__,
    "assign": lambda cls: setattr(cls(1), "a", 2),
    "assign a new name": lambda cls: setattr(cls(1), "z", 2),
    "delete": lambda cls: delattr(cls(1), "a"),
    "missing": lambda cls: cls(),
    "too many": lambda cls: cls(1, {}, "p", 2, 3),
    "twice": lambda cls: cls(1, a=2),
    "unknown name": lambda cls: cls(1, e=3),
}


@pytest.mark.parametrize("use", USES)
def test_frozen_answers_as_dataclass_frozen(use: str) -> None:
    made_by_dataclass, made_by_frozen = _twins()
    expected, got = _outcome(lambda: USES[use](made_by_dataclass)), _outcome(lambda: USES[use](made_by_frozen))
    assert got == expected


def test_several_missing_arguments_are_named_as_python_names_them() -> None:
    @frozen
    class Three:
        a: int
        b: int
        c: int

    with pytest.raises(TypeError, match=r"missing 3 required positional arguments: 'a', 'b', and 'c'"):
        Three()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"missing 2 required positional arguments: 'b' and 'c'"):
        Three(1)  # type: ignore[call-arg]


def test_a_method_the_class_defines_is_kept() -> None:
    @frozen
    class Own:
        a: int

        def __repr__(self) -> str:
            return "own"

    assert repr(Own(1)) == "own" and Own(1) == Own(1) and hash(Own(1)) == hash((1,))


def test_what_frozen_cannot_do_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="__post_init__ is not supported"):
        @frozen
        class Post:
            a: int

            def __post_init__(self) -> None:
                pass
    with pytest.raises(TypeError, match="init=False fields are not supported"):
        @frozen
        class Hidden:
            a: int = field(init=False)
