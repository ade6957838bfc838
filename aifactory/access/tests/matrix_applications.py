"""Authorization rules of the access app (applications), merged in matrix_rules.py.

Applications of organisation A are seen by its members, operators and administrators, and by
nobody else (404). The creator (the owner), the organisation's managers and administrators edit,
submit and withdraw them; a plain member reads only. Operators and administrators alone decide
eligibility and ask for revisions. Reviewers see none until they are assigned (a later part).
"""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from aifactory.access.models import AccessMode, Application, ApplicationMember, Call
from aifactory.access.services import applications as services
from aifactory.core.tests.matrix import ANON_401, API, Rule, by_role

APPS = API + "/access/applications"
PAGES = "/access/applications"
PDF = b"%PDF-1.4\n%%EOF\n"
VIEW_404 = {"anonymous": 401, "outsider": 404, "advisor": 404, "reviewer": 404}
PAGE_404 = {"anonymous": 302, "outsider": 404, "advisor": 404, "reviewer": 404}
EDITING = frozenset({"manager", "owner", "administrator"})
OPERATING = frozenset({"operator", "administrator"})
MEMBERS = frozenset({"member", "manager", "owner"})
VIEWING = MEMBERS | OPERATING


def _codes(names, code):
    return {name: code for name in names}


def setup(world):
    owner = world.users["owner"]
    mode = AccessMode.objects.create(
        code="mx-apps",
        name={"en": "Matrix applications"},
        pool=world.mx_pool,
        limits={"gpu_hours": {"min": 0, "max": 1000}},
        durations_months=[1, 2],
        reviews=["technical"],
        decision_days=4,
    )
    world.app_call = Call.objects.create(
        code="mx-apps-open",
        mode=mode,
        title={"en": "Matrix applications call"},
        status="open",
        opens_at=timezone.now() - timezone.timedelta(days=1),
    )
    complete = {
        "title": "Matrix draft",
        "abstract": "a",
        "objectives": "o",
        "sector": "finance",
        "ai_act_risk": "minimal",
        "ai_act_reasons": "r",
        "model_type": "m",
        "datasets": "d",
        "requested": {"gpu_hours": 10},
        "duration_months": 1,
        "start_date": "2027-01-04",
        "justification": "j",
        "ethics_note": "e",
    }

    def new(title):
        app = services.application_create(
            actor=owner, call=world.app_call, organisation=world.org, data=complete
        )
        services.application_update(actor=owner, application=app, data={"title": title})
        return app

    world.app_draft = new("Matrix draft")
    world.app_team_member = services.application_member_add(
        actor=owner, application=world.app_draft, email="teammate@matrix.test"
    )
    world.app_attachment = services.application_attachment_add(
        actor=owner,
        application=world.app_draft,
        upload=SimpleUploadedFile("matrix.pdf", PDF),
    )
    world.app_submitted = services.application_submit(
        actor=owner, application=new("Matrix submitted")
    )


def _status(name, status):
    return lambda w, role: Application.objects.get(pk=getattr(w, name).pk).status == status


def _created(w, role):
    return Application.objects.filter(title=f"new-{role}").exists()


def _titled(w, role):
    return Application.objects.get(pk=w.app_draft.pk).title == "Renamed"


def _member_added(w, role):
    return ApplicationMember.objects.filter(email="added@matrix.test").exists()


def _member_removed(w, role):
    return not ApplicationMember.objects.filter(pk=w.app_team_member.pk).exists()


def _attached(w, role):
    return Application.objects.get(pk=w.app_draft.pk).attachments.count() == 2


def _pdf(w, role):
    return {"file": SimpleUploadedFile("more.pdf", PDF)}


DRAFT = "{w.app_draft.pk}"
SUBMITTED = "{w.app_submitted.pk}"
EDIT_API = by_role(403, **VIEW_404)
MANAGE_API = by_role(403, **VIEW_404, **_codes(OPERATING, 200))
EDIT_PAGE = by_role(403, **PAGE_404, **_codes(EDITING, 302))
MANAGE_PAGE = by_role(403, **PAGE_404, **_codes(OPERATING, 302))

