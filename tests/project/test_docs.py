"""The documentation names only what exists.

README.md and docs/*.md are scanned for:

- repository paths (`surveys/answering/links.py`, `patients/messaging/`, `templates/patient/`...):
  each must exist;
- relative Markdown links (`[exports](exports.md#formats)`): the file must exist and the anchor be
  one of its headings;
- "`name` in `path.py`" (also "`a` / `b` in `path.py`" and "`a`, `b` in `path.py`") and, inside
  code blocks, lines such as "fhir.definition_from_draft: ...   surveys/questionnaires/fhir.py":
  the function, class or constant must be defined in that file (`Class.method` inside its class);
- every environment variable the settings read is in docs/configuration.md;
- dotted module references (`surveys.tasks.assignments_refresh_status`,
  `patients.messaging.sms.file.FileBackend`): the module must exist and the name be defined in it.

What does not match these forms is not checked: the test is strict on what it parses.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tests.paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Top-level folders and files a path in the docs may start with (var/ holds runtime files only).
TOP_DIRS = ("surveys", "patients", "config", "templates", "static", "locale", "tests", "bench", "docs", ".ci")
TOP_FILES = (
    "Makefile",
    "manage.py",
    "package.json",
    "requirements.in",
    "requirements-dev.in",
    "requirements.lock",
    "requirements-dev.lock",
    "README.md",
    "pyproject.toml",
)

PATH_RE = re.compile(r"(?<![\w/.\-~])((?:" + "|".join(re.escape(d) for d in TOP_DIRS) + r")/[\w./\-]*)")
TOP_FILE_RE = re.compile(r"`(" + "|".join(re.escape(f) for f in TOP_FILES) + r")`")
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
NAME = r"`([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(?:\(\))?`"
IN_PATH_RE = re.compile(r"((?:" + NAME + r"(?:\s*(?:/|,|and|or)\s*))*" + NAME + r") in `([\w/.\-]+\.py)`")
DOTTED_RE = re.compile(r"`((?:surveys|patients|config)(?:\.[A-Za-z_]\w*)+)`")
FLOW_LINE_RE = re.compile(r"^[\s│├└─┬┼▼]*([A-Za-z_][\w.]*)\s*[(:].*?\s{2,}([\w/.\-]+\.py)\s*$")
FENCE_RE = re.compile(r"^\s*```")


def doc_lines(path: Path):
    """(line number, text, inside a code block) for each line."""
    inside = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE_RE.match(line):
            inside = not inside
            continue
        yield number, line, inside


def where(doc: Path, number: int) -> str:
    return f"{doc.relative_to(ROOT)}:{number}"


@cache
def definitions(path: Path) -> dict[str, set[str]]:
    """Top-level names defined in a module (def, class, assignment), each with the names its class defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            members = set()
            for child in node.body:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    members.add(child.name)
                elif isinstance(child, ast.Assign):
                    members.update(t.id for t in child.targets if isinstance(t, ast.Name))
                elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                    members.add(child.target.id)
            names[node.name] = members
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = set()
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = set()
    return names


