"""`aifactory readiness`: the questionnaire and the assessments, for advisors and operators with
server access.

The command reads as the system (every organisation's assessments), like `aifactory catalog`;
it changes nothing.
"""

import contextlib
import json
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from aifactory.advisor import readiness
from aifactory.advisor.models import Assessment, AssessmentStatus
from aifactory.advisor.readiness_chart import assessment_chart


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


class Command(BaseCommand):
    help = (
        "Readiness assessments: `readiness questions [--lang de] [--json]`, "
        "`readiness list [--organisation NAME_OR_ID] [--status draft|completed]`, "
        "`readiness show ID [--lang de] [--json | --svg]`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        questions = sub.add_parser("questions", help="print the questionnaire")
        questions.add_argument("--lang", default="en", choices=readiness.LANGUAGES)
        questions.add_argument("--version", type=int, default=readiness.CURRENT_VERSION)
        questions.add_argument("--json", action="store_true", help="as JSON, as the API gives it")
        listing = sub.add_parser("list", help="list assessments, newest first")
        listing.add_argument("--organisation", help="legal name (part of it) or id")
        listing.add_argument("--status", choices=AssessmentStatus.values)
        show = sub.add_parser("show", help="one assessment: levels, plan and answers")
        show.add_argument("assessment_id")
        show.add_argument("--lang", choices=readiness.LANGUAGES, help="default: its own")
        form = show.add_mutually_exclusive_group()
        form.add_argument("--json", action="store_true")
        form.add_argument("--svg", action="store_true", help="print the chart as SVG")

    def handle(self, *args, action: str, **options):
        if action == "questions":
            self.questions(options["lang"], options["version"], as_json=options["json"])
        elif action == "list":
            self.list_assessments(options["organisation"], options["status"])
        else:
            self.show(
                options["assessment_id"],
                options["lang"],
                as_json=options["json"],
                as_svg=options["svg"],
            )

    # --- questions ---------------------------------------------------------------------------

    def questions(self, language: str, version: int, *, as_json: bool):
        if not readiness.known_version(version):
            raise CommandError(f"version: there is no questionnaire version {version}")
        q = readiness.present_questionnaire(readiness.questionnaire(version), language)
        if as_json:
            self.stdout.write(_json(q))
            return
        self.stdout.write(f"Readiness questionnaire, version {q['version']} ({language})")
        for d in q["dimensions"]:
            self.stdout.write("")
            self.stdout.write(f"== {d['name']} ({d['key']})")
            for question in d["questions"]:
                self.stdout.write(
                    f"{question['number']:>2}. {question['text']}  [{question['id']}]"
                )
                for o in question["options"]:
                    self.stdout.write(f"      {o['level']}  {o['value']:<20} {o['text']}")

    # --- list --------------------------------------------------------------------------------

    def list_assessments(self, organisation: str | None, status: str | None):
        qs = Assessment.objects.select_related("organisation").order_by("-created_at")
        if organisation:
            match = Q(organisation__legal_name__icontains=organisation)
            with contextlib.suppress(ValueError):
                match |= Q(organisation_id=uuid.UUID(organisation))
            qs = qs.filter(match)
        if status:
            qs = qs.filter(status=status)
        for a in qs:
            when = (a.completed_at or a.created_at).date().isoformat()
            level = a.overall_level if a.overall_level is not None else "-"
            self.stdout.write(
                f"{a.pk}  {when}  {a.status:<9}  level {level}  {a.organisation.legal_name}"
            )

    # --- show --------------------------------------------------------------------------------

    def _get(self, assessment_id: str) -> Assessment:
        try:
            return Assessment.objects.select_related("organisation", "created_by").get(
                pk=uuid.UUID(assessment_id)
            )
        except (ValueError, Assessment.DoesNotExist):
            raise CommandError(f"assessment_id: no assessment {assessment_id}") from None

    def show(self, assessment_id: str, language: str | None, *, as_json: bool, as_svg: bool):
        a = self._get(assessment_id)
        language = language or readiness.normalise_language(a.language)
        q = readiness.questionnaire(a.version)
        result = readiness.present_result(q, a.result, language)
        answered, total = readiness.progress(q, a.answers or {})
        if as_svg:
            if result is None:
                raise CommandError("the chart exists once the assessment is completed")
            self.stdout.write(assessment_chart(a, language))
            return
        if as_json:
            self.stdout.write(
                _json(
                    {
                        "id": str(a.pk),
                        "organisation_id": str(a.organisation_id),
                        "organisation": a.organisation.legal_name,
                        "status": a.status,
                        "version": a.version,
                        "language": a.language,
                        "created_by": a.created_by.email if a.created_by else None,
                        "created_at": a.created_at,
                        "completed_at": a.completed_at,
                        "answered": answered,
                        "total": total,
                        "answers": a.answers or {},
                        "overall_level": a.overall_level,
                        "result": result,
                    }
                )
            )
            return
        self.stdout.write(f"{a.organisation.legal_name} — readiness assessment {a.pk}")
        self.stdout.write(
            f"status {a.status}, version {a.version}, language {a.language or '-'}, "
            f"{answered} of {total} questions answered"
        )
        if result is None:
            self.stdout.write("not completed yet: no levels")
            return
        self.stdout.write(f"completed {a.completed_at:%Y-%m-%d %H:%M}")
        self.stdout.write("")
        overall = result["overall"]
        self.stdout.write(f"overall level {overall['level']} of 5: {overall['name']}")
        width = max(len(row["name"]) for row in result["dimensions"])
        for row in result["dimensions"]:
            bar = "#" * row["level"] + "." * (5 - row["level"])
            self.stdout.write(
                f"  {row['name']:<{width}}  {bar}  {row['level']}  ({row['score']:.2f})"
            )
        self.stdout.write("")
        self.stdout.write("action plan")
        for item in result["plan"]:
            self.stdout.write(f"- {item['name']} (level {item['level']})")
            for step in item["steps"]:
                self.stdout.write(f"    * {step}")
            for o in item["offerings"]:
                self.stdout.write(f"    -> {o['title']} [{o['external_id']}]")
