from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/terms/", views.terms, name="terms"),
]
