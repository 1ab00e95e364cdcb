"""The abstract bases every tenant's records share: the tenant block, the patient a record is
about, and the version a versioned save moves on.

This is a plain package, not a Django app: abstract models need no app (no table, no
migration), and nothing here imports a Tandem app, so every app may build on it
(`tandem.accounts` included). Targets are named by string ("accounts.Organisation").

The organisation is made explicit, not implicit. django-scopes (pretix's `ScopedManager`)
filters every query by a tenant set in a context variable and raises `ScopeError` for a query
run outside `with scope(...)`; that is a strong net, but here it would put every query in the
project — the worker's sweeps, the CLI, signals, migrations, the audit trail, the tests —
inside a scope or `scopes_disabled()` at once, and a filter that depends on hidden state is
hard to read at the call site. So tenant models keep a default manager that is a superset of
Django's (`Model.objects.filter(...)` works as before) and add one entry point that names the
organisation where the query is written: `Model.objects.of(organisation)`.
"""

from __future__ import annotations

import uuid

from django.db import models


class TenantQuerySet(models.QuerySet):
    """A queryset of rows that each belong to one organisation (their `organisation` field).

    Mix into a model's own queryset (`class RoleGrantQuerySet(TenantQuerySet)`) or use
    `TenantQuerySet.as_manager()`; everything a plain queryset does still works."""

    def of(self, organisation) -> TenantQuerySet:
        """The rows of this organisation only: an `Organisation` or its id. None is refused
        (never read as "the rows without one"), and so is a row of another model."""
        if isinstance(organisation, models.Model):
            target = self.model._meta.get_field("organisation").related_model
            if not isinstance(organisation, target):
                raise TypeError(f"{self.model.__name__}.objects.of() takes an organisation, "
                                f"not a {type(organisation).__name__}")
            organisation = organisation.pk
        if organisation is None:
            raise ValueError(f"{self.model.__name__}.objects.of() needs a saved organisation")
        return self.filter(organisation_id=organisation)


class TenantModel(models.Model):
    """A row of one organisation's data: a UUID key (safe to show in addresses and the API)
    and the organisation, which cannot be deleted while it has rows.

    Models whose organisation is held differently (deleted with it, one row per
    organisation, no reverse accessor) or whose key is not a UUID keep their own fields, and
    take `TenantQuerySet.as_manager()` for `.of()`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class PatientRecord(TenantModel):
    """A record about one patient, one of many the patient may have; the patient cannot be
    deleted while it has them. The reverse accessor is the plural of the model's name
    (`patient.episodes`, `.responses`, `.flags`, `.contacts`, `.goals`); a model whose
    accessor is spelt otherwise (`sort_sessions`, `care_plans`) declares `patient` again.

    Only the patient is shared: the episode is on some records and not others (flags,
    contacts and episodes themselves have none), and is declared by each model that has one."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT,
                                related_name="%(class)ss")

    class Meta:
        abstract = True


class Versioned(models.Model):
    """A record saved with optimistic locking: each save names the version it started from
    and moves the row on to the next, so of two saves started from one version only the first
    is written (`tandem.records.versioning`, the one versioned save). The database default
    serves bulk inserts that name no version."""

    version = models.PositiveIntegerField(default=1, db_default=1)

    class Meta:
        abstract = True
