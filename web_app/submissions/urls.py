from django.urls import path

from . import views

urlpatterns = [
    path("", views.submission_form, name="submission-form"),
    path("submissions/<uuid:task_id>/", views.submission_detail, name="submission-detail"),
    path("submissions/<uuid:task_id>/status.json", views.submission_status, name="submission-status"),
    path("healthz", views.healthz, name="healthz"),
]
