from django.contrib import admin
from django.utils import timezone

from .models import StaffLogin, Submission


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Submissions as the form made them: listed, searched and filtered, never added or altered here.

    A row records what was sent to the worker and what came back, and a done row
    stands for a line already appended to the results file; editing or deleting it
    would make the two disagree, so the admin only shows them.
    """

    list_display = ("id", "first", "second", "status", "result", "created_at", "duration", "task_id")
    list_filter = ("status",)
    search_fields = ("first", "second", "result", "task_id")
    search_help_text = "Search the inputs, the result, or a task id (whole or part)."
    date_hierarchy = "created_at"
    fields = (
        "first",
        "second",
        "task_id",
        "visitor",
        "status",
        "result",
        "line_host",
        "error",
        "created_at",
        "finished_at",
        "duration",
    )
    readonly_fields = fields

    @admin.display(description="Took")
    def duration(self, submission):
        return submission.duration

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StaffLogin)
class StaffLoginAdmin(admin.ModelAdmin):
    """The admin logins still running; deleting one logs its session out on its next request."""

    list_display = ("user", "started_at", "ends_at")
    list_filter = ("user",)
    fields = ("user", "started_at", "ends_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(ends_at__gt=timezone.now())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
