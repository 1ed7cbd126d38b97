"""Environment types inferred from names (API.md, "Catalog and state")."""

import re

from versioner.common.resources import EnvironmentType

_KEYWORDS: dict[str, EnvironmentType] = {
    "dev": "dev",
    "local": "dev",
    "sandbox": "dev",
    "test": "test",
    "qa": "test",
    "integration": "test",
    "staging": "staging",
    "uat": "staging",
    "preprod": "staging",
    "production": "production",
    "prod": "production",
    "live": "production",
}


def infer_environment_type(name: str) -> EnvironmentType:
    """The first word of the name that is a keyword decides (`prod1` → production); else dev."""
    for token in re.split(r"[^a-z]+", name.lower()):
        if token in _KEYWORDS:
            return _KEYWORDS[token]
    return "dev"
