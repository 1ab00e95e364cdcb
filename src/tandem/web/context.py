from tandem.accounts.models import Role
from tandem.accounts.permissions import roles_of
from tandem.portal.home import on_medication


def navigation(request):
    """Links in the header, by role. Showing a link grants nothing: the rules decide."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    roles = roles_of(user)
    nav = []
    if roles & {Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD}:
        nav.append(("patients:list", "Who needs me today"))
        nav.append(("patients:medication-list", "On medication"))
    if roles & {Role.PRACTITIONER, Role.TEAM_LEAD}:
        nav.append(("patients:letters", "Letters to post"))
    if roles & {Role.SERVICE_MANAGER, Role.TEAM_LEAD, Role.PRACTITIONER}:
        nav.append(("reports:service", "Service report"))
    if Role.PATIENT in roles:
        # Short, for a phone; goals and priorities are one tap away on "My recovery".
        nav += [("portal:home", "My recovery"), ("portal:checkups", "Check-ups"),
                ("portal:plan", "My plan")]
        if on_medication(request):
            nav.append(("portal:medication", "My medication"))
    if Role.SERVICE_ADMIN in roles:
        nav += [("manage:users", "Users"), ("manage:teams", "Teams"),
                ("manage:checkups", "Check-ups"), ("manage:medication", "Medication"),
                ("manage:messages", "Messages")]
    if Role.AUDITOR in roles:
        nav.append(("audit:events", "Audit trail"))
    return {"nav": nav, "user_roles": roles, "checkup_admin_pages": CHECKUP_ADMIN_PAGES}


CHECKUP_ADMIN_PAGES = [
    ("manage:checkups", "Schedule"),
    ("manage:instruments", "Questionnaires"),
    ("manage:crisis-contacts", "Crisis contacts"),
    ("manage:life-domains", "Life-domain cards"),
    ("manage:urgent-answers", "Answers marked urgent"),
    ("manage:flag-rules", "Early-warning rules"),
]
