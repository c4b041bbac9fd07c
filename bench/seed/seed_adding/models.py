from django.db import models


class Adding(models.Model):
    first_number = models.CharField(max_length=200)
    second_number = models.CharField(max_length=200)
