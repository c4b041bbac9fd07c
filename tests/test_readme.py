"""The README and its docs/ pages stay true to the code and to each other: the configuration page
names every variable the projects read, and every link leads somewhere."""

import re
from pathlib import Path

from harness.processes import REPO_DIR

# os.environ.get("NAME" or django-environ's env.str("NAME" in Python, ${NAME in the start scripts.
READS = re.compile(r'(?:os\.environ\.get|env\.[a-z_]+)\(\s*"([A-Z][A-Z0-9_]+)"|\$\{([A-Z][A-Z0-9_]+)')
# [text](target) and <img src="target">, for targets in the repository.
LINK = re.compile(r'\]\((?!https?:)([^)\s]+)\)|src="(?!https?:)([^"]+)"')
MAX_README_CHARACTERS = 24_000


def variables_read_by_the_code() -> set[str]:
    sources = [
        path
        for project in ("web_app", "rabbitmq_celery")
        for path in (REPO_DIR / project).rglob("*")
        if path.is_file()
        and "tests" not in path.relative_to(REPO_DIR).parts
        and (path.suffix == ".py" or path.parent.name == "bin")
    ]
    return {name for path in sources for match in READS.finditer(path.read_text()) for name in match.groups() if name}


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a Markdown page's headings."""
    headings = re.findall(r"(?m)^#+ (.+)$", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def pages() -> list[Path]:
    return [REPO_DIR / "README.md", *sorted((REPO_DIR / "docs").glob("*.md"))]


def test_the_configuration_page_lists_every_variable_the_code_reads():
    read = variables_read_by_the_code()
    table = (REPO_DIR / "docs" / "configuration.md").read_text(encoding="utf-8")

    assert {"DJANGO_SECRET_KEY", "GUNICORN_TIMEOUT", "FLOWER_PORT"} <= read, "the scan finds what it should"
    assert sorted(name for name in read if f"`{name}`" not in table) == []


def test_the_readme_is_a_guide_of_readable_length_that_links_its_pages():
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")

    assert len(readme) <= MAX_README_CHARACTERS
    linked = {target.split("#")[0] for target, _ in LINK.findall(readme) if target.startswith("docs/")}
    assert len(linked) >= 3 and all((REPO_DIR / target).is_file() for target in linked)


def test_every_link_of_the_readme_and_its_pages_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in pages():
        for link, image in LINK.findall(page.read_text(encoding="utf-8")):
            target, _, anchor = (link or image).partition("#")
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.name}: {link or image}")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{page.name}: {link}")
    assert broken == []
