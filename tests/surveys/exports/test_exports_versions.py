"""Several versions of one questionnaire in one export: columns keyed by item code, a version column,
the union of options, and nothing shifts when an option or an item is added or removed."""

from __future__ import annotations

import io

from surveys.exports.spec import ExportSpec
from surveys.exports.writers import export_write
from surveys.models import AnswerOption, Item
from surveys.questionnaires.publish import questionnaire_publish
from tests.surveys.exports.test_exports_formats import read_csv, read_stat


def export(spec: ExportSpec) -> bytes:
    out = io.BytesIO()
    export_write(spec=spec, out=out)
    return out.getvalue()


def two_versions(make):
    """v1: help (fam, gp, none), mood (a0..a2), smoker. v2: help loses "none" and gains "nurse",
    mood gains a3, smoker is removed, sleep is added after mood."""
    study = make.study(code="versions")
    q = make.questionnaire(study=study, code="follow")
    page = make.section(questionnaire=q, link_id="p1", order=1)
    make.item(questionnaire=q, link_id="mood", section=page, options=make.YES_NO_SOMETIMES)
    make.item(
        questionnaire=q,
        link_id="help",
        type="multiple",
        section=page,
        options=[
            ("fam", "Famille", "Family", None),
            ("gp", "Médecin", "Doctor", None),
            ("none", "Personne", "Nobody", None),
        ],
    )
    make.item(questionnaire=q, link_id="smoker", type="yes_no", section=page)
    v1 = questionnaire_publish(questionnaire=q, by=None)
    tp = make.timepoint(version=v1, code="w1")
    p1 = make.participant(study=study, pseudonym="V-0001")
    make.response(
        assignment=make.assignment(participant=p1, timepoint=tp),
        status="completed",
        version=v1,
        answers={"mood": "a1", "help": ["none"], "smoker": False},
    )
    before = export(ExportSpec(study_id=study.pk, format="wide_csv"))

    help_item = q.items.get(link_id="help")
    AnswerOption.objects.filter(item=help_item, code="none").delete()
    make.answer_option(item=help_item, order=9, code="nurse", label_fr="Infirmière", label_en="Nurse")
    make.answer_option(item=q.items.get(link_id="mood"), order=9, code="a3", label_fr="Toujours", label_en="Always")
    q.items.get(link_id="smoker").delete()
    Item.objects.filter(questionnaire=q, link_id="help").update(order=5)
    make.item(questionnaire=q, link_id="sleep", type="nrs", section=page, order=2, min_value=0, max_value=10)
    v2 = questionnaire_publish(questionnaire=q, by=None)
    assert v2.number == 2
    p2 = make.participant(study=study, pseudonym="V-0002")
    make.response(
        assignment=make.assignment(participant=p2, timepoint=tp),
        status="completed",
        version=v2,
        answers={"mood": "a3", "help": ["nurse", "gp"], "sleep": 6},
    )
    return study, before


def test_wide_columns_are_the_union_keyed_by_code_with_a_version_column(make):
    study, before = two_versions(make)
    rows = read_csv(export(ExportSpec(study_id=study.pk, format="wide_csv")))
    header = list(rows[0])
    assert {"help___fam", "help___gp", "help___none", "help___nurse", "smoker", "sleep"} <= set(header)
    v1, v2 = rows
    assert (v1["version"], v2["version"]) == ("1", "2")
    # An option absent from a version is empty in its rows, not 0; present and not chosen is 0.
    assert (v1["help___none"], v1["help___fam"], v1["help___nurse"]) == ("1", "0", "")
    assert (v2["help___none"], v2["help___fam"], v2["help___gp"], v2["help___nurse"]) == ("", "0", "1", "1")
    # An item absent from a version is empty, never 0.
    assert v1["sleep"] == "" and v2["smoker"] == "" and v1["smoker"] == "0" and v2["sleep"] == "6"
    assert v2["mood"] == "a3"


def test_no_column_shifts_when_a_version_adds_and_removes_options_and_items(make):
    study, before = two_versions(make)
    old = list(read_csv(before)[0])
    new = list(read_csv(export(ExportSpec(study_id=study.pk, format="wide_csv")))[0])
    # Every column of the first export is still there, in the same order relative to each other.
    assert [c for c in new if c in old] == old
    assert new.index("sleep") == new.index("mood") + 1  # a new item goes after the one it follows


def test_option_numbers_of_statistics_files_do_not_change_when_a_version_adds_options(make):
    study, _before = two_versions(make)
    frame, meta = read_stat(export(ExportSpec(study_id=study.pk, format="sav", labels=True, language="en")), "sav")
    assert meta.variable_value_labels["mood"] == {1: "Never", 2: "Sometimes", 3: "Often", 4: "Always"}
    assert list(frame["mood"]) == [2, 4]
    assert list(frame["version"]) == [1, 2]
    assert frame["help___nurse"].isna().tolist() == [True, False]


def test_long_format_keys_answers_by_item_code_with_the_version(make):
    study, _before = two_versions(make)
    rows = read_csv(export(ExportSpec(study_id=study.pk, format="long_csv")))
    got = {(r["pseudonym"], r["version"], r["item"]): r["value"] for r in rows}
    assert got[("V-0001", "1", "help")] == "none" and got[("V-0002", "2", "help")] == "gp;nurse"
    assert ("V-0002", "2", "smoker") not in got and got[("V-0001", "1", "smoker")] == "0"


def test_codebook_says_which_versions_each_variable_and_option_comes_from(make):
    study, _before = two_versions(make)
    rows = {r["variable"]: r for r in read_csv(export(ExportSpec(study_id=study.pk, format="codebook_csv")))}
    assert rows["smoker"]["versions"] == "1" and rows["sleep"]["versions"] == "2"
    assert rows["help___none"]["versions"] == "1" and rows["help___nurse"]["versions"] == "2"
    assert rows["help___gp"]["versions"] == "1, 2"
    assert "a3 [4] = Toujours / Always" in rows["mood"]["options"]
