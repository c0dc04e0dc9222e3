"""One exception hierarchy for the whole service.

Pure stages raise these; one boundary (the service, the CLI) decides whether to
retry, dead-letter or stop.  The default message of each class is its docstring.
"""

from __future__ import annotations


class NotifierError(Exception):
    """Something went wrong in notifier."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(NotifierError):
    """The configuration is not valid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "notifier cannot start; fix these settings:\n" + "\n".join(f"  - {p}" for p in problems)
        )


class SourceError(NotifierError):
    """The comment store could not be read."""


class MissingSchemaError(SourceError):
    """The comment store has no comment tables: run `notifier init-source` to create them."""


class StateError(NotifierError):
    """The state store (outbox and cursors) could not be used."""


class TemplateError(NotifierError):
    """A template is missing or does not render."""

    def __init__(self, template: str, reason: str) -> None:
        self.template = template
        self.reason = reason
        super().__init__(f"template {template!r}: {reason}")


class MessageBuildError(NotifierError):
    """A notification could not be turned into a well-formed email."""

    def __init__(self, reason: str, *, comment_id: int | None = None) -> None:
        self.reason = reason
        self.comment_id = comment_id
        super().__init__(reason)


class DeliveryError(NotifierError):
    """A message could not be handed to the SMTP server."""

    def __init__(
        self, reason: str, *, code: int | None = None, recipient: str | None = None
    ) -> None:
        self.reason = reason
        self.code = code
        self.recipient = recipient
        super().__init__(f"{code} {reason}" if code else reason)


class TransientDeliveryError(DeliveryError):
    """The server or the network failed for now; the message will be retried."""


class ServerUnavailableError(TransientDeliveryError):
    """The SMTP server could not be reached; no message is to blame, none is charged."""


class UncertainDeliveryError(TransientDeliveryError):
    """The connection failed after the message was handed over: the server may have it.

    Retried all the same (a duplicate is better than a lost question) and counted.
    """


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good; it goes to dead letters."""


class DeliveryConfigError(DeliveryError):
    """Delivery cannot work with this configuration (login refused, no STARTTLS).

    It is not the message's fault: delivery pauses and no retry is spent.
    """
