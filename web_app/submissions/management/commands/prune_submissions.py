from django.conf import settings
from django.core.management.base import BaseCommand

from submissions import services


class Command(BaseCommand):
    help = (
        "Remove done and failed submissions older than SUBMISSIONS_KEEP_DAYS, ended admin logins and old "
        "login records, now (the collector does it every SUBMISSIONS_PRUNE_INTERVAL seconds). Pending "
        "submissions and the results file are never touched."
    )

    def handle(self, *args, **options):
        logins = services.logins_prune()
        if settings.SUBMISSIONS_KEEP_DAYS <= 0:
            self.stdout.write(
                f"SUBMISSIONS_KEEP_DAYS is 0: every submission is kept; removed {logins} ended admin logins"
            )
            return
        report = services.submissions_prune()
        self.stdout.write(
            f"removed {report.submissions} submissions older than {settings.SUBMISSIONS_KEEP_DAYS} days "
            f"and {logins} ended admin logins"
        )
