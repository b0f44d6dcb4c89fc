"""The research domain knows no one: surveys never imports patients nor stores identity.

GDPR Art. 4(5): what re-identifies a person stays apart from the research data,
so an export, a researcher's screen or a bug in surveys has no identity to leak.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

SURVEYS = Path(settings.BASE_DIR) / "surveys"
FORBIDDEN = "patients"

# Field-name words that suggest a person's identity or contact details.
IDENTITY_WORDS = {
    "name", "firstname", "lastname", "surname", "fullname", "forename",
    "email", "mail", "phone", "telephone", "mobile", "sms",
    "birth", "birthdate", "birthday", "dob", "address", "street", "postcode", "zipcode",
    "ssn", "nir", "insee",
}
# (model label, field): why the name is not about a person.
ALLOWED = {
    ("surveys.Site", "name"): "the name of a practice or centre, not of a person",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(settings.BASE_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import statement, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: max(len(package.split(".")) - (node.level - 1), 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from . import x`: the imported names may be modules too.
            found += [(node.lineno, f"{target}.{a.name}" if target else a.name) for a in node.names]
    return found


def _is_forbidden(module: str) -> bool:
    return module == FORBIDDEN or module.startswith(FORBIDDEN + ".")


def test_surveys_never_imports_patients():
    files = sorted(SURVEYS.rglob("*.py"))
    assert len(files) > 5, f"expected the surveys package under {SURVEYS}"
    offences = [
        f"{path.relative_to(settings.BASE_DIR)}:{line} imports {module}"
        for path in files
        for line, module in _imported_modules(path)
        if _is_forbidden(module)
    ]
    assert not offences, "surveys must not import patients:\n" + "\n".join(offences)


def test_import_check_catches_every_form(tmp_path, settings):
    # The check above must not pass just because it misses an import form.
    settings.BASE_DIR = tmp_path
    pkg = tmp_path / "surveys" / "sub"
    pkg.mkdir(parents=True)
    source = (
        "import os\nimport patients\nimport patients.models as pm\nfrom patients import crypto\n"
        "from patients.models import Patient\nfrom ... import patients\ndef f():\n    from patients import x\n"
        "from .models import Assignment\nfrom .. import patients_like, scheduling\n"
    )
    (pkg / "mod.py").write_text(source)
    hits = [line for line, module in _imported_modules(pkg / "mod.py") if _is_forbidden(module)]
    assert sorted(set(hits)) == [2, 3, 4, 5, 6, 8]


def _words(field_name: str) -> set[str]:
    return {word for word in field_name.lower().split("_") if word}


def test_no_surveys_model_has_an_identity_field():
    models = apps.get_app_config("surveys").get_models()
    labels = {m._meta.label for m in models}
    assert "surveys.HistoricalParticipant" in labels, "history models must be checked too"
    offences = []
    for model in apps.get_app_config("surveys").get_models():
        for field in model._meta.get_fields():
            names = {field.name, getattr(field, "attname", field.name)}
            suspicious = any(_words(n) & IDENTITY_WORDS or any(w in n.lower() for w in ("email", "phone", "birth"))
                             for n in names)
            if suspicious and (model._meta.label, field.name) not in ALLOWED:
                offences.append(f"{model._meta.label}.{field.name}")
    assert not offences, "identity-like fields in the research domain (move them to patients): " + ", ".join(offences)


def test_no_surveys_model_points_to_patients():
    offences = [
        f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
        for model in apps.get_app_config("surveys").get_models()
        for field in model._meta.get_fields()
        if field.concrete and field.is_relation and field.related_model._meta.app_label == FORBIDDEN
    ]
    assert not offences, "surveys models must not reference patients: " + ", ".join(offences)
