"""Reviews of applications: the operator's technical assessment and the peer review.

A review is a Review row; its status is a small state machine::

    assigned → submitted                   (the reviewer declared no conflict, then scored)
    assigned → conflict                    (the reviewer declared a conflict: they are out)
    assigned → closed                      (the application was withdrawn or decided first)
    assigned, submitted → closed           (the application was resubmitted after a revision)
    closed → assigned                      (the same reviewer assigned again to the new version)

The application services close the reviews (``applications._close_reviews``); a closed review
no longer counts for the decision or the score and gives no access to the application.

The technical assessment is written and submitted at once by an operator (one per application;
an operator may revise it while the application is in technical review, and a resubmission after
a revision needs a new one; the audit log keeps every version). When the mode also needs peer review, submitting the
technical assessment moves the application to ``peer_review``. Peer reviewers are people with
the reviewer role; one who belongs to the applicant organisation or is named on the application
is refused when assigned (a conflict the hub can see for itself); the others must declare whether
they have a conflict before they can score. Scores are whole numbers 1-5 per criterion with
comments; what the others scored is hidden from a reviewer until their own is submitted (the
selectors enforce it).
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aifactory.core.errors import InvalidTransition, NotAllowed, ServiceError
from aifactory.core.mail import mail_send
from aifactory.core.permissions import allowed, require, require_actor
from aifactory.core.services import audit_record

from ..models import Application, ApplicationStatus, Review, ReviewKind, ReviewStatus
from .applications import _language, _locked, _move

__all__ = [
    "CRITERIA",
    "RECOMMENDATIONS",
    "TECHNICAL_CRITERIA",
    "peer_review_submit",
    "peer_reviewer_assign",
    "peer_reviewer_unassign",
    "review_declare_conflict",
    "reviewer_by_email",
    "reviewer_conflict",
    "technical_assessment_submit",
]

S = ApplicationStatus
CRITERIA = {
    "excellence": gettext_lazy("excellence"),
    "impact": gettext_lazy("impact"),
    "feasibility": gettext_lazy("feasibility"),
}
TECHNICAL_CRITERIA = {
    "feasibility": gettext_lazy("technical feasibility"),
    "software": gettext_lazy("software and environment"),
    "data": gettext_lazy("data (availability, size, transfer)"),
    "scaling": gettext_lazy("scaling evidence"),
}
RECOMMENDATIONS = {
    "accept": gettext_lazy("accept"),
    "accept_reduced": gettext_lazy("accept with reduced resources"),
    "reject": gettext_lazy("reject"),
}
TEXT_MAX = 5000
SCORES = ("1", "2", "3", "4", "5")  # a form sends text; anything else must be an int


def _text(field: str, value: Any, *, required: bool = True) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationError({field: _("Enter text.")})
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > TEXT_MAX or "\x00" in value:
        raise ValidationError({field: _("At most %(limit)d characters.") % {"limit": TEXT_MAX}})
    return value


def _choice(field: str, value: Any, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationError({field: _("Unknown value “%(value)s”.") % {"value": value}})
    return value


def _mail(review: Review, subject: str, lines: list[str]) -> None:
    """Mail the reviewer in their language after the commit."""
    person = review.reviewer
    if not person.email:
        return
    link = settings.SITE_URL + reverse("access:review_detail", args=[review.pk])
    with translation.override(_language(person)):
        text = "\n".join([str(x) for x in lines] + ["", link]) + "\n"
        subject = str(subject)
    to = [person.email]
    transaction.on_commit(lambda: mail_send(subject=subject, body=text, to=to))


# --- technical assessment -----------------------------------------------------------------------


def technical_assessment_submit(
    *,
    actor,
    application: Application,
    assessment: dict,
    recommendation: str,
    comments: str = "",
) -> Review:
    """The operator's assessment of feasibility, software, data and scaling evidence, each a
    short text, with a recommendation. In a mode that also needs peer review, the application
    moves on to it.

    While the application is in technical review, an operator (the same or another) may submit
    the assessment again: the new one replaces the old, and the audit log keeps each version.
    After a revision the old assessment is closed and this writes the new one on the same row."""
    require(actor, "review.assess", application)
    if not isinstance(assessment, dict):
        raise ValidationError({"assessment": _("Give the assessment per criterion.")})
    unknown = set(assessment) - set(TECHNICAL_CRITERIA)
    if unknown:
        raise ValidationError(
            {f"assessment.{k}": _("Unknown criterion.") for k in sorted(map(str, unknown))}
        )
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for key in TECHNICAL_CRITERIA:
        try:
            cleaned[key] = _text(f"assessment.{key}", assessment.get(key))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    try:
        recommendation = _choice("recommendation", recommendation, RECOMMENDATIONS)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        comments = _text("comments", comments, required=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        application = _locked(application)
        if application.status != S.TECHNICAL_REVIEW:
            raise InvalidTransition(
                _("An application that is %(status)s is not waiting for a technical assessment.")
                % {"status": application.get_status_display()}
            )
        review = application.reviews.filter(kind=ReviewKind.TECHNICAL).first() or Review(
            application=application, kind=ReviewKind.TECHNICAL
        )
        review.reviewer = actor
        review.status = ReviewStatus.SUBMITTED
        review.conflict_declared = False
        review.assessment = cleaned
        review.recommendation = recommendation
        review.comments = comments
        review.submitted_at = timezone.now()
        review.save()
        audit_record(
            actor=actor,
            action="review.technical_submit",
            obj=application,
            changes={
                "review": review.pk,
                "assessment": cleaned,
                "recommendation": recommendation,
                "comments": comments,
            },
        )
        if "peer" in (application.call.mode.reviews or []):
            _move(
                application,
                actor,
                S.PEER_REVIEW,
                note=_("The technical assessment is done; the application goes to peer review."),
            )
    return review


# --- peer review --------------------------------------------------------------------------------


def reviewer_by_email(email: Any):
    """The active person with this address, to be assigned as a reviewer (the pages, the API
    and the command line look the reviewer up here)."""
    if not isinstance(email, str) or not email.strip():
        raise ValidationError({"reviewer": _("Enter an e-mail address.")})
    person = get_user_model().objects.filter(email__iexact=email.strip(), is_active=True).first()
    if person is None:
        raise ValidationError({"reviewer": _("Nobody on the hub has this e-mail address.")})
    return person


def reviewer_conflict(reviewer, application: Application) -> str:
    """A conflict of interest the hub can see for itself, as a sentence; "" when none."""
    if reviewer.memberships.filter(organisation=application.organisation).exists():
        return _("%(name)s belongs to the applicant organisation (conflict of interest).") % {
            "name": reviewer.email
        }
    named = Q(user=reviewer)
    if reviewer.email:
        named |= Q(email__iexact=reviewer.email)
    if application.created_by_id == reviewer.pk or application.members.filter(named).exists():
        return _("%(name)s is named on the application (conflict of interest).") % {
            "name": reviewer.email
        }
    return ""


def peer_reviewer_assign(*, actor, application: Application, reviewer) -> Review:
    """Assign a reviewer (during the technical or the peer review of a mode with peer review). A
    person without the reviewer role, or with a visible conflict of interest, is refused; one
    whose review was closed (the application was resubmitted after a revision) is assigned
    again on the same review."""
    require_actor(actor, "review.assign", application)
    if reviewer is None or not allowed(reviewer, "review.be_assigned"):
        raise ValidationError({"reviewer": _("Only a person with the reviewer role can review.")})
    with transaction.atomic():
        application = _locked(application)
        if application.status not in (S.TECHNICAL_REVIEW, S.PEER_REVIEW):
            raise InvalidTransition(
                _("Reviewers cannot be assigned to an application that is %(status)s.")
                % {"status": application.get_status_display()}
            )
        if "peer" not in (application.call.mode.reviews or []):
            raise InvalidTransition(
                _("Applications in this mode have no peer review; assign no reviewers.")
            )
        conflict = reviewer_conflict(reviewer, application)
        if conflict:
            raise ValidationError({"reviewer": conflict})
        existing = application.reviews.filter(kind=ReviewKind.PEER, reviewer=reviewer).first()
        if existing is not None and existing.status == ReviewStatus.CONFLICT:
            raise ServiceError(
                _("%(name)s declared a conflict of interest for this application.")
                % {"name": reviewer.email},
                field="reviewer",
            )
        if existing is not None and existing.status != ReviewStatus.CLOSED:
            raise ServiceError(
                _("%(name)s is already assigned to this application.") % {"name": reviewer.email},
                field="reviewer",
            )
        changes: dict[str, Any] = {}
        if existing is not None:
            # One review per reviewer and application (a unique constraint): the closed one of
            # the earlier round is opened again, blank. Its old values stay in the audit log
            # (review.peer_submit recorded the scores; this record keeps all of them).
            review = existing
            changes["reopened"] = {
                "status": review.status,
                "conflict_declared": review.conflict_declared,
                "conflict_note": review.conflict_note,
                "scores": review.scores,
                "comments": review.comments,
                "submitted_at": review.submitted_at,
            }
            review.status = ReviewStatus.ASSIGNED
            review.conflict_declared = None
            review.conflict_note = ""
            review.scores = {}
            review.assessment = {}
            review.comments = ""
            review.recommendation = ""
            review.submitted_at = None
            review.save()
        else:
            review = Review.objects.create(
                application=application, kind=ReviewKind.PEER, reviewer=reviewer
            )
        audit_record(
            actor=actor,
            action="review.assign",
            obj=application,
            changes={"review": review.pk, "reviewer": reviewer.pk, **changes},
        )
        with translation.override(_language(reviewer)):
            _mail(
                review,
                _("[%(ref)s] You are asked to review an application")
                % {"ref": application.reference},
                [
                    _("You are asked to review application %(ref)s: %(title)s.")
                    % {"ref": application.reference, "title": application.title},
                    _(
                        "First declare whether you have a conflict of interest; then score "
                        "excellence, impact and feasibility from 1 to 5, with comments."
                    ),
                ],
            )
    return review


def _locked_review(review: Review) -> Review:
    # Lock the review row only, not the application, call, mode or people joined to it.
    return (
        Review.objects.select_for_update(of=("self",))
        .select_related("application__call__mode", "application__organisation", "reviewer")
        .get(pk=review.pk)
    )


def peer_reviewer_unassign(*, actor, review: Review) -> None:
    """Take a reviewer off an application before they submitted (for example one who does not
    answer); a submitted review stays, and so does a declared conflict (the person must not be
    assigned again) and a closed review (the record of an earlier round)."""
    require_actor(actor, "review.assign", review.application)
    with transaction.atomic():
        review = _locked_review(review)
        if review.kind != ReviewKind.PEER:
            raise InvalidTransition(_("This is not a peer review."))
        if review.status == ReviewStatus.SUBMITTED:
            raise InvalidTransition(_("A submitted review cannot be taken back."))
        if review.status == ReviewStatus.CONFLICT:
            raise InvalidTransition(
                _("The reviewer declared a conflict of interest; the declaration stays on record.")
            )
        if review.status != ReviewStatus.ASSIGNED:
            raise InvalidTransition(_("This review is no longer open."))
        application = review.application
        audit_record(
            actor=actor,
            action="review.unassign",
            obj=application,
            changes={"review": review.pk, "reviewer": review.reviewer_id},
        )
        review.delete()


def _own(actor, review: Review) -> None:
    if not allowed(actor, "review.write", review):
        raise NotAllowed(_("Only the reviewer assigned to this review can write it."))


def review_declare_conflict(*, actor, review: Review, conflict: bool, note: str = "") -> Review:
    """The reviewer says whether they have a conflict of interest. Declaring one takes them off
    the application (the operator assigns someone else); declaring none opens the scoring."""
    _own(actor, review)
    if not isinstance(conflict, bool):
        raise ValidationError({"conflict": _("Answer yes or no.")})
    note = _text("note", note, required=conflict)
    with transaction.atomic():
        review = _locked_review(review)
        _own(actor, review)
        if (
            review.kind != ReviewKind.PEER
            or review.status != ReviewStatus.ASSIGNED
            or review.application.status in (S.DECIDED, S.WITHDRAWN)
        ):
            raise InvalidTransition(_("This review is no longer open."))
        if review.conflict_declared is not None:
            raise InvalidTransition(_("The conflict of interest is declared already."))
        review.conflict_declared = conflict
        review.conflict_note = note
        if conflict:
            review.status = ReviewStatus.CONFLICT
        review.save()
        audit_record(
            actor=actor,
            action="review.declare_conflict",
            obj=review.application,
            changes={"review": review.pk, "conflict": conflict},
        )
    return review


def _scores(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValidationError({"scores": _("Give a score for each criterion.")})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(map(str, value)) - set(CRITERIA)):
        errors[f"scores.{key}"] = [_("Unknown criterion.")]
    cleaned = {}
    for key in CRITERIA:
        score = value.get(key)
        if isinstance(score, str) and score.strip() in SCORES:
            score = int(score)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            errors[f"scores.{key}"] = [_("Give a whole number from 1 to 5.")]
        else:
            cleaned[key] = score
    if errors:
        raise ValidationError(errors)
    return cleaned


def peer_review_submit(*, actor, review: Review, scores: dict, comments: str) -> Review:
    """Score the application (1-5 per criterion) with comments, once. Only the assigned reviewer,
    after declaring no conflict, while the application is in peer review."""
    _own(actor, review)
    scores = _scores(scores)
    comments = _text("comments", comments)
    with transaction.atomic():
        review = _locked_review(review)
        _own(actor, review)
        if review.kind != ReviewKind.PEER:
            raise InvalidTransition(_("This is not a peer review."))
        if review.status == ReviewStatus.SUBMITTED:
            raise InvalidTransition(_("This review is submitted already."))
        if review.status != ReviewStatus.ASSIGNED:
            raise InvalidTransition(_("This review is no longer open."))
        if review.conflict_declared is None:
            raise ServiceError(
                _("Declare first whether you have a conflict of interest."), field="conflict"
            )
        application = review.application
        if application.status != S.PEER_REVIEW:
            raise InvalidTransition(
                _("The application is %(status)s; it can be scored only in peer review.")
                % {"status": application.get_status_display()}
            )
        review.scores = scores
        review.comments = comments
        review.status = ReviewStatus.SUBMITTED
        review.submitted_at = timezone.now()
        review.save()
        audit_record(
            actor=actor,
            action="review.peer_submit",
            obj=application,
            changes={"review": review.pk, "scores": scores},
        )
    return review
