"""The outbox's one public address: providers' delivery receipts (no session; a bearer token)."""

from django.urls import path

from tandem.outbox import views

public = [path("notify/receipts", views.notify_receipt, name="notify-receipt")]
