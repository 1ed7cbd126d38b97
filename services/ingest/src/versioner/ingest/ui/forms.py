"""What the dashboard's forms share: reading a posted field, and the form problem — a refusal
or a failed validation turned into sentences that name each field by its label, with the
inputs to mark.

A section describes its form once (`FormLabels`: the label of each field a message or a
refusal may name, and the input of each field whose input has another name); the same
helper then explains a pydantic `ValidationError` (the message would not build) and a 409 or
422 refusal from policy or the notifier (FastAPI's list form, or one sentence).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from versioner.common.errors import Failure
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui.render import failure_text, render

Problem = tuple[str, str]  # (the form input at fault, a sentence naming it by its label)


class Explained(NamedTuple):
    """A form's problems, and the status of the page that shows them again."""

    problems: list[Problem]
    status_code: int


# Fields whose errors name a part of them (`config.bot_token`): labelled by both names.
_GROUPS = ("config", "filters")


@dataclass(frozen=True)
class FormLabels:
    """How one form names the fields of the message it sends."""

    labels: Mapping[str, str] = field(default_factory=dict)
    # Message fields whose form input has another name (`action` is the `kind` input).
    inputs: Mapping[str, str] = field(default_factory=dict)

    def problem(self, loc: Sequence[Any], message: str) -> Problem:
        """The problem an error at `loc` is: `One-time window 2, end: …`."""
        names = [str(part) for part in loc if isinstance(part, str) and part != "body"]
        head = names[:2] if names[:1] and names[0] in _GROUPS else names[:1]
        key = ".".join(head)
        label = self.labels.get(key) or key or "The form"
        position = next((part for part in loc if isinstance(part, int)), None)
        if position is not None:
            label = f"{label} {position + 1}"
        if tail := names[len(head) :]:
            label = f"{label}, {' '.join(tail)}"
        text = f"{label}: {message.removeprefix('Value error, ')}"
        return (self.inputs.get(key, head[-1]) if head else ""), text

    def invalid(self, exc: ValidationError) -> list[Problem]:
        """What a form's values would not make a valid message of, field by field."""
        return [
            self.problem(error.get("loc", ()), str(error.get("msg", "")))
            for error in exc.errors(include_url=False)
        ]

    def refusal(self, failure: Failure, where: str = "") -> list[Problem]:
        """A 409 or 422 refusal, field by field (a plain one attributed to `where`)."""
        detail: Any = failure.body.detail
        if isinstance(detail, list):
            listed = [
                self.problem(item.get("loc", ()), str(item.get("msg", "")))
                for item in detail
                if isinstance(item, dict)
            ]
            if listed:
                return listed
        return [(where, failure_text(failure))]

    def form_refusal(self, exc: FailureError, where: str = "") -> list[Problem]:
        """A refusal of what a form said, to show on the form; any other refusal (403, 404,
        503) is not the form's and goes on up."""
        if exc.failure.status_code not in (409, 422):
            raise exc
        return self.refusal(exc.failure, where)

    def explain(self, exc: ValidationError | FailureError, where: str = "") -> Explained:
        """What was wrong with a form, whichever way it failed: the message would not build
        (422) or was refused as the form's fault (409, 422, a plain one attributed to
        `where`); any other refusal goes on up."""
        if isinstance(exc, ValidationError):
            return Explained(self.invalid(exc), 422)
        return Explained(self.form_refusal(exc, where), exc.failure.status_code)

    def invalid_page(self, request: Request, exc: ValidationError) -> Response:
        """A form with no place to show its problems: a 422 page naming the first one."""
        return render(request, "error.html", 422, message=self.invalid(exc)[0][1])


# A form whose fields are named as its message names them.
PLAIN = FormLabels()


def shown(problems: Sequence[Problem]) -> dict[str, Any]:
    """A form's problems as the templates take them: the sentences, and the inputs to mark."""
    return {"errors": [text for _, text in problems], "bad": {name for name, _ in problems}}


def text(data: FormData, key: str) -> str:
    """A posted field, trimmed; empty when absent or a file."""
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def texts(data: FormData, key: str) -> list[str]:
    """Every value posted under a name, trimmed, in order."""
    return [value.strip() if isinstance(value, str) else "" for value in data.getlist(key)]
