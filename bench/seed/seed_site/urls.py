from django.contrib import admin
from django.urls import path

from seed_adding.views import AddingView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", AddingView.as_view(), name="adding"),
]
