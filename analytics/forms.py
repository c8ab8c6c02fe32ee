"""The dashboard's date range."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from analytics.selectors import Period

DEFAULT_DAYS = 7
MAX_DAYS = 366


class PeriodForm(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        end = data.get("end") or timezone.localdate()
        start = data.get("start") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The first day comes after the last.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"A period of at most {MAX_DAYS} days, please.")
        data["period"] = Period(start, end)
        return data

    def period(self) -> Period:
        """The period asked for; the last :data:`DEFAULT_DAYS` days when the form is not valid."""
        return self.cleaned_data["period"] if self.is_valid() else Period.last_days(DEFAULT_DAYS)
