"""What a service's RPC registry must hold: every request of its union, each handler taking
its request and answering its reply, nothing else."""

import inspect
import types
from typing import Any, get_args, get_type_hints

from versioner.common.messages.rpc import Handlers


def requests_of(union: Any) -> tuple[type, ...]:
    """The request types of an `Annotated[A | B | …, Field(discriminator=…)]` union."""
    return get_args(get_args(union)[0])


def registry_problems(handlers: Handlers[Any], union: Any) -> list[str]:
    """Everything wrong with `handlers` for the requests of `union` (empty: nothing)."""
    requests = requests_of(union)
    problems = [f"{name}: no handler" for name in handlers.missing(requests)]
    problems += [
        f"{kind.__name__}: handled, not in the union" for kind in handlers if kind not in requests
    ]
    for kind in requests:
        if kind not in handlers:
            continue
        handler = handlers.handler(kind)
        hints = get_type_hints(handler)
        takes = hints[list(inspect.signature(handler).parameters)[1]]
        if takes is not kind:
            problems.append(f"{kind.__name__}: {handler.__qualname__} takes {takes}")
        answers = hints["return"]
        replies = get_args(answers) if isinstance(answers, types.UnionType) else (answers,)
        if kind.reply not in replies:  # type: ignore[attr-defined]
            problems.append(f"{kind.__name__}: {handler.__qualname__} answers {answers}")
    return problems
