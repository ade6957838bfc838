from .applications_urls import urlpatterns as application_urlpatterns
from .modes_urls import urlpatterns as mode_urlpatterns
from .projects_urls import urlpatterns as project_urlpatterns
from .reviews_urls import urlpatterns as review_urlpatterns

app_name = "access"

urlpatterns = mode_urlpatterns + application_urlpatterns + review_urlpatterns + project_urlpatterns
