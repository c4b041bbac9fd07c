from django import forms

from .models import Adding


class AddingForm(forms.ModelForm):
    class Meta:
        model = Adding
        fields = ["first_number", "second_number"]
