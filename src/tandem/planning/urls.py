"""Planning's pages: the plan, goals and priority sorts under /patients/ (the "patients"
namespace) and the patient's own under /portal/ (the "portal" namespace)."""

from django.urls import path

from tandem.planning.views import portal as mine
from tandem.planning.views import staff as views

staff = [
    path("<uuid:patient_id>/plan/", views.plan, name="plan"),
    path("<uuid:patient_id>/plan/edit/", views.plan_form, name="plan-edit"),
    path("<uuid:patient_id>/plan/sign/", views.sign, name="plan-sign"),
    path("<uuid:patient_id>/plan/review/", views.review_form, name="review-new"),
    path("<uuid:patient_id>/plan/reviews/<uuid:review_id>/", views.review, name="review"),
    path("<uuid:patient_id>/plan/difference/", views.difference, name="plan-difference"),
    path("<uuid:patient_id>/plan/print/", views.printable, name="plan-print"),
    path("<uuid:patient_id>/plan/print.pdf", views.printable, {"pdf": True}, name="plan-pdf"),
    path("<uuid:patient_id>/plan/actions/new/", views.action_form, name="action-new"),
    path(
        "<uuid:patient_id>/plan/actions/<uuid:action_id>/", views.action_form, name="action-edit"
    ),
    path(
        "<uuid:patient_id>/plan/proposals/<int:proposal_id>/",
        views.respond,
        name="proposal-respond",
    ),
    path("<uuid:patient_id>/goals/", views.goals, name="goals"),
    path("<uuid:patient_id>/goals/new/", views.goal_form, name="goal-new"),
    path("<uuid:patient_id>/goals/<uuid:goal_id>/", views.goal_form, name="goal-edit"),
    path("<uuid:patient_id>/priorities/", views.priorities, name="priorities"),
    path("<uuid:patient_id>/priorities/new/", views.start, name="priorities-new"),
    path(
        "<uuid:patient_id>/priorities/<uuid:session_id>/", views.session, name="sort-session"
    ),
    path(
        "<uuid:patient_id>/priorities/<uuid:session_id>/discussion/",
        views.discussion,
        name="sort-discussion",
    ),
    path(
        "<uuid:patient_id>/priorities/<uuid:session_id>/<slug:voice>/", views.sort, name="sort"
    ),
]
portal = [
    path("priorities/", mine.priorities, name="priorities"),
    path("goals/", mine.goals, name="goals"),
    path("plan/", mine.plan, name="plan"),
    path("plan/sign/", mine.plan_sign, name="plan-sign"),
    path("plan/propose/", mine.plan_propose, name="plan-propose"),
    path("plan/print/", mine.plan_print, name="plan-print"),
    path("plan/print.pdf", mine.plan_print, {"pdf": True}, name="plan-pdf"),
    path("priorities/<uuid:session_id>/", mine.sort, name="sort"),
]
