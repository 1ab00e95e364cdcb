"""One database transaction per request, tried again when the database gives up on it.

Everything a request writes, and the audit events it records, commit together or not at all;
the audit events are sealed into their chain as the transaction's last step (the lock order of
tandem.audit.trail). Should PostgreSQL still break a deadlock by failing this transaction
(SQLSTATE 40P01), or fail it as a serialisation failure (40001) or on a row another request
made at the same moment (23505), or SQLite find the database locked for longer than its
timeout, everything is rolled back and the whole request runs again, up to RETRIES more times
after a short random pause, before it fails as an error.

Django's ATOMIC_REQUESTS cannot do this: it wraps the view alone (not the audit of the
permission layer before it, nor the list audit after it) and cannot run it again.

On SQLite, GET, HEAD and OPTIONS requests run without the enclosing transaction: SQLite's
writers take turns (IMMEDIATE transactions) and cannot deadlock, and a transaction from the
start of a page would keep every other writer waiting while the page renders. Their audit
events are sealed as they are recorded, as before. So do those of the pages in
`OUTSIDE_REQUEST_TRANSACTION` on PostgreSQL too: pages that only read, and read on other
connections as well (the service report, reporting/report.py), which could not see rows this
request's transaction had not committed and so would otherwise work on one connection.
"""

from __future__ import annotations

import logging
import random
import sys
import time

from django.core.signals import got_request_exception
from django.db import DatabaseError, OperationalError, connection, transaction
from django.http import HttpResponse
from django.urls import Resolver404, resolve

from tandem.audit import trail

log = logging.getLogger(__name__)

RETRIES = 3
PAUSE = 0.05  # seconds: the longest first pause; each later one may be twice as long
# deadlock_detected, serialization_failure, and unique_violation: two requests that each
# found a row missing and made it (a check-up schedule, say); run again, the later one finds
# the other's row, or its form now says what is taken.
RETRYABLE_SQLSTATES = {"40P01", "40001", "23505"}
SQLITE_LOCKED = ("database is locked", "database table is locked")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
FAILED = "_tandem_failed"  # on the request: the exception an attempt raised
LAST = "_tandem_last_attempt"
# What a request keeps from one attempt to the next: its body, as read and parsed (its
# uploaded files rewound to their start).
KEEP = {"_body", "_post", "_files", "_encoding", "_upload_handlers"}


def retryable(error: object) -> bool:
    """A failure that says nothing about the request itself: running it again may succeed."""
    if not isinstance(error, DatabaseError):
        return False
    if getattr(error.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and str(error) in SQLITE_LOCKED


def _remember_failure(sender, request=None, **kwargs):
    """An exception was turned into an error page inside the request: it is rolled back."""
    if request is not None:
        request.__dict__.setdefault(FAILED, sys.exc_info()[1])


got_request_exception.connect(_remember_failure, dispatch_uid="tandem-transactions")


class RetriedIsNoError(logging.Filter):
    """Django logs an exception raised in a middleware inside the transaction (the session's
    save, the audit of a list after the view) as "Internal Server Error" before this
    middleware sees it; drop that record when the attempt is to be run again (a view's
    exception is not logged then: `process_exception`). The last attempt's is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        request = getattr(record, "request", None)
        return not (retryable(error) and getattr(request, LAST, True) is False)


logging.getLogger("django.request").addFilter(RetriedIsNoError())


class Retry(Exception):
    pass


# Pages whose GET, HEAD and OPTIONS requests run without the request's transaction on
# PostgreSQL as well as SQLite (see the module's docstring), by URL name.
OUTSIDE_REQUEST_TRANSACTION = {"reports:service", "reports:export"}


def _outside(request) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in OUTSIDE_REQUEST_TRANSACTION


class TransactionMiddleware:
    """Run the rest of the request (the middleware after this one, and the view) in one
    transaction, sealing its audit events at the end; run it again after a deadlock."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS and (connection.vendor == "sqlite"
                                               or _outside(request)):
            return self.get_response(request)
        try:
            connection.ensure_connection()
        except DatabaseError:  # no database: the pages that say so still answer (healthz)
            return self.get_response(request)
        before = set(request.__dict__) | KEEP
        attempt = 0
        while True:
            try:
                return self.attempt(request, last=attempt == RETRIES)
            except Retry as retry:
                log.warning("%s %s ran into %s; running it again", request.method,
                            request.path, retry.__cause__)
            for name in set(request.__dict__) - before:  # set by the failed attempt
                del request.__dict__[name]
            _rewind_uploads(request)
            time.sleep(random.uniform(0, PAUSE * 2**attempt))  # noqa: S311 - only jitter
            attempt += 1

    def attempt(self, request, *, last: bool):
        setattr(request, LAST, last)
        try:
            with transaction.atomic(), trail.sealed_at_end():
                response = self.get_response(request)
                failed = request.__dict__.pop(FAILED, None)
                if failed is not None:
                    raise RolledBack(failed)
        except RolledBack as rolled_back:  # an error page, or the placeholder for a retry
            if retryable(rolled_back.error) and not last:
                raise Retry() from rolled_back.error
            return response
        except DatabaseError as error:  # sealing, or committing
            if retryable(error) and not last:
                raise Retry() from error
            raise
        return response

    def process_exception(self, request, exception):
        """The view raised. A deadlock is tried again at once, without an error page (or a
        logged error) first, unless this was the last attempt."""
        if retryable(exception) and not getattr(request, LAST, True):
            setattr(request, FAILED, exception)
            return HttpResponse(status=503)
        return None


def _rewind_uploads(request) -> None:
    """The uploaded files the failed attempt read, back at their first byte for the next."""
    files = request.__dict__.get("_files")
    if files is None:  # not parsed yet: parsing now would fix the upload handlers too early
        return
    for _name, uploads in files.lists():
        for upload in uploads:
            upload.seek(0)


class RolledBack(Exception):
    def __init__(self, error):
        super().__init__(str(error))
        self.error = error
