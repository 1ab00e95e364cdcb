"""Background tasks of the outbox, run by `tandem worker`. The task lives with the sending it
repeats (services.retry_messages), which queues it after a failure."""

from tandem.outbox.services import retry_messages

__all__ = ["retry_messages"]
