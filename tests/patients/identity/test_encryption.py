"""Contact data is encrypted at rest, with a key list that can be rotated."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from patients.identity import crypto
from patients.identity.key_rotation import encrypted_fields_rotate
from patients.models import Patient
from tests import factories

NAME, EMAIL, PHONE = "Jeanne Dupont-Lefèvre", "jeanne.dupont@example.org", "+33612345678"
ENCRYPTED = ("name", "email", "phone")


def new_key() -> str:
    return Fernet.generate_key().decode()


def make_patient(**kw) -> Patient:
    fields = {"name": NAME, "email": EMAIL, "phone": PHONE} | kw
    return factories.patient(**fields)


def raw_row(table: str, pk_column: str, pk: int) -> dict[str, str]:
    # Straight SQL, below the ORM: what a database dump or a stolen backup would show.
    columns = ", ".join(connection.ops.quote_name(c) for c in ENCRYPTED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {connection.ops.quote_name(table)} "
            f"WHERE {connection.ops.quote_name(pk_column)} = %s",
            [pk],
        )
        return dict(zip(ENCRYPTED, cursor.fetchone(), strict=True))


def raw_patient(patient: Patient) -> dict[str, str]:
    return raw_row(Patient._meta.db_table, "id", patient.pk)


def raw_history(patient: Patient) -> list[dict[str, str]]:
    History = Patient.history.model
    ids = History.objects.filter(id=patient.pk).order_by("history_id").values_list("history_id", flat=True)
    return [raw_row(History._meta.db_table, "history_id", hid) for hid in ids]


@pytest.fixture
def key_a(settings) -> str:
    key = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


def test_database_row_holds_ciphertext_not_contact_data(db, key_a):
    patient = make_patient()

    stored = raw_patient(patient)
    for field, plain in zip(ENCRYPTED, (NAME, EMAIL, PHONE), strict=True):
        assert plain not in stored[field]
        assert "33612345678" not in stored[field] and "dupont" not in stored[field].lower()
        assert crypto.decrypt(stored[field]) == plain
    # The history row written by simple_history is encrypted just the same.
    (history,) = raw_history(patient)
    assert NAME not in history["name"] and crypto.decrypt(history["name"]) == NAME


def test_empty_optional_field_stays_empty(db, key_a):
    patient = make_patient(email="")
    assert raw_patient(patient)["email"] == ""
    assert Patient.objects.get(pk=patient.pk).email == ""


def test_rotate_keys_reencrypts_rows_and_history_with_the_new_key(db, settings, key_a):
    patients = [make_patient(), make_patient(name="Paul Martin", email="", phone="+33700000000")]
    patients[0].phone = "+33699999999"
    patients[0].save()  # a second history row, holding the old ciphertext of the new phone
    History = Patient.history.model
    history_count = History.objects.count()
    assert history_count == 3
    before = {p.pk: (raw_patient(p), raw_history(p)) for p in patients}
    created = {p.pk: Patient.objects.get(pk=p.pk).created_at for p in patients}

    key_b = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    dry = StringIO()
    call_command("rotate_keys", "--dry-run", stdout=dry)
    assert "patients.Patient: would re-encrypt 2 row(s)" in dry.getvalue()
    assert "patients.HistoricalPatient: would re-encrypt 3 row(s)" in dry.getvalue()
    assert all(raw_patient(p) == before[p.pk][0] for p in patients), "a dry run wrote to the database"

    out = StringIO()
    call_command("rotate_keys", "--batch-size", "2", stdout=out)  # batches smaller than the tables
    assert "patients.Patient: re-encrypted 2 row(s)" in out.getvalue()
    assert "patients.HistoricalPatient: re-encrypted 3 row(s)" in out.getvalue()

    # Only the new key left: everything, history included, must still decrypt.
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    assert History.objects.count() == history_count, "rotation must not write history rows"
    first = Patient.objects.get(pk=patients[0].pk)
    assert (first.name, first.email, first.phone) == (NAME, EMAIL, "+33699999999")
    assert [h.phone for h in first.history.order_by("history_id")] == [PHONE, "+33699999999"]
    second = Patient.objects.get(pk=patients[1].pk)
    assert (second.name, second.email, second.phone) == ("Paul Martin", "", "+33700000000")
    assert second.history.get().name == "Paul Martin"
    assert {p.pk: Patient.objects.get(pk=p.pk).created_at for p in patients} == created
    for p in patients:
        old_row, old_history = before[p.pk]
        new_row, new_history = raw_patient(p), raw_history(p)
        for field in ENCRYPTED:
            if old_row[field]:
                assert new_row[field] != old_row[field]
            else:
                assert new_row[field] == ""
        for old, new in zip(old_history, new_history, strict=True):
            assert old["name"] != new["name"]

    # And the old key alone no longer reads them: the data really moved to key B.
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Patient.objects.get(pk=patients[0].pk)


def test_rotate_keys_twice_changes_nothing_the_second_time(db, settings, key_a):
    patient = make_patient()
    settings.FIELD_ENCRYPTION_KEYS = [new_key(), key_a]
    assert encrypted_fields_rotate() == {
        "patients.ConsentRecord": 0,
        "patients.HistoricalPatient": 1,
        "patients.Patient": 1,
    }
    after_first = raw_patient(patient)

    assert encrypted_fields_rotate() == {
        "patients.ConsentRecord": 0,
        "patients.HistoricalPatient": 0,
        "patients.Patient": 0,
    }
    assert raw_patient(patient) == after_first


def test_rotate_keys_names_the_row_it_cannot_decrypt(db, settings, key_a):
    patient = make_patient()
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]  # key A dropped before rotating

    with pytest.raises(CommandError, match=r"patients\.\w*Patient\.name of row \d+ cannot be decrypted") as info:
        call_command("rotate_keys", stdout=StringIO())
    assert NAME not in str(info.value) and raw_patient(patient)["name"] not in str(info.value)


@pytest.mark.parametrize(
    "keys",
    [[], ["not-a-fernet-key"], [Fernet.generate_key().decode(), "too-short"], [None]],
    ids=["empty", "garbage", "second-key-bad", "none"],
)
def test_bad_key_list_is_a_clear_configuration_error(db, settings, keys):
    settings.FIELD_ENCRYPTION_KEYS = keys

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        factories.patient(name=NAME, phone=PHONE)
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEYS"):
        call_command("rotate_keys", stdout=StringIO())


def test_settings_override_replaces_the_cached_keys(db, settings, key_a):
    # crypto caches its MultiFernet; setting_changed must drop it, or tests
    # (and a reloaded key list) would go on encrypting with a stale key.
    token = crypto.encrypt("x")
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(ImproperlyConfigured):
        crypto.decrypt(token)


def test_contact_data_never_in_str(db, key_a):
    patient = make_patient()
    stored = raw_patient(patient)
    text = f"{patient} {Patient.objects.get(pk=patient.pk)!s} {patient!r}"
    for value in (NAME, EMAIL, PHONE, *stored.values()):
        assert value not in text


def test_contact_data_never_in_admin_changelist(db, admin_client, key_a):
    if not (Path(django_settings.BASE_DIR) / "patients" / "admin.py").exists() or Patient not in admin.site._registry:
        pytest.skip("patients/admin.py does not register Patient yet")
    patient = make_patient()
    stored = raw_patient(patient)

    response = admin_client.get(reverse("admin:patients_patient_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Patient #{patient.pk}" in html, "the patient must be listed, or the checks below prove nothing"
    for value in (NAME, EMAIL, PHONE, *stored.values()):
        assert value not in html
