"""Authorization rules of the catalogue's URLs (collected by core/tests/test_authorization.py)."""

from aifactory.catalog import services as catalog_services
from aifactory.catalog.models import Offering
from aifactory.core.tests.matrix import (
    ANON_401,
    API,
    ROLES,
    STAFF,
    VIEWERS,
    Rule,
    by_role,
)


def setup(world):
    world.offerings = {
        status: _offering(world, status)
        for status in ("draft", "in_review", "published", "archived")
    }


def _offering(self, status):
    """An offering of organisation A, moved to the status through the services."""
    owner, operator = self.users["owner"], self.users["operator"]
    offering = catalog_services.offering_create(
        actor=owner,
        data={
            "external_id": f"matrix-{status}",
            "type": "solution",
            "title": {"en": f"Matrix {status}"},
            "description": {"en": "An offering of organisation A."},
            "stages": ["build"],
            "provider_organisation_id": self.org.pk,
        },
    )
    if status in ("in_review", "published"):
        catalog_services.offering_submit(actor=owner, offering=offering)
    if status == "published":
        catalog_services.offering_approve(actor=operator, offering=offering)
    if status == "archived":
        catalog_services.offering_archive(actor=owner, offering=offering)
    return offering


CATALOG = API + "/catalog"
OFFERING = CATALOG + "/offerings/matrix-{status}"
# Drafts and the like: seen by organisation A and the staff; only its managers and operators act.
UNSEEN = {"anonymous": 401, "outsider": 404}
PROVIDERS = {"manager": 200, "owner": 200, "operator": 200, "administrator": 200}
MODERATORS = {"operator": 200, "administrator": 200}
PROVIDING = frozenset({"manager", "owner", "operator", "administrator"})
MODERATING = frozenset({"operator", "administrator"})


def _offering_status(external_id, status):
    return lambda w, role: Offering.objects.get(external_id=external_id).status == status


def _offering_created(w, role):
    return Offering.objects.filter(external_id=f"new-{role}").exists()


def _offering_priced(w, role):
    return Offering.objects.get(external_id="matrix-draft").price == "on request"


def _offering_imported(w, role):
    return Offering.objects.filter(external_id="imported-1").exists()


IMPORT_RECORD = {
    "id": "imported-1",
    "type": "course",
    "title": "Machine learning for bakers",
    "description": "Two evenings on forecasting demand.",
    "sectors": ["crafts"],
    "tags": [],
    "languages": ["en"],
    "stage": "upskill",
    "provider": "Matrix Academy",
    "url": "",
}

RULES: dict[str, Rule] = {
    # --- catalogue: published offerings are public ---------------------------------------------
    "api:offerings_list": Rule(
        "get",
        CATALOG + "/offerings?status=draft",
        by_role(200),
        shows_org={r: r in ("member", "manager", "owner", *STAFF) for r in ROLES},
    ),
    "api:offerings_read": Rule("get", OFFERING.format(status="draft"), by_role(404, **VIEWERS)),
    "api:offerings_create": Rule(
        "post",
        CATALOG + "/offerings",
        by_role(403, **ANON_401, manager=201, owner=201, operator=201, administrator=201),
        body=lambda w, role: {
            "external_id": f"new-{role}",
            "type": "service",
            "title": {"de": "KI-Werkstatt"},
            "description": {"de": "Ein Tag mit Ihrem Team."},
            "stages": ["discover"],
            "provider_organisation_id": str(w.org.pk),
        },
        effect=_offering_created,
        done_by=PROVIDING,
    ),
    "api:offerings_update": Rule(
        "patch",
        OFFERING.format(status="draft"),
        by_role(403, **UNSEEN, **PROVIDERS),
        body={"price": "on request"},
        effect=_offering_priced,
        done_by=PROVIDING,
    ),
    "api:offerings_submit": Rule(
        "post",
        OFFERING.format(status="draft") + "/submit",
        by_role(403, **UNSEEN, **PROVIDERS),
        effect=_offering_status("matrix-draft", "in_review"),
        done_by=PROVIDING,
    ),
    "api:offerings_approve": Rule(
        "post",
        OFFERING.format(status="in_review") + "/approve",
        by_role(403, **UNSEEN, **MODERATORS),
        effect=_offering_status("matrix-in_review", "published"),
        done_by=MODERATING,
    ),
    "api:offerings_reject": Rule(
        "post",
        OFFERING.format(status="in_review") + "/reject",
        by_role(403, **UNSEEN, **MODERATORS),
        body={"reason": "Say what it costs."},
        effect=_offering_status("matrix-in_review", "draft"),
        done_by=MODERATING,
    ),
    "api:offerings_archive": Rule(
        "post",
        OFFERING.format(status="published") + "/archive",
        by_role(403, **ANON_401, **PROVIDERS),
        effect=_offering_status("matrix-published", "archived"),
        done_by=PROVIDING,
    ),
    "api:offerings_restore": Rule(
        "post",
        OFFERING.format(status="archived") + "/restore",
        by_role(403, **UNSEEN, **PROVIDERS),
        effect=_offering_status("matrix-archived", "draft"),
        done_by=PROVIDING,
    ),
    "api:catalog_import": Rule(
        "post",
        CATALOG + "/import",
        by_role(403, **ANON_401, **MODERATORS),
        body=[IMPORT_RECORD],
        effect=_offering_imported,
        done_by=MODERATING,
    ),
    "api:catalog_export": Rule("get", CATALOG + "/export", by_role(200)),
    "api:catalog_schema": Rule("get", CATALOG + "/schema", by_role(200)),
    # Matchmaking is open to everyone; naming an organisation needs the right to see it.
    "api:match": Rule(
        "post",
        API + "/match",
        by_role(403, member=200, manager=200, owner=200, **{r: 200 for r in STAFF}),
        body=lambda w, role: {"text": "Bakery forecasting", "organisation": str(w.org.pk)},
    ),
}

