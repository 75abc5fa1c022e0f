"""Option types shared by the commands, validated before any work starts."""

from __future__ import annotations

import math

import click


class FiniteFloat(click.ParamType):
    """A float that must be finite and at least ``minimum`` (exclusive with ``strict``)."""

    name = "number"

    def __init__(self, minimum: float | None = None, strict: bool = False) -> None:
        self.minimum, self.strict = minimum, strict

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Parse and range-check the value."""
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.minimum is not None and (
            number < self.minimum or (self.strict and number == self.minimum)
        ):
            relation = ">" if self.strict else ">="
            self.fail(f"{value!r} must be {relation} {self.minimum}", param, ctx)
        return number


ACCELERATION = FiniteFloat(1.0)
NON_NEGATIVE = FiniteFloat(0.0)


class Fraction(FiniteFloat):
    """A float strictly between 0 and 1."""

    name = "fraction"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Parse and check ``0 < value < 1``."""
        number = super().convert(value, param, ctx)
        if not 0 < number < 1:
            self.fail(f"{value!r} must lie strictly between 0 and 1", param, ctx)
        return number


FRACTION = Fraction()

# The upper bound is checked by learned.adapt.check_steps (importing torch here would slow
# every command's start-up).
adapt_option = click.option(
    "--adapt",
    default=0,
    metavar="STEPS",
    type=click.IntRange(min=0),
    show_default=True,
    help="Learned methods: first adapt to each slice's own measured k-space, at most STEPS "
    "self-supervised steps (early-stopped; 0: off).",
)

overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace an existing output file."
)
