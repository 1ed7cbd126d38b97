"""Which function answers each notifier request: filled by `@handles(Request)` beside each
module that answers some, read by `commands.handle`."""

from versioner.common.messages.rpc import Handlers
from versioner.notifier.deliveries import Deliverer

HANDLERS: Handlers[Deliverer] = Handlers()
handles = HANDLERS.handles
