"""Pages of the catalogue: browse and search, an offering's page, the front door (matchmaking),
the providers' listings and the operators' review queue.

The views read through the selectors and change state only through the services; what a
person may do is asked of core.permissions, so buttons appear only for those allowed and the
services check again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_countries import countries

from aifactory.accounts.selectors import organisations_visible
from aifactory.core.forms import call_service
from aifactory.core.htmx import is_htmx, render_page
from aifactory.core.language import TEXT_LANGUAGES
from aifactory.core.permissions import allowed, require
from aifactory.core.taxonomy import JourneyStage, OrganisationKind, Sector, SizeClass

from . import selectors, services
from .forms import BrowseForm, MatchForm, OfferingForm, ReasonForm
from .jsonld import offering_jsonld, script_tag
from .matching import SESSION_KEY, match
from .models import AiActRisk, Deployment, Offering, OfferingStatus, OfferingType

PAGE_SIZE = 24
SEARCH_LIMIT = 50  # results of a free-text search on the browse page, best first
MATCH_LIMIT = 20  # results of the front door, across all groups
FACET_LABELS = {
    "type": dict(OfferingType.choices),
    "sector": dict(Sector.choices),
    "stage": dict(JourneyStage.choices),
    "deployment": dict(Deployment.choices),
}


# --- how an offering is shown ------------------------------------------------------------------


def language_name(code: str) -> str:
    """The language's name in the page's language; the code itself when Django does not know it."""
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _text(values: dict[str, str], language: str) -> tuple[str, str]:
    """(language, text): the visitor's language when the offering has it, else the first one it
    has (as Offering.text picks), so the page can say which language the text is written in."""
    if values.get(language):
        return language, values[language]
    for lang in TEXT_LANGUAGES:
        if values.get(lang):
            return lang, values[lang]
    return language, ""


def card(offering: Offering, language: str, found=None) -> dict:
    """What a result card shows; ``found`` (a matching.Match) adds the reasons and eligibility."""
    title_lang, title = _text(offering.title, language)
    description_lang, description = _text(offering.description, language)
    row = {
        "offering": offering,
        "title": title,
        "title_lang": title_lang,
        "description": description,
        "description_lang": description_lang,
        "type_label": FACET_LABELS["type"].get(offering.type, offering.type),
        "languages": [language_name(code) for code in offering.languages],
        "reasons": [],
        "eligible": True,
    }
    if found is not None:
        row["reasons"] = [r for r in found.reasons if r.kind != "not_eligible"]
        row["not_eligible"] = [r for r in found.reasons if r.kind == "not_eligible"]
        row["eligible"] = found.eligible
        row["score"] = found.score
    return row


def _labels(values, choices: dict) -> list[str]:
    return [str(choices.get(value, value)) for value in values]


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- browse and search -------------------------------------------------------------------------


def _facet_groups(form: BrowseForm, chosen: dict[str, list[str]]) -> list[dict]:
    """The facets with every value and its count, for the check boxes and their counts."""
    counts = selectors.offering_facet_counts(chosen)
    groups = []
    for name in BrowseForm.FACETS:
        values = counts[name]
        if name == "language":
            # The hub's four languages first, then the others by name.
            codes = sorted(
                set(values) | set(chosen[name]),
                key=lambda c: (
                    TEXT_LANGUAGES.index(c) if c in TEXT_LANGUAGES else 9,
                    language_name(c),
                ),
            )
            options = [(code, language_name(code)) for code in codes]
        else:
            options = list(FACET_LABELS[name].items())
        groups.append(
            {
                "name": name,
                "label": form.fields[name].label,
                "options": [
                    {
                        "value": value,
                        "label": label,
                        "count": values.get(value, 0),
                        "checked": value in chosen[name],
                    }
                    for value, label in options
                ],
                "open": bool(chosen[name]) or name == "type",
            }
        )
    return groups


@require_GET
def browse(request):
    """Free text ranks with the matchmaking (and says why); without text the published
    offerings are listed, newest first. Facets narrow both; HTMX swaps only the results."""
    form = BrowseForm(request.GET or None)
    chosen = form.facets() if request.GET else {name: [] for name in BrowseForm.FACETS}
    text = form.text() if request.GET else ""
    language = get_language()
    context = {
        "form": form,
        "text": text,
        "facets": _facet_groups(form, chosen),
        "filtered": any(chosen.values()),
        "facet_oob": is_htmx(request),
        "can_moderate": allowed(request.user, "offering.moderate"),
        "can_list": bool(selectors.provider_organisations(request.user))
        or allowed(request.user, "offering.moderate"),
    }
    if text:
        facets = {name: values for name, values in chosen.items() if values}
        ok, result = call_service(
            request,
            match,
            form=form,
            text=text,
            user=request.user,
            facets=facets or None,
            limit=SEARCH_LIMIT,
        )
        context["cards"] = [card(m.offering, language, m) for m in result.matches] if ok else []
        context["notices"] = result.notices if ok else []
        context["searched"] = ok
    else:
        page = Paginator(selectors.offerings_faceted(chosen), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context["page"] = page
        context["listing"] = True
        context["cards"] = [card(o, language) for o in page]
    return render_page(request, "catalog/browse.html", "catalog/_results.html", context)


# --- an offering's page ------------------------------------------------------------------------


def _other_texts(offering: Offering, shown: set[str]) -> list[dict]:
    """The title and description in the languages not shown above, for readers of those."""
    others = []
    for lang in TEXT_LANGUAGES:
        if lang in shown:
            continue
        title, description = offering.title.get(lang, ""), offering.description.get(lang, "")
        if title or description:
            others.append(
                {
                    "lang": lang,
                    "name": language_name(lang),
                    "title": title,
                    "description": description,
                }
            )
    return others


def _actions(user, offering: Offering) -> dict:
    can_edit = allowed(user, "offering.edit", offering)
    status = offering.status
    return {
        "can_edit": can_edit and status != OfferingStatus.ARCHIVED,
        "can_submit": can_edit and status == OfferingStatus.DRAFT,
        "can_archive": can_edit and status != OfferingStatus.ARCHIVED,
        "can_restore": can_edit and status == OfferingStatus.ARCHIVED,
        "can_moderate": allowed(user, "offering.moderate", offering)
        and status == OfferingStatus.IN_REVIEW,
        "sees_review_note": can_edit,
    }


@require_GET
def detail(request, external_id):
    offering = selectors.offering_get(request.user, external_id)
    language = get_language()
    title_lang, title = _text(offering.title, language)
    description_lang, description = _text(offering.description, language)
    page_url = request.build_absolute_uri(reverse("catalog:detail", args=[offering.external_id]))
    country_names = dict(countries)
    context = {
        "offering": offering,
        "title": title,
        "title_lang": title_lang,
        "description": description,
        "description_lang": description_lang,
        "text_language_name": language_name(description_lang or title_lang),
        "translated": language not in (title_lang, description_lang),
        "other_texts": _other_texts(offering, {title_lang, description_lang}),
        "type_label": FACET_LABELS["type"].get(offering.type, offering.type),
        "sectors": _labels(offering.sectors, FACET_LABELS["sector"]),
        "stages": _labels(offering.stages, FACET_LABELS["stage"]),
        "deployment": _labels(offering.deployment, FACET_LABELS["deployment"]),
        "offering_languages": [language_name(code) for code in offering.languages],
        "for_kinds": _labels(offering.for_kinds, dict(OrganisationKind.choices)),
        "for_sizes": _labels(offering.for_sizes, dict(SizeClass.choices)),
        "countries": [country_names.get(code, code) for code in offering.eligible_countries],
        "ai_act_risk": dict(AiActRisk.choices).get(offering.ai_act_risk, ""),
        "jsonld": script_tag(offering_jsonld(offering, page_url=page_url, language=language)),
        **_actions(request.user, offering),
    }
    return render(request, "catalog/detail.html", context)


# --- the front door ----------------------------------------------------------------------------


def case_form_url() -> str:
    """The advisor app's case form; its literal path until that page exists."""
    try:
        return reverse("advisor:case_create")
    except NoReverseMatch:
        return "/cases/new/"


