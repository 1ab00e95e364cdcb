"""The shell: home routing by role, health check, error pages."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from tandem.accounts.models import Role
from tandem.accounts.permissions import roles_of


def home(request):
    roles = roles_of(request.user)
    if roles & {Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD}:
        return redirect("patients:list")
    if Role.SERVICE_MANAGER in roles:  # the service report is their home
        return redirect("reports:service")
    if Role.PATIENT in roles:
        return redirect("portal:home")
    if Role.SERVICE_ADMIN in roles:
        return redirect("manage:users")
    if Role.AUDITOR in roles:
        return redirect("audit:events")
    return render(request, "web/no_role.html", status=403)


@never_cache
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def forbidden(request, exception=None):
    return render(request, "403.html", {"message": "You do not have permission."}, status=403)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", {"message": "Not found."}, status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return render(request, "500.html", status=500)
