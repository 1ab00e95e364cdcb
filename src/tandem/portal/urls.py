from django.urls import path

from tandem.assessment import portal as checkups
from tandem.planning import portal as planning
from tandem.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("checkups/", checkups.checkups, name="checkups"),
    path("progress/", checkups.progress, name="progress"),
    path("priorities/", planning.priorities, name="priorities"),
    path("goals/", planning.goals, name="goals"),
    path("plan/", planning.plan, name="plan"),
    path("plan/sign/", planning.plan_sign, name="plan-sign"),
    path("plan/propose/", planning.plan_propose, name="plan-propose"),
    path("plan/print/", planning.plan_print, name="plan-print"),
    path("plan/print.pdf", planning.plan_print, {"pdf": True}, name="plan-pdf"),
    path("priorities/<uuid:session_id>/", planning.sort, name="sort"),
    path("checkups/start/<slug:code>/", checkups.start, name="checkup-start"),
    path("checkups/<uuid:response_id>/<int:number>/", checkups.question, name="checkup-question"),
    path("checkups/<uuid:response_id>/help/<int:number>/", checkups.help_now, name="checkup-help"),
    path("checkups/<uuid:response_id>/review/", checkups.review, name="checkup-review"),
    path("checkups/<uuid:response_id>/done/", checkups.done, name="checkup-done"),
]
