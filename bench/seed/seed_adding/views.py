"""The seed's view: save the row, send the task, spin until it is ready, write, redirect."""

from django.conf import settings
from django.shortcuts import redirect, render
from django.views import View

from seed_site.celery import app

from .forms import AddingForm


class AddingView(View):
    template_name = "seed_adding/form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": AddingForm()})

    def post(self, request):
        form = AddingForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form})
        form.save()
        result = app.send_task("adding_taski", (form.cleaned_data["first_number"], form.cleaned_data["second_number"]))
        while not result.ready():
            pass
        text = ""
        try:
            text = result.get(timeout=1)
        except:  # noqa: E722 -- the seed's own bare except
            pass
        with open(settings.OUT_DIR / "myfile.txt", "w+") as results_file:
            results_file.write(text)
        return redirect("adding")
