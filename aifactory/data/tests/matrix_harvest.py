"""Authorization rules of the open-standards endpoints (DCAT-AP, Croissant) and of harvesting,
merged in matrix_rules.py.

Organisation A publishes an internal dataset with a version: its members and the operators see its
DCAT-AP and Croissant documents, everyone else gets 404 (as for a dataset that does not exist);
the whole catalogue answers everyone (each sees what they may). Harvest sources are the operators'
(and administrators'): everyone else signed in gets 403, anonymous visitors 401 (API) or the
sign-in page."""

from aifactory.core.models import AuditEvent
from aifactory.core.tests.matrix import ANON_401, API, LOGIN, Rule, by_role
from aifactory.data import services
from aifactory.data.models import HarvestSource
from aifactory.data.tests.dcat_helpers import SCHEMA, add_version_directly

OPERATORS = frozenset({"operator", "administrator"})
SEE_INTERNAL = {"member": 200, "manager": 200, "owner": 200, "operator": 200, "administrator": 200}
INTERNAL = API + "/datasets/{w.std_internal.slug}"
SOURCE = API + "/harvest/sources/matrix"


def setup(world):
    dataset = services.dataset_create(
        actor=None,
        organisation=world.org,
        data={
            "title": {"en": "Matrix internal meters"},
            "description": {"en": "Meter readings for the matrix."},
            "access_rights": "internal",
            "licence": "CC_BY_4_0",
        },
    )
    world.std_internal = services.dataset_publish(actor=None, dataset=dataset)
    add_version_directly(
        world.std_internal,
        [
            {
                "name": "meters.csv",
                "format": "csv",
                "media_type": "text/csv",
                "size": 10,
                "sha256": "ab" * 32,
                "schema": SCHEMA,
            }
        ],
    )
    world.std_source = services.harvest_source_create(
        actor=None,
        data={
            "name": "matrix",
            "publisher": world.org,
            "url": "https://portal.example/catalog.rdf",
        },
    )


def operators(code: int, *, page: bool = False) -> dict[str, int]:
    return by_role(403, **(LOGIN if page else ANON_401), operator=code, administrator=code)


def _source_made(w, role):
    return HarvestSource.objects.filter(name=f"m-{role}").exists()


def _source_changed(w, role):
    return HarvestSource.objects.get(pk=w.std_source.pk).title == "Changed"


def _run_asked(w, role):
    return AuditEvent.objects.filter(action="harvest_source.run").exists()


RULES: dict[str, Rule] = {
    # --- DCAT-AP and Croissant: anyone may call them -------------------------------------------
    "api:dcat_catalog_ttl": Rule("get", API + "/dcat/catalog.ttl", by_role(200)),
    "api:dcat_catalog_jsonld": Rule("get", API + "/dcat/catalog.jsonld", by_role(200)),
    "api:dcat_dataset_ttl": Rule("get", INTERNAL + "/dcat.ttl", by_role(404, **SEE_INTERNAL)),
    "api:dcat_dataset_jsonld": Rule("get", INTERNAL + "/dcat.jsonld", by_role(404, **SEE_INTERNAL)),
    "api:dataset_croissant": Rule("get", INTERNAL + "/croissant", by_role(404, **SEE_INTERNAL)),
    # --- harvesting (API) ----------------------------------------------------------------------
    "api:harvest_sources_list": Rule("get", API + "/harvest/sources", operators(200)),
    "api:harvest_sources_create": Rule(
        "post",
        API + "/harvest/sources",
        operators(201),
        body=lambda w, role: {
            "name": f"m-{role}",
            "url": "https://portal.example/other.rdf",
            "publisher": str(w.org.pk),
        },
        effect=_source_made,
        done_by=OPERATORS,
    ),
    "api:harvest_source_read": Rule("get", SOURCE, operators(200)),
    "api:harvest_source_update": Rule(
        "patch",
        SOURCE,
        operators(200),
        body={"title": "Changed"},
        effect=_source_changed,
        done_by=OPERATORS,
    ),
    "api:harvest_source_run": Rule(
        "post", SOURCE + "/run", operators(202), effect=_run_asked, done_by=OPERATORS
    ),
    "api:harvest_source_runs": Rule("get", SOURCE + "/runs", operators(200)),
    # --- harvesting (pages) --------------------------------------------------------------------
    "data_harvest:source_list": Rule("get", "/harvest/sources/", operators(200, page=True)),
    "data_harvest:source_new": Rule("get", "/harvest/sources/new/", operators(200, page=True)),
    "data_harvest:source_edit": Rule(
        "get", "/harvest/sources/matrix/edit/", operators(200, page=True)
    ),
    "data_harvest:source_run": Rule(
        "post",
        "/harvest/sources/matrix/run/",
        operators(302, page=True),
        effect=_run_asked,
        done_by=OPERATORS,
    ),
    "data_harvest:source_runs": Rule(
        "get", "/harvest/sources/matrix/runs/", operators(200, page=True)
    ),
}
