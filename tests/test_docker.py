"""The images' scripts in docker/, run on the host: the secret key they share."""
import os
import stat
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
WITH_SECRET_KEY = REPO_DIR / "docker" / "with-secret-key"
PRINT_KEY = ["sh", "-c", 'printf %s "$DJANGO_SECRET_KEY"']


def script_env(key_file: Path, **extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SECRET_KEY"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DJANGO_SECRET_KEY_FILE"] = str(key_file)
    env.update(extra)
    return env


def test_containers_starting_together_agree_on_one_generated_key(tmp_path):
    key_file = tmp_path / "django-secret-key"
    starts = [
        subprocess.Popen([WITH_SECRET_KEY, *PRINT_KEY], env=script_env(key_file), stdout=subprocess.PIPE)
        for _ in range(8)
    ]
    keys = {start.communicate(timeout=60)[0].decode() for start in starts}

    assert all(start.returncode == 0 for start in starts)
    assert len(keys) == 1
    [key] = keys
    assert len(key) >= 50
    assert key_file.read_text() == key
    assert list(tmp_path.iterdir()) == [key_file], "no draft left behind"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_key_kept_from_an_earlier_start_is_used_again(tmp_path):
    key_file = tmp_path / "django-secret-key"
    key_file.write_text("kept-key")

    started = subprocess.run(
        [WITH_SECRET_KEY, *PRINT_KEY], env=script_env(key_file), capture_output=True, timeout=60, check=True
    )

    assert started.stdout.decode() == "kept-key"


def test_a_key_from_the_environment_wins_and_nothing_is_written(tmp_path):
    key_file = tmp_path / "django-secret-key"

    started = subprocess.run(
        [WITH_SECRET_KEY, *PRINT_KEY],
        env=script_env(key_file, DJANGO_SECRET_KEY="from-the-environment"),
        capture_output=True,
        timeout=60,
        check=True,
    )

    assert started.stdout.decode() == "from-the-environment"
    assert not key_file.exists()
