"""Input checks shared by every public entry point, so error messages read the same."""

from __future__ import annotations

from collections.abc import Iterable


def check_sentences(sentences: Iterable[object], where: str) -> list[str]:
    """Return ``sentences`` as a list, or raise naming the first bad item and its index."""
    if isinstance(sentences, str):
        raise TypeError(f"{where}: expected a list of strings, got a single string")
    try:
        items = list(sentences)
    except TypeError:
        raise TypeError(
            f"{where}: expected a string or a list of strings, got {type(sentences).__name__}"
        ) from None
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(
                f"{where}: item {index} is {item!r} ({type(item).__name__}); expected a string"
            )
        if not item.strip():
            raise ValueError(f"{where}: item {index} is an empty string; expected some text")
    return items


def check_choice(value: object, choices: Iterable[object], name: str, where: str) -> None:
    """Raise ``ValueError`` listing the valid choices when ``value`` is not one of them."""
    options = list(choices)
    if value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise ValueError(f"{where}: unknown {name} {value!r}; expected one of {listed}")


def check_positive_int(value: object, name: str, where: str) -> int:
    """Return ``value`` if it is a positive int, else raise naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: {name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value}")
    return value
