from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "aifactory.catalog"
    label = "catalog"
    verbose_name = "Catalogue"
