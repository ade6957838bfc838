from .case_urls import urlpatterns as case_urlpatterns
from .readiness_urls import urlpatterns as readiness_urlpatterns

app_name = "advisor"

urlpatterns = case_urlpatterns + readiness_urlpatterns
