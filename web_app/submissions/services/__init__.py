"""What the web app does with a submission, one step a module: send it (sending), wait for its
result (waiting), read what the result says (outcomes), record it once (recording), and look
after the pending ones (collecting, lost_tasks); remove the old ones (retention)."""

from ..exceptions import (
    BackendUnavailable,
    BrokerUnavailable,
    DatabaseUnwritable,
    NotRecorded,
    QueueFull,
    SubmissionsBusy,
    WriteLockTimeout,
)
from .collecting import CollectReport, collect_pending
from .outcomes import Outcome, expected_result, read_outcome, read_outcomes
from .recording import finish_interrupted_recordings, outcome_record, result_record
from .retention import PruneReport, logins_prune, submissions_prune
from .sending import discard, send, submission_create
from .waiting import result_came_since, wait_for_result

__all__ = [
    "BackendUnavailable",
    "BrokerUnavailable",
    "CollectReport",
    "DatabaseUnwritable",
    "NotRecorded",
    "Outcome",
    "PruneReport",
    "QueueFull",
    "SubmissionsBusy",
    "WriteLockTimeout",
    "collect_pending",
    "discard",
    "expected_result",
    "finish_interrupted_recordings",
    "logins_prune",
    "outcome_record",
    "read_outcome",
    "read_outcomes",
    "result_came_since",
    "result_record",
    "send",
    "submission_create",
    "submissions_prune",
    "wait_for_result",
]
