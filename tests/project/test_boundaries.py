"""The research domain knows no one: surveys never imports patients nor stores identity.

GDPR Art. 4(5): what re-identifies a person stays apart from the research data,
so an export, a researcher's screen or a bug in surveys has no identity to leak.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps
from django.conf import settings

SURVEYS = Path(settings.BASE_DIR) / "surveys"
FORBIDDEN = "patients"

# Field-name words that suggest a person's identity or contact details.
IDENTITY_WORDS = {
    "name",
    "firstname",
    "lastname",
    "surname",
    "fullname",
    "forename",
    "email",
    "mail",
    "phone",
    "telephone",
    "mobile",
    "sms",
    "birth",
    "birthdate",
    "birthday",
    "dob",
    "address",
    "street",
    "postcode",
    "zipcode",
    "ssn",
    "nir",
    "insee",
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
            suspicious = any(
                _words(n) & IDENTITY_WORDS or any(w in n.lower() for w in ("email", "phone", "birth")) for n in names
            )
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


def _relations_into(app_label: str, target: str) -> list[str]:
    """Every relation a model of `app_label` can follow into `target`: forward keys and reverse accessors.

    get_fields() leaves out relations declared with related_name="+", which give no accessor.
    """
    return [
        f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
        for model in apps.get_app_config(app_label).get_models()
        for field in model._meta.get_fields()
        if field.is_relation and field.related_model is not None and field.related_model._meta.app_label == target
    ]


def test_no_research_model_has_a_path_into_identities():
    # Without this, `participant.enrollment.patient` would reach a person from research code or a template.
    offences = _relations_into("surveys", FORBIDDEN)
    assert not offences, "surveys models must not reach patients (use related_name='+'): " + ", ".join(offences)


def test_relation_check_sees_reverse_accessors():
    # The same check on the identity side finds its forward keys and the reverse accessors between its own models.
    found = _relations_into("patients", "patients")
    assert "patients.Patient.enrollments -> patients.Enrollment" in found  # a reverse accessor
    assert "patients.Message.enrollment -> patients.Enrollment" in found  # a forward key


# Strings in research code that name the identity side's models or tables: a model label for
# apps.get_model() or a lazy relation, a dotted path, or raw SQL on a `patients_` table. A permission
# name ("patients.add_enrollment") asks about the user, not about a person, and may be checked.
IDENTITY_STRING = re.compile(r"^patients\.(?!(?:add|change|delete|view)_[a-z]+$)[A-Za-z_]|\bpatients_[a-z]")


def _identity_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and IDENTITY_STRING.search(node.value)
    ]


def test_research_code_names_no_identity_model_or_table():
    offences = [
        f"{path.relative_to(settings.BASE_DIR)}:{line}: {value!r}"
        for path in sorted(SURVEYS.rglob("*.py"))
        if "migrations" not in path.parts
        for line, value in _identity_strings(path)
    ]
    assert not offences, "surveys must not name patients' models or tables:\n" + "\n".join(offences)


def test_identity_string_check_catches_every_form(tmp_path):
    source = (
        'from django.apps import apps\nPatient = apps.get_model("patients", "Patient")\n'
        'label = "patients.Patient"\nsql = "SELECT * FROM patients_patient"\nfk = "patients.enrollment"\n'
        'url = "patients:consent"\nok = "surveys.Participant"\nperm = "patients.add_enrollment"\n'
        'path = "patients.models.Patient"\n'
    )
    (tmp_path / "mod.py").write_text(source)
    assert [line for line, _ in _identity_strings(tmp_path / "mod.py")] == [3, 4, 5, 9]


def test_research_code_never_asks_the_app_registry_for_identity_models():
    # apps.get_model("patients", ...) with the label split in two: caught by its first argument.
    offences = []
    for path in sorted(SURVEYS.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"get_model", "get_app_config", "get_models"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == FORBIDDEN
            ):
                offences.append(f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}")
    assert not offences, "surveys must not look up patients' models: " + ", ".join(offences)
