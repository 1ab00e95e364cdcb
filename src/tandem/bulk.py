"""Writing many rows at once: one parameterised INSERT run with the driver's executemany.

For the bulk paths only (the demo loader, batches of check-ups from the API, the audit events
they write), where building a model instance per row would cost more than the write itself.
Rows are tuples in the order of `columns`; `adapter` turns Python values (UUIDs, datetimes,
dates, dicts for JSON fields) into what the database takes, as Django's own fields would.
"""

from __future__ import annotations

import datetime
import json
import uuid

from django.db import connection, models


def insert_sql(model, columns) -> str:
    fields = {f.attname for f in model._meta.concrete_fields}
    unknown = set(columns) - fields
    assert not unknown, f"{model.__name__} has no columns {sorted(unknown)}"
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {model._meta.db_table} ({names}) VALUES ({marks})"


def adapter(model, columns):
    """A function turning one row of Python values into database values."""
    ops = connection.ops
    sqlite = connection.vendor == "sqlite"
    convert = []
    for column in columns:
        field = next(f for f in model._meta.concrete_fields if f.attname == column)
        target = field.target_field if field.is_relation else field
        if isinstance(target, models.UUIDField):
            convert.append((lambda v: v.hex if isinstance(v, uuid.UUID) else v) if sqlite
                           else None)
        elif isinstance(target, models.DateTimeField):
            convert.append(lambda v: ops.adapt_datetimefield_value(v)
                           if isinstance(v, datetime.datetime) else v)
        elif isinstance(target, models.DateField):
            convert.append(lambda v: v.isoformat() if isinstance(v, datetime.date) else v)
        elif isinstance(target, models.TimeField):
            convert.append((lambda v: ops.adapt_timefield_value(v)
                            if isinstance(v, datetime.time) else v) if sqlite else None)
        elif isinstance(target, models.JSONField):
            convert.append(lambda v: json.dumps(v) if not isinstance(v, str) else v)
        else:
            convert.append(None)

    def adapt(row):
        return tuple(v if f is None or v is None else f(v) for f, v in zip(convert, row,
                                                                             strict=True))

    return adapt


def insert_many(model, columns, rows) -> int:
    """INSERT every row (tuples of Python values) in one executemany; returns the count."""
    adapt = adapter(model, columns)
    with connection.cursor() as cursor:
        cursor.executemany(insert_sql(model, columns), [adapt(row) for row in rows])
    return len(rows)


def update_many(model, columns, key, rows) -> int:
    """UPDATE `columns` of the row whose `key` column matches, for each row (values of
    `columns` then the key's value), in one executemany."""
    adapt = adapter(model, [*columns, key])
    sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    sql = (f"UPDATE {model._meta.db_table} SET {sets} "
           f"WHERE {connection.ops.quote_name(key)} = %s")
    with connection.cursor() as cursor:
        cursor.executemany(sql, [adapt(row) for row in rows])
    return len(rows)
