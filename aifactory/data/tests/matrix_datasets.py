"""Authorization rules of the dataset pages and API (merged in matrix_rules.py PARTS).

Organisation A publishes a public dataset with one version (everybody sees it) and has an
internal draft (its members see and edit it, its managers and owner publish and archive it;
operators and administrators see it but change nothing; the others get 404). The member has a
resumable upload in progress on the draft, which only they see."""

from aifactory.core.tests.matrix import API, LOGIN, Rule, by_role, only
from aifactory.core.tests.matrix import api_expect as expect
from aifactory.data import services
from aifactory.data.models import Dataset, DatasetVersion, Upload

MEMBERS = ["member", "manager", "owner"]
STEWARDS = ["manager", "owner"]
OPERATORS = ["operator", "administrator"]
DS = API + "/datasets"
DRAFT = DS + "/{w.ds_draft.slug}"
PUBLIC = DS + "/{w.ds_public.slug}"
UPLOAD = DRAFT + "/uploads/{w.ds_upload.pk}"
PAGE_DRAFT = "/datasets/{w.ds_draft.slug}/"


def setup(world):
    owner = world.users["owner"]
    world.ds_public = services.dataset_create(
        actor=owner,
        organisation=world.org,
        data={"title": {"en": "Matrix public"}, "access_rights": "public"},
    )
    services.dataset_publish(actor=owner, dataset=world.ds_public)
    services.version_create(
        actor=owner, dataset=world.ds_public, files=[("data.csv", [b"id,x\n1,2\n"])]
    )
    world.ds_draft = services.dataset_create(
        actor=owner,
        organisation=world.org,
        data={"title": {"en": "Matrix draft"}, "access_rights": "internal"},
    )
    world.ds_upload = services.upload_start(
        actor=world.users["member"], dataset=world.ds_draft, name="part.csv", size=100
    )


def _created(w, role):
    return Dataset.objects.filter(slug=f"matrix-new-{role}").exists()


def _patched(w, role):
    return f"k-{role}" in Dataset.objects.get(pk=w.ds_draft.pk).keywords


def _status(status):
    return lambda w, role: Dataset.objects.get(pk=w.ds_draft.pk).status == status


def _version_added(w, role):
    return DatasetVersion.objects.filter(dataset=w.ds_draft).exists()


def _upload_started(w, role):
    return Upload.objects.filter(dataset=w.ds_draft, name=f"{role}.csv").exists()


def _upload_aborted(w, role):
    return Upload.objects.get(pk=w.ds_upload.pk).status == "aborted"


RULES: dict[str, Rule] = {
    # --- API ---
    "api:datasets_list": Rule("get", DS, expect(200)),
    "api:datasets_create": Rule(
        "post",
        DS,
        expect(403, only(201, MEMBERS)),
        body=lambda w, role: {
            "organisation": str(w.org.pk),
            "slug": f"matrix-new-{role}",
            "title": {"en": f"New {role}"},
        },
        effect=_created,
        done_by=frozenset(MEMBERS),
    ),
    "api:dataset_read": Rule("get", DRAFT, expect(404, only(200, [*MEMBERS, *OPERATORS]))),
    "api:dataset_patch": Rule(
        "patch",
        DRAFT,
        expect(404, only(403, OPERATORS), only(200, MEMBERS)),
        body=lambda w, role: {"keywords": [f"k-{role}"]},
        effect=_patched,
        done_by=frozenset(MEMBERS),
    ),
    "api:dataset_publish": Rule(
        "post",
        DRAFT + "/publish",
        expect(404, only(403, ["member", *OPERATORS]), only(200, STEWARDS)),
        effect=_status("published"),
        done_by=frozenset(STEWARDS),
    ),
    "api:dataset_archive": Rule(
        "post",
        DRAFT + "/archive",
        expect(404, only(403, ["member", *OPERATORS]), only(200, STEWARDS)),
        effect=_status("archived"),
        done_by=frozenset(STEWARDS),
    ),
    "api:versions_list": Rule("get", PUBLIC + "/versions", expect(200)),
    "api:version_read": Rule("get", PUBLIC + "/versions/1", expect(200)),
    "api:versions_create": Rule(
        "post",
        DRAFT + "/versions",
        expect(404, only(403, OPERATORS), only(202, MEMBERS)),
        body={"references": ["https://data.example.org/matrix.csv"]},
        effect=_version_added,
        done_by=frozenset(MEMBERS),
    ),
    "api:upload_start": Rule(
        "post",
        DRAFT + "/uploads",
        expect(404, only(403, OPERATORS), only(201, MEMBERS)),
        body=lambda w, role: {"name": f"{role}.csv", "size": 10},
        effect=_upload_started,
        done_by=frozenset(MEMBERS),
    ),
    # An upload is its author's alone.
    "api:upload_read": Rule("get", UPLOAD, expect(404, only(200, ["member"]))),
    # Without an Upload-Offset header the author is told to send one (422).
    "api:upload_append": Rule("patch", UPLOAD, expect(404, only(422, ["member"])), body={}),
    "api:upload_delete": Rule(
        "delete",
        UPLOAD,
        expect(404, only(204, ["member"])),
        effect=_upload_aborted,
        done_by=frozenset(["member"]),
    ),
    # --- pages ---
    "data:dataset_list": Rule("get", "/datasets/", by_role(200)),
    "data:dataset_new": Rule(
        "get",
        "/datasets/new/",
        by_role(403, **LOGIN, **only(200, [*MEMBERS, "outsider"])),
    ),
    "data:dataset_detail": Rule(
        "get", PAGE_DRAFT, by_role(404, **only(200, [*MEMBERS, *OPERATORS]))
    ),
    "data:dataset_edit": Rule(
        "get",
        PAGE_DRAFT + "edit/",
        by_role(404, **LOGIN, **only(403, OPERATORS), **only(200, MEMBERS)),
    ),
    "data:version_new": Rule(
        "get",
        PAGE_DRAFT + "versions/new/",
        by_role(404, **LOGIN, **only(403, OPERATORS), **only(200, MEMBERS)),
    ),
    "data:dataset_publish": Rule(
        "post",
        PAGE_DRAFT + "publish/",
        by_role(404, **LOGIN, **only(403, ["member", *OPERATORS]), **only(302, STEWARDS)),
        effect=_status("published"),
        done_by=frozenset(STEWARDS),
    ),
    "data:dataset_archive": Rule(
        "post",
        PAGE_DRAFT + "archive/",
        by_role(404, **LOGIN, **only(403, ["member", *OPERATORS]), **only(302, STEWARDS)),
        effect=_status("archived"),
        done_by=frozenset(STEWARDS),
    ),
}
