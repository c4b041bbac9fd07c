from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Submission(models.Model):
    """Two strings sent to the worker, and what became of them."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # What get_status_display() says, without the dict of every choice it builds on each call.
    STATUS_LABELS = dict(Status.choices)

    # The random id of the browser session that made it (see visitors.py): only that session sees it.
    visitor = models.CharField(max_length=32, blank=True, editable=False)
    first = models.CharField(max_length=200)
    second = models.CharField(max_length=200)
    task_id = models.UUIDField(unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The joined string; it is in the results file exactly when status is DONE.
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its task was last sent, and how often it was sent again after it was lost.
    last_sent_at = models.DateTimeField(default=timezone.now)
    resends = models.PositiveSmallIntegerField(default=0)
    # Set when it was given up as lost; a result that comes later still makes it done.
    lost_at = models.DateTimeField(null=True, blank=True)
    # Where its line starts in the results file, committed before the line is appended,
    # so that a recorder that crashed in between can be finished without a second line.
    line_offset = models.BigIntegerField(null=True, blank=True, editable=False)
    # The host (RESULTS_HOST) whose results file holds the line: on several hosts each writes a file of
    # its own, and only the host that claimed a line can tell, after a crash, whether it reached the file.
    line_host = models.CharField("line written on host", max_length=100, blank=True, editable=False)

    # A line claimed but not yet marked done: only a crash mid-recording leaves one.
    LINE_IN_DOUBT = Q(line_offset__isnull=False) & ~Q(status="done")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status"]),
            # A visitor's history, newest first.
            models.Index(fields=["visitor", "-created_at", "-id"], name="submission_visitor_history"),
            models.Index(
                fields=["line_offset"],
                name="submission_line_in_doubt",
                condition=Q(line_offset__isnull=False) & ~Q(status="done"),
            ),
        ]

    def __str__(self):
        return f"{self.first!r} + {self.second!r} ({self.status})"

    def get_absolute_url(self):
        return reverse("submission-detail", args=[self.task_id])

    @property
    def status_label(self) -> str:
        return self.STATUS_LABELS.get(self.status, self.status)

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def is_lost(self) -> bool:
        return self.lost_at is not None

    @property
    def duration(self):
        """How long the task took, from sending to its result; None while pending."""
        if self.finished_at is None:
            return None
        return self.finished_at - self.created_at


class StaffLogin(models.Model):
    """A login to the admin, which lasts while its row does: a logout, or an operator deleting
    the row, ends it at once, whatever copy of the session's cookie is still about."""

    # The SHA-256 of the random key the login's session holds; the key itself is never stored.
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_logins", editable=False
    )
    started_at = models.DateTimeField(editable=False)
    ends_at = models.DateTimeField(db_index=True, editable=False)

    def __str__(self):
        return f"{self.user} since {self.started_at:%Y-%m-%d %H:%M}"
