"""Account pages that Django's auth app does not ship: sign-up."""

from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.views.generic import CreateView


class SignUpView(CreateView):
    form_class = UserCreationForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy("catalog:list")

    def form_valid(self, form: UserCreationForm) -> HttpResponse:
        response = super().form_valid(form)
        # The password was just set through the form: the model backend vouches for it (the
        # throttling backend in front of it authenticates nobody).
        login(self.request, self.object, backend="django.contrib.auth.backends.ModelBackend")
        return response
