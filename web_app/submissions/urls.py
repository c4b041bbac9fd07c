from django.urls import path

from . import views

urlpatterns = [
    path("", views.submission_form, name="submission-form"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission-detail"),
]
