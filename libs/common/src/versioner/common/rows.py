"""Public models read off stored rows: `public(ProductPublic, row, previous_names=[...])`.

Each field of the public model is read from the row's attribute of the same name and
validated (pydantic's `from_attributes`, with keywords laid over): a column added to both is
shown with no code, strings stored for enums (`status`, `role`) are validated into them, and
only what the row does not hold — names joined from other tables, a renamed column, a
computed value — is written out, as keywords. A model's tag (`kind: Literal["channel"]`,
which tells the messages apart) is the model's own, never a column that happens to share
its name (a channel's `kind` is `slack` or `webhook`).
"""

from functools import cache
from typing import Any, Literal, TypeVar, get_origin

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


_ABSENT = object()


@cache
def _read(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields read off a row: all but the model's tags (a `Literal` with its default)."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if not (get_origin(info.annotation) is Literal and not info.is_required())
    )


def public(model: type[M], row: object, **more: Any) -> M:
    """The public model of a row: each field from the row's attribute, or from `more`.

    What `model_validate(row, from_attributes=True)` does, with the keywords laid over the
    row: the attributes are read in one pass (a row on the gate's path is a slotted
    dataclass, and a wrapper answering `getattr` in Python cost four times as much).
    """
    values = {
        name: value
        for name in _read(model)
        if name not in more and (value := getattr(row, name, _ABSENT)) is not _ABSENT
    }
    return model.model_validate({**values, **more})
