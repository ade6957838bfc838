from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "aifactory.catalog"
    label = "catalog"
    verbose_name = "Catalogue"

    def ready(self):
        from django.core import checks

        from aifactory.core.demo import register

        from .demo_catalogue import index_demo_listings, load_demo_catalogue
        from .embeddings import check_embedder

        register("catalog", load_demo_catalogue, order=20)
        register("catalog-listings", index_demo_listings, order=90)
        checks.register(check_embedder)
