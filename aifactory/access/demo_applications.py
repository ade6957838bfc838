"""Demo applications in every state, reviews to write and to rank, a decided project and a change
request, so every screen of the access app has something to show after `aifactory seed-demo`.

Made through the services, as the people in the story would (the applicant submits, the operator
assesses and decides, the reviewers score); idempotent (an application or project with the same
title is left alone). One step that cannot be done (say, the Large Scale call has no cut-off left
in an old data folder) is skipped and reported, with nothing half-written.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from aifactory.accounts.models import Organisation, User
from aifactory.core.errors import ServiceError, field_errors
from aifactory.core.mail import muted

from .models import Application, Call, ChangeKind, MemberRole, Project, Review, TranchePolicy
from .services.applications import (
    application_create,
    application_eligibility_decide,
    application_member_add,
    application_request_revision,
    application_submit,
    application_withdraw,
)
from .services.decisions import application_decide
from .services.projects import change_request_create, project_create
from .services.reviews import (
    peer_review_submit,
    peer_reviewer_assign,
    review_declare_conflict,
    technical_assessment_submit,
)

OPERATOR = "operator@demo.aifactory.lu"
REVIEWER = "reviewer@demo.aifactory.lu"
# The second reviewer an application needs for the two peer reviews of a decision: the demo
# administrator, who holds every staff role. (The accounts demo has one reviewer, and a demo account
# made here would change the people its own demo and tests count.)
REVIEWER_2 = "admin@demo.aifactory.lu"
FOUNDER = "founder@orbital.demo"
ENGINEER = "engineer@orbital.demo"
RESEARCHER = "researcher@isc.demo"
ORBITAL = "Demo Orbital Analytics S.A."
ISC = "Demo Institute for Secure Computing"
PROJECT = "Orbital land-cover models"
CLUSTER, PARTITION = "meluxina-ai", "gpu"


def _form(title: str, gpu_hours: int, months: int, **other) -> dict:
    form = {
        "title": title,
        "abstract": "Segmentation of Sentinel-2 images into field boundaries for farm advisors.",
        "objectives": "A model that maps field boundaries in Luxembourg each month; open weights.",
        "sector": "space",
        "ai_act_risk": "minimal",
        "ai_act_reasons": "Maps land use; takes no decision about people.",
        "model_type": "U-Net image segmentation",
        "model_size": "30M parameters",
        "datasets": "Copernicus Sentinel-2 L2A tiles over Luxembourg, 2019-2026.",
        "requested": {"gpu_hours": gpu_hours, "cpu_core_hours": 5_000, "storage_tb": 2},
        "duration_months": months,
        "start_date": (timezone.localdate() + timedelta(days=14)).isoformat(),
        "justification": "Benchmarks on 4 A100 GPUs: one epoch of the full set takes 6 hours.",
        "ethics_note": "No personal data; imagery at 10 m resolution.",
    }
    return form | other


# What differs from the form above, for the applications that tell a different story.
FORMS = {
    "Security advisories in Luxembourgish": {
        "abstract": "A language model that drafts security advisories in Luxembourgish, French "
        "and German from English vulnerability reports, for the national CERT.",
        "objectives": "Advisories out within hours instead of days; an open model and test set.",
        "sector": "cybersecurity",
        "ai_act_risk": "limited",
        "ai_act_reasons": "Generates text that people read: marked as machine-written.",
        "model_type": "Decoder-only language model, continued pre-training and fine-tuning",
        "model_size": "8B parameters",
        "datasets": "Public CVE and CERT advisories 2010-2026; Luxembourgish news corpus.",
        "requested": {"gpu_hours": 120_000, "cpu_core_hours": 50_000, "storage_tb": 20},
        "justification": "Continued pre-training of 8B parameters on 40B tokens: about 110,000 "
        "GPU hours at 45% utilisation, measured on 64 GPUs.",
        "ethics_note": "Reports are public; no personal data. Outputs reviewed by analysts.",
    },
    "Foundation model for Sentinel-2 time series": {
        "abstract": "A foundation model pre-trained on eight years of Sentinel-2 time series "
        "over Europe, for crop, forest and flood mapping by small companies.",
        "objectives": "Open weights that a start-up can fine-tune on one GPU in a day.",
        "model_type": "Vision transformer, masked auto-encoder pre-training",
        "model_size": "600M parameters",
        "datasets": "Copernicus Sentinel-2 L2A over Europe, 2018-2026 (about 1.5 PB, sampled).",
        "requested": {"gpu_hours": 300_000, "cpu_core_hours": 200_000, "storage_tb": 150},
        "justification": "Scaling test from 8 to 256 GPUs at 88% efficiency; 300,000 GPU hours "
        "for 3 epochs of the sampled set.",
    },
}

# title, organisation, access mode, requested GPU hours, months, where the story stops
SCRIPT = (
    ("Field boundaries from Sentinel-2 (draft)", ORBITAL, "fast-lane", 8_000, 2, "draft"),
    ("Cloud masks for Sentinel-2", ORBITAL, "fast-lane", 12_000, 2, "eligibility_check"),
    ("Crop types from Sentinel-2 time series", ORBITAL, "fast-lane", 30_000, 3, "technical_review"),
    ("Flood extent from radar images", ORBITAL, "fast-lane", 40_000, 3, "revision_requested"),
    ("Solar panels on rooftops", ORBITAL, "fast-lane", 20_000, 2, "accepted_reduced"),
    ("Ship detection in harbour webcams", ORBITAL, "fast-lane", 45_000, 3, "rejected"),
    ("Snow cover from Sentinel-3", ORBITAL, "fast-lane", 6_000, 1, "withdrawn"),
    ("Security advisories in Luxembourgish", ISC, "large-scale", 120_000, 6, "peer_review"),
    (
        "Foundation model for Sentinel-2 time series",
        ORBITAL,
        "large-scale",
        300_000,
        12,
        "peer_review_scored",
    ),
)
# Where each story stops, as the application's status and outcome.
STATES = {
    "draft": ("draft", ""),
    "eligibility_check": ("eligibility_check", ""),
    "technical_review": ("technical_review", ""),
    "revision_requested": ("revision_requested", ""),
    "accepted_reduced": ("decided", "accepted_reduced"),
    "rejected": ("decided", "rejected"),
    "withdrawn": ("withdrawn", ""),
    "peer_review": ("peer_review", ""),
    "peer_review_scored": ("peer_review", ""),
}
# The reduced grant of the accepted application (it asked for 20,000 GPU hours).
GRANTED = {"gpu_hours": 12_000, "cpu_core_hours": 5_000, "storage_tb": 2}
# The running project's PI asks for more GPU hours (left as requested, for the operator).
CHANGE = {"gpu_hours": 10_000}

ASSESSMENTS = {
    "accept": {
        "feasibility": "The workflow runs on our GPU nodes as described.",
        "software": "PyTorch in an Apptainer image; the image was built on our system.",
        "data": "Sentinel-2 tiles fit in the project storage; transfer over the CDSE mirror.",
        "scaling": "Scaling evidence on 4 to 64 GPUs is convincing.",
    },
    "reject": {
        "feasibility": "The pipeline needs internet access from the compute nodes.",
        "software": "Depends on a proprietary video decoder we cannot install.",
        "data": "The webcam streams are not licensed for model training.",
        "scaling": "No measurement beyond one GPU.",
    },
}
# (excellence, impact, feasibility, comments) of each submitted peer review.
PEER_REVIEWS = {
    "Security advisories in Luxembourgish": [
        (REVIEWER_2, 4, 4, 3, "Useful for the CERT; the evaluation plan is thin."),
    ],
    "Foundation model for Sentinel-2 time series": [
        (REVIEWER, 5, 4, 4, "Strong team and scaling evidence; the open weights matter."),
        (REVIEWER_2, 4, 5, 4, "High impact for small companies; data sampling well argued."),
    ],
}


def load_demo_applications() -> str:
    with muted():  # demo people have made-up addresses
        return _load()


def _demo_user(email: str) -> User | None:
    return User.objects.filter(email=email, is_demo=True).first()


def _load() -> str:
    people = {
        email: _demo_user(email)
        for email in (FOUNDER, OPERATOR, REVIEWER, REVIEWER_2, ENGINEER, RESEARCHER)
    }
    organisations = {
        name: Organisation.objects.filter(legal_name=name, is_demo=True).first()
        for name in (ORBITAL, ISC)
    }
    calls = {
        code: Call.objects.filter(mode__code=code, is_demo=True).order_by("-opens_at").first()
        for code in ("fast-lane", "large-scale")
    }
    if not (people[FOUNDER] and people[OPERATOR] and organisations[ORBITAL] and calls["fast-lane"]):
        return "demo applications: skipped (demo people, organisation or Fast Lane call missing)"
    skipped: list[str] = []
    applicants = {ORBITAL: people[FOUNDER], ISC: people[RESEARCHER]}
    created = 0
    for title, organisation_name, mode, gpu_hours, months, state in SCRIPT:
        organisation = organisations[organisation_name]
        applicant = applicants[organisation_name]
        call = calls[mode]
        if organisation is None or applicant is None or call is None:
            skipped.append(f"{title}: its organisation, applicant or call is missing")
            continue
        if Application.objects.filter(organisation=organisation, title=title).exists():
            continue
        try:
            with transaction.atomic():
                form = _form(title, gpu_hours, months, **FORMS.get(title, {}))
                application = application_create(
                    actor=applicant, call=call, organisation=organisation, data=form
                )
                _tell(application, state, applicant, people)
        except (ValidationError, ServiceError) as exc:
            skipped.append(f"{title}: {_reason(exc)}")
            continue
        created += 1
    _running_project(people, organisations[ORBITAL], skipped)
    line = f"demo applications: {created} created; a running project for {ORBITAL}"
    if skipped:
        line += "; skipped: " + "; ".join(skipped)
    return line


def _tell(application: Application, state: str, applicant: User, people: dict) -> None:
    """Bring a new draft to where its story stops, as the people in it would."""
    operator = people[OPERATOR]
    if state == "accepted_reduced":
        # A team: the founder (PI), an engineer on the hub, a student who has no account yet.
        application_member_add(
            actor=applicant, application=application, email=ENGINEER, role=MemberRole.MANAGER
        )
        application_member_add(
            actor=applicant,
            application=application,
            email="student@uni.demo",
            name="Lara Schmitz",
            role=MemberRole.MEMBER,
        )
    if state == "draft":
        return
    application_submit(actor=applicant, application=application)
    if state == "eligibility_check":
        return
    if state == "withdrawn":
        application_withdraw(
            actor=applicant,
            application=application,
            reason="We found the snow maps in the Copernicus land service already.",
        )
        return
    application_eligibility_decide(actor=operator, application=application, eligible=True)
    if state == "technical_review":
        return
    if state == "revision_requested":
        application_request_revision(
            actor=operator,
            application=application,
            note="Please add the scaling test on 8 GPUs to the evidence.",
        )
        return
    recommendation = {"accepted_reduced": "accept_reduced", "rejected": "reject"}.get(
        state, "accept"
    )
    technical_assessment_submit(
        actor=operator,
        application=application,
        assessment=ASSESSMENTS["reject" if recommendation == "reject" else "accept"],
        recommendation=recommendation,
        comments={
            "accept_reduced": "12,000 GPU hours are enough for the two training runs planned.",
            "reject": "Not runnable on the machine as proposed.",
        }.get(recommendation, ""),
    )
    if state == "accepted_reduced":
        application_decide(
            actor=operator,
            application=application,
            outcome="accepted_reduced",
            granted=GRANTED,
            reason="The technical assessment found 12,000 GPU hours enough for the two "
            "training runs planned; the rest of the request was for tuning we can't justify yet.",
            cluster=CLUSTER,
            partition=PARTITION,
        )
        return
    if state == "rejected":
        application_decide(
            actor=operator,
            application=application,
            outcome="rejected",
            reason="The workflow cannot run on the machine: it needs internet access from the "
            "compute nodes and a decoder we cannot install, and the webcam streams are not "
            "licensed for training. You are welcome to apply again with a changed design.",
        )
        return
    _peer_review(application, people)


def _peer_review(application: Application, people: dict) -> None:
    """Assign the reviewers and let each say they have no conflict; those in PEER_REVIEWS score.
    The demo reviewer's review of the first Large Scale application stays open: theirs to do."""
    scored = {email: rest for email, *rest in PEER_REVIEWS.get(application.title, [])}
    for email in (REVIEWER, REVIEWER_2):
        reviewer = people.get(email)
        if reviewer is None:
            raise ServiceError(f"the demo reviewer {email} is missing")
        review = peer_reviewer_assign(
            actor=people[OPERATOR], application=application, reviewer=reviewer
        )
        review_declare_conflict(actor=reviewer, review=review, conflict=False)
        if email in scored:
            excellence, impact, feasibility, comments = scored[email]
            peer_review_submit(
                actor=reviewer,
                review=Review.objects.get(pk=review.pk),
                scores={"excellence": excellence, "impact": impact, "feasibility": feasibility},
                comments=comments,
            )


