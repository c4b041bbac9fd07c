"""What the web app's services raise when a part it depends on refuses: each has its clear page."""

from .locks import SubmissionsBusy, WriteLockTimeout

__all__ = [
    "BackendUnavailable",
    "BrokerUnavailable",
    "DatabaseUnwritable",
    "NotRecorded",
    "QueueFull",
    "SubmissionsBusy",
    "WriteLockTimeout",
]


class BrokerUnavailable(Exception):
    """The task could not be handed to the broker; nothing was queued."""


class QueueFull(BrokerUnavailable):
    """SUBMISSIONS_MAX_QUEUED tasks are waiting for a worker already (or the broker's own bound
    refused the task); nothing was queued."""


class BackendUnavailable(Exception):
    """The result backend could not be reached; nothing was queued."""


class DatabaseUnwritable(Exception):
    """The database refused a write (disk full, read-only); what was asked is not saved."""


class NotRecorded(Exception):
    """A result came but could not be written (the results file or the database refused it);
    the submission stays pending and the collector records it once writing works again."""
