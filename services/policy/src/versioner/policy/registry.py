"""Which function answers each management request: filled by `@handles(Request)` beside each
domain module, read by `commands.handle`."""

from versioner.common.messages.rpc import Handlers
from versioner.policy.context import PolicyContext

HANDLERS: Handlers[PolicyContext] = Handlers()
handles = HANDLERS.handles
