"""Policy's management RPCs: commands and queries any policy replica may answer, a module per
domain (as policy has a package per domain); `ManagementRequest` is every one of them.

Each request's type parameter is the result it answers with (`ManagementCall[Reply]`); any
request may also answer with a `Failure`. Requests carry the caller (`Actor`) that ingest
authenticated.
"""

from typing import Annotated

from pydantic import Field

from versioner.common.messages.management.accounts import (
    Authenticate,
    Authenticated,
    CreateApiKey,
    CreateUser,
    GetUser,
    ListApiKeys,
    ListUsers,
    RedeemInvite,
    RevokeApiKey,
    RotateToken,
    UpdateUser,
)
from versioner.common.messages.management.approvals import (
    ApproveVersion,
    ListVersionApprovals,
    RevokeVersionApproval,
)
from versioner.common.messages.management.base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ManagementCall,
    Paged,
)
from versioner.common.messages.management.buttons import (
    AuthorizeFire,
    HandleSlackAction,
    ResolveVariables,
)
from versioner.common.messages.management.catalog import (
    GetEnvironment,
    GetProduct,
    GetVersion,
    ListEnvironments,
    ListProducts,
    ListVersions,
    UpdateEnvironment,
    UpdateProduct,
)
from versioner.common.messages.management.deployments import (
    AbortDeployment,
    GetDeployment,
    GetState,
    ListDeployments,
)
from versioner.common.messages.management.insights import (
    DoraInsights,
    GateInsights,
    InsightsPeriod,
    ListIncidents,
    RecordIncident,
)
from versioner.common.messages.management.logs import ListAudit, ListViolations
from versioner.common.messages.management.requests import (
    CompleteStep,
    CreateRequest,
    DecideSlot,
    GetRequest,
    ListRequests,
    MoveRequest,
    UpdateRequest,
)
from versioner.common.messages.management.rules import (
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    PreviewWindows,
    UpdateRule,
)
from versioner.common.messages.management.service import (
    MAX_QUEUED_NOTES,
    GetEvent,
    GetHome,
    HomeView,
    NoteEventsQueued,
    Ping,
    Pong,
    QueuedEvent,
)

ManagementRequest = Annotated[
    Ping
    | AuthorizeFire
    | ResolveVariables
    | GetHome
    | HandleSlackAction
    | Authenticate
    | NoteEventsQueued
    | GetEvent
    | ListProducts
    | GetProduct
    | UpdateProduct
    | ListEnvironments
    | GetEnvironment
    | UpdateEnvironment
    | ListVersions
    | GetVersion
    | ListDeployments
    | GetDeployment
    | AbortDeployment
    | GetState
    | CreateUser
    | ListUsers
    | GetUser
    | UpdateUser
    | RedeemInvite
    | RotateToken
    | CreateApiKey
    | ListApiKeys
    | RevokeApiKey
    | CreateRule
    | ListRules
    | GetRule
    | UpdateRule
    | DeleteRule
    | PreviewWindows
    | ListViolations
    | CreateRequest
    | UpdateRequest
    | ListRequests
    | GetRequest
    | MoveRequest
    | DecideSlot
    | CompleteStep
    | ApproveVersion
    | RevokeVersionApproval
    | ListVersionApprovals
    | ListAudit
    | DoraInsights
    | GateInsights
    | RecordIncident
    | ListIncidents,
    Field(discriminator="kind"),
]

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_QUEUED_NOTES",
    "AbortDeployment",
    "ApproveVersion",
    "Authenticate",
    "Authenticated",
    "AuthorizeFire",
    "CompleteStep",
    "CreateApiKey",
    "CreateRequest",
    "CreateRule",
    "CreateUser",
    "DecideSlot",
    "DeleteRule",
    "DoraInsights",
    "GateInsights",
    "GetDeployment",
    "GetEnvironment",
    "GetEvent",
    "GetHome",
    "GetProduct",
    "GetRequest",
    "GetRule",
    "GetState",
    "GetUser",
    "GetVersion",
    "HandleSlackAction",
    "HomeView",
    "InsightsPeriod",
    "ListApiKeys",
    "ListAudit",
    "ListDeployments",
    "ListEnvironments",
    "ListIncidents",
    "ListProducts",
    "ListRequests",
    "ListRules",
    "ListUsers",
    "ListVersionApprovals",
    "ListVersions",
    "ListViolations",
    "ManagementCall",
    "ManagementRequest",
    "MoveRequest",
    "NoteEventsQueued",
    "Paged",
    "Ping",
    "Pong",
    "PreviewWindows",
    "QueuedEvent",
    "RecordIncident",
    "RedeemInvite",
    "ResolveVariables",
    "RevokeApiKey",
    "RevokeVersionApproval",
    "RotateToken",
    "UpdateEnvironment",
    "UpdateProduct",
    "UpdateRequest",
    "UpdateRule",
    "UpdateUser",
]
