"""The service report's pages, under /reports/ (namespace "reports").
Each URL's permission rule is in web/permissions.py."""

pages = []
