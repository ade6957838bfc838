import json
from http import HTTPStatus

from django.utils.translation import gettext as _

PROBLEM = "application/problem+json"


class ApiProblemMiddleware:
    """Every error under /api/ is application/problem+json, also those that Django or ninja
    answer without our handlers (405 for a method the endpoint lacks, 400 for a request Django
    refuses outright)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.streaming
            and not response.get("Content-Type", "").startswith(PROBLEM)
        ):
            status = response.status_code
            try:
                title = HTTPStatus(status).phrase
            except ValueError:
                title = "Error"
            body = {"type": "about:blank", "title": title, "status": status}
            if status == 405 and response.has_header("Allow"):
                body["detail"] = _("Allowed methods: %(methods)s.") % {"methods": response["Allow"]}
            response.content = json.dumps(body).encode()
            response["Content-Type"] = PROBLEM
        return response