def _running_project(people: dict, organisation: Organisation, skipped: list[str]) -> None:
    """A project opened a while ago (by hand, as before the hub), with a change request."""
    founder, operator = people[FOUNDER], people[OPERATOR]
    project = Project.objects.filter(organisation=organisation, title=PROJECT).first()
    if project is None:
        start = timezone.localdate().replace(day=1)
        project = project_create(
            actor=operator,
            organisation=organisation,
            title=PROJECT,
            members=[(founder, "pi")],
            allocation={
                "resources": {"gpu_hours": 24_000, "cpu_core_hours": 60_000, "storage_tb": 5},
                "start": start.isoformat(),
                "end": (start + timedelta(days=364)).isoformat(),
                "tranche_policy": TranchePolicy.MONTHLY_CARRY,
                "pool": "eurohpc-" + str(start.year),
                "cluster": CLUSTER,
                "partition": PARTITION,
            },
        )
    if not project.change_requests.exists():
        try:
            change_request_create(
                actor=founder,
                project=project,
                kind=ChangeKind.RESOURCES,
                details={"resources": CHANGE},
                reason="The new 10 m land-cover classes need a second training run.",
            )
        except (ValidationError, ServiceError) as exc:
            skipped.append(f"change request on {PROJECT}: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors(exc).items())
    return getattr(exc, "message", str(exc))
