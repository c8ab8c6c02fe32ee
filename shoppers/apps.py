from django.apps import AppConfig


class ShoppersConfig(AppConfig):
    """What an account keeps for a shopper (favourites), and what a guest's session keeps until
    they sign up or log in."""

    name = "shoppers"
    verbose_name = "Shoppers"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from shoppers import services

        user_logged_in.connect(services.adopt_guest_favourites, dispatch_uid="shoppers-adopt-guest-favourites")