# --- catalogue and matchmaking pages (portal) --------------------------------------------------
PAGE = "/catalog/matrix-{status}/"
# Pages answer 302 (to the sign-in page) for anonymous visitors and 302 (back to the listing)
# after an action; the effect tells the two apart.
PAGE_DONE = {"manager": 302, "owner": 302, "operator": 302, "administrator": 302}
PAGE_MODERATED = {"operator": 302, "administrator": 302}
PAGE_UNSEEN = {"anonymous": 302, "outsider": 404}

RULES |= {
    "catalog:browse": Rule("get", "/catalog/?type=solution&q=", by_role(200)),
    "catalog:match": Rule("get", "/match/", by_role(200)),
    "catalog:mine": Rule("get", "/catalog/mine/", by_role(200, anonymous=302)),
    # The outsider owns organisation B, so lists for it.
    "catalog:create": Rule(
        "get", "/catalog/new/", by_role(200, anonymous=302, member=403, advisor=403, reviewer=403)
    ),
    "catalog:review": Rule(
        "get", "/catalog/review/", by_role(403, anonymous=302, operator=200, administrator=200)
    ),
    "catalog:detail": Rule("get", PAGE.format(status="draft"), by_role(404, **VIEWERS)),
    # A published listing is seen by all, edited only by its provider and the operators.
    "catalog:edit": Rule(
        "get", PAGE.format(status="published") + "edit/", by_role(403, anonymous=302, **PROVIDERS)
    ),
    "catalog:submit": Rule(
        "post",
        PAGE.format(status="draft") + "submit/",
        by_role(403, **PAGE_UNSEEN, **PAGE_DONE),
        effect=_offering_status("matrix-draft", "in_review"),
        done_by=PROVIDING,
    ),
    "catalog:archive": Rule(
        "post",
        PAGE.format(status="published") + "archive/",
        by_role(403, anonymous=302, **PAGE_DONE),
        effect=_offering_status("matrix-published", "archived"),
        done_by=PROVIDING,
    ),
    "catalog:restore": Rule(
        "post",
        PAGE.format(status="archived") + "restore/",
        by_role(403, **PAGE_UNSEEN, **PAGE_DONE),
        effect=_offering_status("matrix-archived", "draft"),
        done_by=PROVIDING,
    ),
    "catalog:approve": Rule(
        "post",
        PAGE.format(status="in_review") + "approve/",
        by_role(403, **PAGE_UNSEEN, **PAGE_MODERATED),
        effect=_offering_status("matrix-in_review", "published"),
        done_by=MODERATING,
    ),
    "catalog:reject": Rule(
        "post",
        PAGE.format(status="in_review") + "reject/",
        by_role(403, **PAGE_UNSEEN, **PAGE_MODERATED),
        body={"reason": "Say what it costs."},
        effect=_offering_status("matrix-in_review", "draft"),
        done_by=MODERATING,
    ),
}
