"""The state store: cursors, the outbox and the service's bookkeeping.

``schema`` has the tables, ``store`` the connection, ``cursors``, ``outbox`` and
``bookkeeping`` one concept each; ``Outbox`` brings them together as the one
object the poller, the deliverer and the commands use.
"""

from notifier.state.bookkeeping import DeadLetter, Stats
from notifier.state.claims import Claimed
from notifier.state.flow import FlowStore
from notifier.state.outbox import Outbox, OutboxEntry

__all__ = ["Claimed", "DeadLetter", "FlowStore", "Outbox", "OutboxEntry", "Stats"]
