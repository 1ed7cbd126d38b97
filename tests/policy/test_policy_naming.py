"""Environment types inferred from names (API.md, "Catalog and state")."""

import pytest

from versioner.policy.catalog.naming import infer_environment_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("prod1", "production"),
        ("production-us-east", "production"),
        ("live", "production"),
        ("Production", "production"),
        ("preprod", "staging"),
        ("uat", "staging"),
        ("staging-eu", "staging"),
        ("qa-1", "test"),
        ("integration", "test"),
        ("test", "test"),
        ("sandbox", "dev"),
        ("local", "dev"),
        ("dev", "dev"),
        ("foo", "dev"),
        ("", "dev"),
    ],
)
def test_a_keyword_in_the_name_decides_the_type(name: str, expected: str) -> None:
    assert infer_environment_type(name) == expected


def test_pre_prod_is_production_since_pre_is_no_keyword_and_prod_is() -> None:
    assert infer_environment_type("pre-prod") == "production"


def test_the_first_keyword_token_wins_over_later_ones() -> None:
    assert infer_environment_type("qa-prod") == "test"
    assert infer_environment_type("prod-qa") == "production"


def test_a_keyword_inside_a_longer_word_does_not_count() -> None:
    assert infer_environment_type("product-demo") == "dev"