RULES: dict[str, Rule] = {
    # --- API ---------------------------------------------------------------------------------
    "api:applications_list": Rule(
        "get",
        APPS,
        by_role(200, **ANON_401),
        shows_org={
            r: r in VIEWING for r in ["outsider", *MEMBERS, "advisor", "reviewer", *OPERATING]
        },
    ),
    "api:applications_create": Rule(
        "post",
        APPS,
        by_role(403, **ANON_401, **_codes(MEMBERS, 201)),
        body=lambda w, role: {
            "call": "mx-apps-open",
            "organisation": str(w.org.pk),
            "title": f"new-{role}",
        },
        effect=_created,
        done_by=MEMBERS,
    ),
    "api:applications_read": Rule("get", APPS + "/" + DRAFT, by_role(200, **VIEW_404)),
    "api:applications_update": Rule(
        "patch",
        APPS + "/" + DRAFT,
        {**EDIT_API, **_codes(EDITING, 200)},
        body={"title": "Renamed"},
        effect=_titled,
        done_by=EDITING,
    ),
    "api:applications_submit": Rule(
        "post",
        APPS + "/" + DRAFT + "/submit",
        {**EDIT_API, **_codes(EDITING, 200)},
        effect=_status("app_draft", "eligibility_check"),
        done_by=EDITING,
    ),
    "api:applications_withdraw": Rule(
        "post",
        APPS + "/" + SUBMITTED + "/withdraw",
        {**EDIT_API, **_codes(EDITING, 200)},
        body={"reason": ""},
        effect=_status("app_submitted", "withdrawn"),
        done_by=EDITING,
    ),
    "api:applications_member_add": Rule(
        "post",
        APPS + "/" + DRAFT + "/members",
        {**EDIT_API, **_codes(EDITING, 201)},
        body={"email": "added@matrix.test", "role": "member"},
        effect=_member_added,
        done_by=EDITING,
    ),
    "api:applications_member_remove": Rule(
        "delete",
        APPS + "/" + DRAFT + "/members/{w.app_team_member.pk}",
        {**EDIT_API, **_codes(EDITING, 204)},
        effect=_member_removed,
        done_by=EDITING,
    ),
    # JSON without a file: the editors are told the file is missing; the others are refused.
    "api:applications_attach": Rule(
        "post",
        APPS + "/" + DRAFT + "/attachments",
        {**EDIT_API, **_codes(EDITING, 422)},
        body={},
    ),
    "api:applications_eligibility": Rule(
        "post",
        APPS + "/" + SUBMITTED + "/eligibility",
        MANAGE_API,
        body={"eligible": True},
        effect=_status("app_submitted", "technical_review"),
        done_by=OPERATING,
    ),
    "api:applications_revision": Rule(
        "post",
        APPS + "/" + SUBMITTED + "/revision",
        MANAGE_API,
        body={"note": "Add benchmarks."},
        effect=_status("app_submitted", "revision_requested"),
        done_by=OPERATING,
    ),
    # --- pages -------------------------------------------------------------------------------
    "access:application_list": Rule("get", PAGES + "/", by_role(200, anonymous=302)),
    "access:application_start": Rule("get", PAGES + "/new/", by_role(200, anonymous=302)),
    "access:application_queue": Rule(
        "get", "/access/queue/", by_role(403, anonymous=302, **_codes(OPERATING, 200))
    ),
    "access:application_detail": Rule("get", PAGES + "/" + DRAFT + "/", by_role(200, **PAGE_404)),
    "access:application_submit": Rule(
        "post",
        PAGES + "/" + DRAFT + "/submit/",
        EDIT_PAGE,
        effect=_status("app_draft", "eligibility_check"),
        done_by=EDITING,
    ),
    "access:application_withdraw": Rule(
        "post",
        PAGES + "/" + SUBMITTED + "/withdraw/",
        EDIT_PAGE,
        effect=_status("app_submitted", "withdrawn"),
        done_by=EDITING,
    ),
    "access:application_member_add": Rule(
        "post",
        PAGES + "/" + DRAFT + "/members/",
        EDIT_PAGE,
        body={"email": "added@matrix.test", "role": "member"},
        effect=_member_added,
        done_by=EDITING,
    ),
    "access:application_member_remove": Rule(
        "post",
        PAGES + "/" + DRAFT + "/members/{w.app_team_member.pk}/remove/",
        EDIT_PAGE,
        effect=_member_removed,
        done_by=EDITING,
    ),
    "access:application_attachment_add": Rule(
        "post",
        PAGES + "/" + DRAFT + "/attachments/",
        EDIT_PAGE,
        body=_pdf,
        effect=_attached,
        done_by=EDITING,
    ),
    "access:application_attachment": Rule(
        "get",
        PAGES + "/" + DRAFT + "/attachments/{w.app_attachment.pk}/",
        by_role(200, **PAGE_404),
    ),
    "access:application_eligibility": Rule(
        "post",
        PAGES + "/" + SUBMITTED + "/eligibility/",
        MANAGE_PAGE,
        body={"eligible": "yes"},
        effect=_status("app_submitted", "technical_review"),
        done_by=OPERATING,
    ),
    "access:application_revision": Rule(
        "post",
        PAGES + "/" + SUBMITTED + "/revision/",
        MANAGE_PAGE,
        body={"note": "Add benchmarks."},
        effect=_status("app_submitted", "revision_requested"),
        done_by=OPERATING,
    ),
}
