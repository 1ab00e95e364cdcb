from django.urls import path

from tandem.assessment import views as checkups
from tandem.monitoring import views as monitoring
from tandem.patients import views
from tandem.planning import care_plan_views as plan
from tandem.planning import views as planning

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_new, name="new"),
    path("<uuid:patient_id>/", views.patient_detail, name="detail"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<uuid:patient_id>/episodes/new/", views.episode_new, name="episode-new"),
    path("<uuid:patient_id>/episodes/<uuid:episode_id>/", views.episode_edit, name="episode-edit"),
    path("<uuid:patient_id>/care-team/new/", views.member_new, name="member-new"),
    path(
        "<uuid:patient_id>/care-team/<uuid:member_id>/end/", views.member_end, name="member-end"
    ),
    path("<uuid:patient_id>/flags/", monitoring.flags, name="flags"),
    path("<uuid:patient_id>/flags/<uuid:flag_id>/", monitoring.flag, name="flag"),
    path("<uuid:patient_id>/contacts/new/", monitoring.contact_new, name="contact-new"),
    path("<uuid:patient_id>/re-engage/", monitoring.reengage, name="re-engage"),
    path("<uuid:patient_id>/timeline/", monitoring.patient_timeline, name="timeline"),
    path("<uuid:patient_id>/plan/", plan.plan, name="plan"),
    path("<uuid:patient_id>/plan/edit/", plan.plan_form, name="plan-edit"),
    path("<uuid:patient_id>/plan/sign/", plan.sign, name="plan-sign"),
    path("<uuid:patient_id>/plan/review/", plan.review_form, name="review-new"),
    path("<uuid:patient_id>/plan/reviews/<uuid:review_id>/", plan.review, name="review"),
    path("<uuid:patient_id>/plan/difference/", plan.difference, name="plan-difference"),
    path("<uuid:patient_id>/plan/print/", plan.printable, name="plan-print"),
    path("<uuid:patient_id>/plan/print.pdf", plan.printable, {"pdf": True}, name="plan-pdf"),
    path("<uuid:patient_id>/plan/actions/new/", plan.action_form, name="action-new"),
    path(
        "<uuid:patient_id>/plan/actions/<uuid:action_id>/", plan.action_form, name="action-edit"
    ),
    path(
        "<uuid:patient_id>/plan/proposals/<int:proposal_id>/",
        plan.respond,
        name="proposal-respond",
    ),
    path("<uuid:patient_id>/goals/", planning.goals, name="goals"),
    path("<uuid:patient_id>/goals/new/", planning.goal_form, name="goal-new"),
    path("<uuid:patient_id>/goals/<uuid:goal_id>/", planning.goal_form, name="goal-edit"),
    path("<uuid:patient_id>/priorities/", planning.priorities, name="priorities"),
    path("<uuid:patient_id>/priorities/new/", planning.start, name="priorities-new"),
    path(
        "<uuid:patient_id>/priorities/<uuid:session_id>/", planning.session, name="sort-session"
    ),
    path(
        "<uuid:patient_id>/priorities/<uuid:session_id>/discussion/",
        planning.discussion,
        name="sort-discussion",
    ),
    path(
        "<uuid:patient_id>/priorities/<uuid:session_id>/<slug:voice>/", planning.sort, name="sort"
    ),
    path("<uuid:patient_id>/checkups/", checkups.results, name="checkups"),
    path("<uuid:patient_id>/checkups/new/", checkups.new, name="checkup-new"),
    path("<uuid:patient_id>/checkups/schedule/", checkups.schedule, name="checkup-schedule"),
    path(
        "<uuid:patient_id>/checkups/<uuid:response_id>/", checkups.entry, name="checkup-entry"
    ),
    path(
        "<uuid:patient_id>/checkups/<uuid:response_id>/view/",
        checkups.detail,
        name="checkup-detail",
    ),
]