@cache
def imported(path: Path) -> set[str]:
    """Names a module imports at top level (a package's __init__ re-exports this way)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


@cache
def string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def defined_in(path: Path, dotted: str) -> bool:
    if dotted.count(".") and dotted in string_constants(path):
        return True  # a permission or a label defined as a string there: `surveys.export_study`
    first, *rest = dotted.split(".")
    names = definitions(path)
    if first not in names:
        return False
    return not rest or (len(rest) == 1 and rest[0] in names[first])


def module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def heading_anchors(path: Path) -> set[str]:
    anchors = set()
    for _number, line, inside in doc_lines(path):
        if not inside and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            anchors.add(title.replace(" ", "-"))
    return anchors


def path_problems(doc: Path) -> list[str]:
    problems = []
    for number, line, _inside in doc_lines(doc):
        found = [m.group(1) for m in PATH_RE.finditer(line)] + [m.group(1) for m in TOP_FILE_RE.finditer(line)]
        for raw in found:
            candidate = raw.rstrip(".,:;")
            if not (ROOT / candidate).exists():
                problems.append(f"{where(doc, number)}: {candidate} does not exist")
    return problems


def link_problems(doc: Path) -> list[str]:
    problems = []
    for number, line, inside in doc_lines(doc):
        if inside:
            continue
        for target in LINK_RE.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = (doc.parent / file_part).resolve() if file_part else doc
            if not linked.exists():
                problems.append(f"{where(doc, number)}: link to {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
                problems.append(f"{where(doc, number)}: link to {target}: no such heading")
    return problems


def name_problems(doc: Path) -> list[str]:
    problems = []
    for number, line, inside in doc_lines(doc):
        pairs = []
        for match in IN_PATH_RE.finditer(line):
            names = re.findall(NAME, match.group(1))
            pairs += [(name, match.group(match.lastindex)) for name in names]
        if inside:
            flow = FLOW_LINE_RE.match(line)
            if flow:
                pairs.append((flow.group(1).split(".")[-1], flow.group(2)))
        for name, relative in pairs:
            source = ROOT / relative
            if not source.is_file():
                problems.append(f"{where(doc, number)}: {relative} does not exist (named for {name})")
            elif not defined_in(source, name):
                problems.append(f"{where(doc, number)}: {name} is not defined in {relative}")
        for dotted in DOTTED_RE.findall(line):
            parts = dotted.split(".")
            # The longest prefix that is a module; what follows must be defined (or imported) in it.
            for cut in range(len(parts), 1, -1):
                source = module_file(parts[:cut])
                if source is not None:
                    rest = parts[cut:]
                    if rest and not (
                        defined_in(source, ".".join(rest[:2])) or (len(rest) == 1 and rest[0] in imported(source))
                    ):
                        problems.append(
                            f"{where(doc, number)}: {'.'.join(rest)} is not defined in "
                            f"{source.relative_to(ROOT)} (from {dotted})"
                        )
                    break
            else:
                if module_file(parts[:1]) is None:
                    problems.append(f"{where(doc, number)}: no module {parts[0]} (from {dotted})")
                # `surveys.ExportJob`, `surveys.export_study`: an app label and a model or permission.
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_exist(doc):
    assert path_problems(doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(doc):
    assert link_problems(doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_code_is_defined_where_the_docs_say(doc):
    assert name_problems(doc) == []


def test_the_checks_catch_what_they_claim(tmp_path):
    """A wrong path, a name in the wrong file and a wrong dotted reference are each reported."""
    docs = ROOT / "docs"
    fake = docs / "_test_docs_probe.md"
    fake.write_text(
        "See `surveys/answering/nowhere.py` and surveys/answering/links.py.\n"
        "`questionnaire_publish` in `surveys/answering/submit.py`, `assignment_link_token` in "
        "`surveys/answering/links.py`.\n"
        "`surveys.tasks.no_such_task`, [missing](missing.md), [anchor](architecture.md#no-such-heading)\n"
        "```\nquestionnaire_publish(q, by)        surveys/answering/links.py\n```\n",
        encoding="utf-8",
    )
    try:
        problems = path_problems(fake) + link_problems(fake) + name_problems(fake)
    finally:
        fake.unlink()
    text = "\n".join(problems)
    assert "surveys/answering/nowhere.py does not exist" in text
    assert "questionnaire_publish is not defined in surveys/answering/submit.py" in text
    assert "assignment_link_token is not defined" not in text
    assert "no_such_task is not defined in surveys/tasks.py" in text
    assert "missing.md: no such file" in text
    assert "no such heading" in text
    assert "questionnaire_publish is not defined in surveys/answering/links.py" in text
    assert len(problems) == 6, problems


ENV_READ_RE = re.compile(r"""(?:\benv(?:\.\w+)?|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']""")


def test_every_environment_variable_of_the_settings_is_documented():
    configuration = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    sources = [*sorted((ROOT / "config" / "settings").glob("*.py")), ROOT / "config" / "gunicorn.conf.py"]
    read = {name for source in sources for name in ENV_READ_RE.findall(source.read_text(encoding="utf-8"))}
    assert read, "no environment variable found: the pattern no longer matches the settings"
    assert sorted(name for name in read if f"`{name}`" not in configuration) == []
