from django.db import models
from django.urls import reverse


class Submission(models.Model):
    """Two strings sent to the worker, and what became of them."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    first = models.CharField(max_length=200)
    second = models.CharField(max_length=200)
    task_id = models.UUIDField(unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The joined string; it is in the results file exactly when status is DONE.
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self):
        return f"{self.first!r} + {self.second!r} ({self.status})"

    def get_absolute_url(self):
        return reverse("submission-detail", args=[self.pk])

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def duration(self):
        """How long the task took, from sending to its result; None while pending."""
        if self.finished_at is None:
            return None
        return self.finished_at - self.created_at
