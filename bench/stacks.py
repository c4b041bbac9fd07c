"""The seed and the reduced reference, started like the project's stacks (harness.processes.Stack)."""

import subprocess
import sys
from pathlib import Path

import requests

from harness.processes import VENV_BIN, Stack

SEED_DIR = Path(__file__).resolve().parent / "seed"
# The names of the seed's form inputs (its ModelForm's fields).
SEED_FIELDS = ("first_number", "second_number")


class SeedStack(Stack):
    """The seed's web app (bench/seed/seed_site) under gunicorn with 4 sync workers, and the real worker."""

    wsgi_module = "seed_site.wsgi"

    def start_web(self, env: dict | None = None):
        env = {**self.env, "SEED_OUT_DIR": str(self.root)}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=SEED_DIR,
            env=env,
            check=True,
            timeout=120,
        )
        command = [str(VENV_BIN / "gunicorn"), "--workers", "4", "--bind", f"127.0.0.1:{self.port}", self.wsgi_module]
        return self.wait_until_answering(self._start("web", command, SEED_DIR, env))


class ReducedStack(SeedStack):
    """The reference line "Django, reduced": the seed's loop in bench/seed/reduced_web.py."""

    wsgi_module = "reduced_web"


def redirected_to_the_form(page: requests.Response, expected: str) -> bool:
    """The seed's answer: the POST redirects to the form page, which does not show the result."""
    return page.status_code == 200 and bool(page.history) and page.url.rstrip("/") == page.history[0].url.rstrip("/")
