from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application
from gunicorn.app.base import BaseApplication


class Command(BaseCommand):
    help = "Apply migrations, collect static files and serve Tandem with gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")

    def handle(self, *args, **opts):
        if not opts["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        serve(opts["host"], opts["port"], opts["workers"], self.stdout)


def serve(host: str, port: int, workers: int, out) -> None:
    application = get_wsgi_application()

    class Tandem(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 60)
            self.cfg.set("proc_name", "tandem")

        def load(self):
            return application

    scheme = "https (behind your TLS proxy)" if settings.HTTPS else "http"
    out.write(f"Tandem is serving on {host}:{port} ({scheme}); database: "
              f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}. Ctrl+C stops.")
    Tandem().run()
