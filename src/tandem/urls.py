from django.contrib.auth import views as auth_views
from django.urls import include, path

from tandem.accounts.views import SignInView
from tandem.api.urls import api
from tandem.api.views import api_docs
from tandem.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("healthz", web.healthz, name="healthz"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/", include("tandem.patients.urls")),
    path("portal/", include("tandem.portal.urls")),
    path("manage/", include("tandem.accounts.urls")),
    path("audit/", include("tandem.audit.urls")),
    path("api/v1/docs", api_docs, name="api-docs"),
    path("api/v1/", api.urls),
]

handler403 = "tandem.web.views.forbidden"
handler404 = "tandem.web.views.not_found"
handler500 = "tandem.web.views.server_error"
