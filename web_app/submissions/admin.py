from django.contrib import admin

from .models import Submission


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "first", "second", "status", "result", "created_at", "duration", "task_id")
    list_filter = ("status",)
    search_fields = ("first", "second", "result", "task_id")
    search_help_text = "Search the inputs, the result, or a task id (whole or part)."
    date_hierarchy = "created_at"
    # What the worker returned and when are records, not settings to edit.
    readonly_fields = ("task_id", "status", "result", "error", "created_at", "finished_at", "duration")

    @admin.display(description="Took")
    def duration(self, submission):
        return submission.duration
