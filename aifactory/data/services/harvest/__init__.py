"""Harvesting: datasets read from other catalogues (DCAT-AP in RDF/XML, Turtle or JSON-LD).

An operator registers a source (an https address, such as a udata portal's ``catalog.rdf`` or a
CKAN DCAT endpoint, or a file uploaded here); ``harvest_run`` reads it, maps every ``dcat:Dataset``
to a dataset of the source's publisher organisation, and creates or updates it by its identifier
within the source (``dct:identifier``, or the node's URI), so a dataset is never duplicated. A
content hash tells unchanged datasets from updated ones. Datasets the source no longer lists are
marked gone and archived, and come back when the source lists them again. Their files stay at the
source: the distributions are kept as references (``Dataset.harvested_distributions``).

A dataset that cannot be mapped is recorded in the run's errors and the others go on; a document
that cannot be read fails the run and changes nothing. Harvested datasets are published at once,
with their metadata quality assessed like any other. A harvest never loosens the access rights
or clears the personal-data flag a steward set, and a dataset with personal data is never public.
Documents with a DTD or entities are refused unread (entity expansion can hold the worker).
"""

from .mapping import harvest_records
from .parsing import HarvestError, harvest_parse
from .runs import _upsert as _upsert  # the tests call it as harvest._upsert
from .runs import harvest_run
from .sources import harvest_due, harvest_source_create, harvest_source_run, harvest_source_update

__all__ = [
    "HarvestError",
    "harvest_due",
    "harvest_parse",
    "harvest_records",
    "harvest_run",
    "harvest_source_create",
    "harvest_source_run",
    "harvest_source_update",
]
