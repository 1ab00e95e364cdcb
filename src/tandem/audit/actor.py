"""Who does something, in which role, and from where: what every service is given instead of
the HTTP request, so the web pages, the API, the worker, the command line and the demo call
the same services. The audit trail records it with each event (`trail.record_by`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

COMMAND_LINE = "command line"  # the role of what a `tandem` command does


@dataclass(frozen=True)
class Actor:
    user: object  # an accounts.User (the audit trail sits below accounts, so not named here)
    role: str = ""  # the role the permission layer decided this access through
    address: str | None = None  # the client's address (None: not over the network)
    path: str = ""  # the page or endpoint asked for, or the command run
    purpose: str = ""  # why, as the request said (X-Purpose-Of-Use)

    @property
    def organisation_id(self) -> int:
        return self.user.organisation_id

    @classmethod
    def of(cls, request) -> Actor:
        """The person making this request, as the permission layer let them in."""
        return cls(user=request.user, role=getattr(request, "access_role", ""),
                   address=client_address(request), path=request.get_full_path(),
                   purpose=purpose_of_use(request))


def client_address(request) -> str | None:
    """The client's address: the TCP peer, or, with TANDEM_BEHIND_PROXY, the address our own
    proxy appended last to X-Forwarded-For (earlier entries are client-supplied and untrusted).
    Sign-in throttling (AXES_CLIENT_IP_CALLABLE) uses this too."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR") or None


def purpose_of_use(request) -> str:
    """Why the request says it was made: its X-Purpose-Of-Use header or ?purpose=."""
    return request.headers.get("X-Purpose-Of-Use", "") or request.GET.get("purpose", "")
