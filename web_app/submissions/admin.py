from django.contrib import admin

from .models import Submission


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "first", "second", "status", "result", "created_at", "finished_at", "task_id")
    list_filter = ("status",)
    search_fields = ("first", "second", "result", "task_id")
    readonly_fields = ("task_id", "created_at", "finished_at")
