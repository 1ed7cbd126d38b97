"""The JSON Schema patterns the OpenAPI document gives for statuses and names say exactly what
the validators accept."""

import re
import sys

import pytest

from versioner.common.status import (
    BUILD_ALIASES,
    DEPLOYMENT_ALIASES,
    LOWERED,
    Status,
    parse_status,
    status_pattern,
)
from versioner.common.types import NAME_PATTERN, SINGLE_LINE_PATTERN, STRIPPED, single_line

EVERY_CHARACTER = [chr(code) for code in range(sys.maxunicode + 1)]


def test_stripped_is_what_str_strip_removes() -> None:
    stripped = re.compile(STRIPPED)
    assert [c for c in EVERY_CHARACTER if stripped.fullmatch(c)] == [
        c for c in EVERY_CHARACTER if c.isspace()
    ]


def test_lowered_is_every_non_ascii_character_lower_makes_an_ascii_letter() -> None:
    found = {
        c.lower(): c
        for c in EVERY_CHARACTER
        if not c.isascii() and len(c.lower()) == 1 and c.lower().isascii() and c.lower().isalpha()
    }
    assert found == LOWERED


@pytest.mark.parametrize("aliases", [BUILD_ALIASES, DEPLOYMENT_ALIASES])
def test_the_status_pattern_accepts_what_parse_status_does(aliases: dict[str, Status]) -> None:
    pattern = re.compile(status_pattern(aliases))
    samples = [
        *aliases,
        *(alias.upper() for alias in aliases),
        " Success\t",
        "s\u212aipped",
        "\u3000failed\x1c",
        "",
        "succes",
        "success!",
        "in progress",
        "\u0130nit",
        "xsuccess",
    ]
    for sample in samples:
        try:
            parse_status(sample, aliases)
            accepted = True
        except ValueError:
            accepted = False
        assert (pattern.fullmatch(sample) is not None) == accepted, repr(sample)


def test_the_name_patterns_accept_what_the_validators_do() -> None:
    line, name = re.compile(SINGLE_LINE_PATTERN), re.compile(NAME_PATTERN)
    for char in EVERY_CHARACTER[:0x3100]:
        for sample in (char, f"a{char}", f"{char} "):
            try:
                single_line(sample)
                one_line = True
            except ValueError:
                one_line = False
            assert (line.fullmatch(sample) is not None) == one_line, repr(sample)
            assert (name.fullmatch(sample) is not None) == (one_line and bool(sample.strip()))
