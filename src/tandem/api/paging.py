"""Paging for the API's lists: `limit` and `offset` with bounds in the OpenAPI document, so a
value no database integer can hold (`?offset=9223372036854775808`) is a 422 naming the
parameter, never an overflow in the database."""

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1  # far past any list's end; fits every database's integer
# A row id in a filter (e.g. a team) fits the databases' 64-bit integer columns.
MAX_ID = 2**63 - 1


class Paging(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(100, ge=1, le=MAX_LIMIT, description="How many items (at most 1000)")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="How many items to skip")