@require_http_methods(["GET", "POST"])
def match_page(request):
    """The need in free text, with an optional sector and organisation profile; the results
    grouped by next step. A GET with ``text`` runs it too, so a need can be linked to."""
    user = request.user
    organisations = list(organisations_visible(user)) if user.is_authenticated else []
    if request.method == "POST":
        data = request.POST
    else:
        data = request.GET if "text" in request.GET else None
    form = MatchForm(data, organisations=organisations)
    result, groups = None, []
    if data is not None and form.is_valid():
        organisation = form.cleaned_data.get("organisation")
        ok, result = call_service(
            request,
            match,
            form=form,
            text=form.cleaned_data["text"],
            user=user,
            organisation=organisation,
            sector=form.cleaned_data["sector"],
            limit=MATCH_LIMIT,
        )
        if ok:
            request.session[SESSION_KEY] = {
                "need": result.text,
                "sector": form.cleaned_data["sector"] or "",
                "organisation": str(organisation.pk) if organisation else "",
            }
            language = get_language()
            groups = [
                (group, [card(m.offering, language, m) for m in matches])
                for group, matches in result.grouped()
            ]
    context = {
        "form": form,
        "result": result,
        "groups": groups,
        # "other": another language or script; the matchmaking's notice says so.
        "need_language": language_name(result.language)
        if result and result.language in TEXT_LANGUAGES
        else "",
        "case_url": case_form_url(),
        "case_organisation": form.cleaned_data.get("organisation") if result else None,
    }
    return render_page(request, "catalog/match.html", "catalog/_match_area.html", context)


