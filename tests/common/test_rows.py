"""Public models read off rows: fields by attribute, keywords for the rest, tags kept."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, ValidationError

from versioner.common.rows import public


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class ThingPublic(BaseModel):
    kind: Literal["thing"] = "thing"
    name: str
    colour: Colour
    owner: str
    label: str = ""


@dataclass
class ThingRow:
    name: str
    colour: str
    kind: str = "webhook"  # a column named like the model's tag
    secret: str = "never shown"


def test_fields_come_from_the_row_and_the_keywords() -> None:
    shown = public(ThingPublic, ThingRow("a", "red"), owner="sam")
    assert shown == ThingPublic(name="a", colour=Colour.RED, owner="sam")
    assert shown.colour is Colour.RED  # a stored string validated into its enum


def test_a_keyword_wins_over_the_row() -> None:
    assert public(ThingPublic, ThingRow("a", "red"), owner="sam", name="b").name == "b"


def test_the_tag_is_the_models_own_not_a_column_of_the_same_name() -> None:
    assert public(ThingPublic, ThingRow("a", "blue"), owner="sam").kind == "thing"


def test_a_row_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValidationError):
        public(ThingPublic, ThingRow("a", "green"), owner="sam")
    with pytest.raises(ValidationError):
        public(ThingPublic, ThingRow("a", "red"))  # owner is nowhere
