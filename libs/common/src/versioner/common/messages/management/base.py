"""What every management request is: typed by its reply, with the permission its caller needs;
paged lists.
"""

from typing import ClassVar, Generic
from uuid import UUID

from pydantic import Field

from versioner.common.messages.rpc import ReplyT_co, Rpc
from versioner.common.roles import Permission

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ManagementCall(Rpc[ReplyT_co], Generic[ReplyT_co]):
    """A management request, typed by its reply: `ManagementCall[Reply]`."""

    # What the caller's role must allow; None: any caller (the handler decides).
    permission: ClassVar[Permission | None] = Permission.READ


class Paged(ManagementCall[ReplyT_co], Generic[ReplyT_co]):
    """A list, a page at a time: at most `limit`, those before the id `before`."""

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None