# --- providers ---------------------------------------------------------------------------------


@login_required
@require_GET
def mine(request):
    user = request.user
    offerings = list(selectors.offerings_managed(user))
    rows = [{**card(o, get_language()), **_actions(user, o)} for o in offerings]
    return render(
        request,
        "catalog/mine.html",
        {
            "rows": rows,
            "organisations": selectors.provider_organisations(user),
            "can_moderate": allowed(user, "offering.moderate"),
        },
    )


def _form_organisations(user):
    """Whom the person may list for: their managed organisations; operators list for anyone."""
    if allowed(user, "offering.moderate"):
        return list(organisations_visible(user, all_for_staff=True)), True
    return selectors.provider_organisations(user), False


@login_required
@require_http_methods(["GET", "POST"])
def create(request):
    user = request.user
    organisations, operator = _form_organisations(user)
    if not organisations and not operator:
        raise PermissionDenied("offering.create")
    form = OfferingForm(
        request.POST or None, organisations=organisations, allow_no_organisation=operator
    )
    if request.method == "POST" and form.is_valid():
        ok, offering = call_service(request, form.save, form=form, actor=user)
        if ok:
            messages.success(
                request,
                _("Saved as a draft. Submit it for review when it is ready."),
            )
            return redirect("catalog:detail", offering.external_id)
    return render(request, "catalog/form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, external_id):
    user = request.user
    offering = selectors.offering_get(user, external_id)
    if not allowed(user, "offering.edit", offering):
        raise PermissionDenied("offering.edit")
    organisations, operator = _form_organisations(user)
    form = OfferingForm(
        request.POST or None,
        organisations=organisations,
        allow_no_organisation=operator,
        offering=offering,
    )
    if request.method == "POST" and form.is_valid():
        was_published = offering.status == OfferingStatus.PUBLISHED
        ok, offering = call_service(request, form.save, form=form, actor=user)
        if ok:
            if was_published and offering.status == OfferingStatus.IN_REVIEW:
                messages.success(
                    request,
                    _(
                        "Saved. The listing is back in review and leaves the public catalogue "
                        "until an operator approves it."
                    ),
                )
            else:
                messages.success(request, _("Saved."))
            return redirect("catalog:detail", offering.external_id)
        offering = form.offering
    return render(
        request,
        "catalog/form.html",
        {
            "form": form,
            "creating": False,
            "offering": offering,
            "is_moderator": operator,
        },
    )


def _transition(request, external_id, service, rule: str, done: str, **kwargs):
    """One of the moderation steps; a refusal is shown as a message. Who may not act gets 403
    before anything else is looked at (the service checks again)."""
    offering = selectors.offering_get(request.user, external_id)
    require(request.user, rule, offering)
    ok, changed = call_service(request, service, actor=request.user, offering=offering, **kwargs)
    if ok:
        messages.success(request, done % {"title": changed.display_title})
    return redirect(_next_url(request, reverse("catalog:detail", args=[offering.external_id])))


@login_required
@require_POST
def submit(request, external_id):
    return _transition(
        request,
        external_id,
        services.offering_submit,
        "offering.edit",
        _("“%(title)s” is submitted for review."),
    )


@login_required
@require_POST
def archive(request, external_id):
    return _transition(
        request,
        external_id,
        services.offering_archive,
        "offering.edit",
        _("“%(title)s” is archived."),
    )


@login_required
@require_POST
def restore(request, external_id):
    return _transition(
        request,
        external_id,
        services.offering_restore,
        "offering.edit",
        _("“%(title)s” is restored as a draft."),
    )


# --- moderation --------------------------------------------------------------------------------


@login_required
@require_GET
def review(request):
    if not allowed(request.user, "offering.moderate"):
        raise PermissionDenied("offering.moderate")
    waiting = selectors.offerings_visible(request.user, status=OfferingStatus.IN_REVIEW).order_by(
        "updated_at", "external_id"
    )
    language = get_language()
    return render(
        request,
        "catalog/review.html",
        {"rows": [card(o, language) for o in waiting]},
    )


@login_required
@require_POST
def approve(request, external_id):
    return _transition(
        request,
        external_id,
        services.offering_approve,
        "offering.moderate",
        _("“%(title)s” is published."),
    )


@login_required
@require_POST
def reject(request, external_id):
    form = ReasonForm(request.POST)
    form.is_valid()
    return _transition(
        request,
        external_id,
        services.offering_reject,
        "offering.moderate",
        _("“%(title)s” is returned to the provider with your reason."),
        reason=form.cleaned_data.get("reason", ""),
    )
