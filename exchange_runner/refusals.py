"""The runner's own refusals: a request the runner will not serve because of what the client
asked for. Only these (and the venue's typed errors) may blame the client in a reply; any other
exception raised inside the runner is a bug and is answered ``internal`` (see
``exchange_runner.service.ERROR_TABLE``)::

    Refusal
    ├── BadParams          the request cannot be served as asked      → invalid_params
    │   └── ClientIdInUse  a live order already has this client id    → invalid_params
    └── NotAvailable       what was asked for does not exist here     → not_found
"""

from __future__ import annotations

__all__ = ["Refusal", "BadParams", "ClientIdInUse", "NotAvailable"]


class Refusal(Exception):
    """The client's request, not the runner, is at fault."""


class BadParams(Refusal):
    pass


class ClientIdInUse(BadParams):
    pass


class NotAvailable(Refusal):
    pass
