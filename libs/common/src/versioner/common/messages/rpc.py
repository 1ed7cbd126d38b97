"""What every RPC shares: its caller, the reply its type names, and the table of its handlers.

A request's type parameter is its reply (`class ListUsers(ManagementCall[Page[UserPublic]])`),
so a caller's `ask(request)` is typed by the request alone; any request may also answer with
a `Failure`. Nothing of this travels: the JSON of a request is its fields, as before.
"""

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from versioner.common.errors import Failure
from versioner.common.messages.actor import Actor

ReplyT_co = TypeVar("ReplyT_co", bound=BaseModel, covariant=True)
R = TypeVar("R", bound=BaseModel)
Q = TypeVar("Q", bound="Rpc[Any]")
Ctx = TypeVar("Ctx")


class Rpc(BaseModel, Generic[ReplyT_co]):
    """A request on behalf of `actor`, answered with the model its type parameter names (or
    a `Failure`)."""

    # The model the request answers with, read once from its type parameter.
    reply: ClassVar[type[BaseModel]]
    actor: Actor

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for base in cls.__mro__:
            # Pydantic keeps `X[A]`'s arguments on the class it makes for it; the first one
            # up the MRO with concrete arguments names this request's reply.
            args = base.__pydantic_generic_metadata__["args"] if issubclass(base, Rpc) else ()
            if args and not isinstance(args[0], TypeVar):
                cls.reply = args[0]
                return


Handler = Callable[[Ctx, Q], Awaitable[R | Failure]]


class Handlers(Generic[Ctx]):
    """Request type → the function that answers it, filled by `handles` beside each domain
    module; a service dispatches on `type(request)`."""

    def __init__(self) -> None:
        self._by_type: dict[type[BaseModel], Callable[[Ctx, Any], Awaitable[BaseModel]]] = {}

    def handles(
        self, request_type: type[Rpc[R]]
    ) -> Callable[[Handler[Ctx, Q, R]], Handler[Ctx, Q, R]]:
        """Register the decorated function as the one answering `request_type`."""

        def register(handler: Handler[Ctx, Q, R]) -> Handler[Ctx, Q, R]:
            if request_type in self._by_type:
                taken = self._by_type[request_type].__qualname__
                raise ValueError(f"{request_type.__name__} is already handled by {taken}")
            self._by_type[request_type] = handler
            return handler

        return register

    def __contains__(self, request_type: type[BaseModel]) -> bool:
        return request_type in self._by_type

    def __iter__(self) -> Iterator[type[BaseModel]]:
        return iter(self._by_type)

    def handler(self, request_type: type[BaseModel]) -> Callable[[Ctx, Any], Awaitable[BaseModel]]:
        """The function registered for `request_type` (`KeyError` when there is none)."""
        return self._by_type[request_type]

    async def run(self, ctx: Ctx, request: Rpc[Any]) -> BaseModel:
        """Answer `request` with its handler: its result or a `Failure`."""
        return await self._by_type[type(request)](ctx, request)

    def missing(self, request_types: Iterable[type[BaseModel]]) -> list[str]:
        """The names of those of `request_types` nobody handles."""
        return [kind.__name__ for kind in request_types if kind not in self._by_type]
