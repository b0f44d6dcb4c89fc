"""A prefix for the codes of a multi-instrument REDCap file: two projects whose instrument names clash, one study."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from surveys.interop.imports import import_parse, questionnaire_import
from surveys.models import Questionnaire
from tests.paths import PUBLIC_FIXTURES
from tests.surveys.interop.test_import_admin import member
from tests.surveys.interop.test_redcap import public

FORMS = ["completion_data", "participant_info_survey", "participant_morale_questionnaire", "prescreening_survey"]


@pytest.fixture
def study(make):
    return make.study(code="two-projects", languages=["en"], fallback_language="en")


def test_a_second_project_with_the_same_instruments_needs_a_prefix_and_says_so(study):
    content = public("survey-dictionary.csv")
    first = import_parse(format_="redcap", content=content, study=study)
    questionnaire_import(study=study, result=first, format_="redcap", by=None)
    assert sorted(study.questionnaires.values_list("code", flat=True)) == [
        f for f in FORMS if f in {q.code for q in first.questionnaires}
    ]
    clashing = import_parse(format_="redcap", content=content, study=study)
    assert not clashing.ok
    (problem,) = clashing.problems
    for found in first.questionnaires:
        assert found.code in problem.message
    assert "prefix" in problem.message

    second = import_parse(format_="redcap", content=content, study=study, prefix="b_")
    assert second.ok, second.problems
    assert [q.code for q in second.questionnaires] == [f"b_{q.code}" for q in first.questionnaires]
    questionnaire_import(study=study, result=second, format_="redcap", by=None)
    assert study.questionnaires.count() == 2 * len(first.questionnaires)

    again = import_parse(format_="redcap", content=content, study=study, prefix="b_")
    assert not again.ok and "another prefix" in again.problems[0].message


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"code": "one"}, "give a prefix for their codes instead"),
        ({"code": "one", "prefix": "b_"}, "not both"),
        ({"prefix": "b c"}, "letters, digits"),
        ({"prefix": "p" * 30}, "40 at most"),
    ],
)
def test_refused_codes_and_prefixes_say_why(study, options, words):
    result = import_parse(format_="redcap", content=public("simple-dictionary.csv"), study=study, **options)
    assert not result.ok and any(words in p.message for p in result.problems), result.problems


def test_the_command_takes_a_prefix(study, capsys):
    path = PUBLIC_FIXTURES / "redcap" / "survey-dictionary.csv"
    public("survey-dictionary.csv")  # skips when the fixtures are absent
    call_command("import_questionnaire", study.code, str(path), "--format", "redcap")
    capsys.readouterr()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_questionnaire", study.code, str(path), "--format", "redcap")
    assert "prefix" in capsys.readouterr().err
    call_command("import_questionnaire", study.code, str(path), "--format", "redcap", "--prefix", "b_")
    assert "b_participant_morale_questionnaire" in capsys.readouterr().out
    assert Questionnaire.objects.filter(study=study, code__startswith="b_").exists()


def test_the_admin_form_takes_a_prefix(make, client, study):
    member(make, client, study, "designer")
    content = public("survey-dictionary.csv")
    url = reverse("admin:surveys_questionnaire_import")

    def check(prefix: str):
        upload = SimpleUploadedFile("dictionary.csv", content, content_type="text/csv")
        return client.post(
            url,
            {"action": "check", "study": study.pk, "format": "redcap", "file": upload, "code_prefix": prefix},
        )

    page = check("")
    assert page.status_code == 200, page.content.decode()[:2000]
    assert "Prefix of the codes" in page.content.decode()
    client.post(url, {"action": "import", "token": page.context["token"]})
    refused = check("")
    assert refused.status_code == 400 and "prefix" in refused.content.decode()
    preview = check("b_")
    assert preview.status_code == 200 and "b_participant_morale_questionnaire" in preview.content.decode()
    client.post(url, {"action": "import", "token": preview.context["token"]})
    assert Questionnaire.objects.filter(study=study, code="b_participant_morale_questionnaire").exists()
