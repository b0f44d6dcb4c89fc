""".sav and .dta written row by row (surveys/exports/spss.py, stata.py) read back with pyreadstat, and
compared with what pyreadstat itself writes for the same table (the previous way of writing them)."""

from __future__ import annotations

import datetime as dt
import io
import math
import os

import pytest

from surveys.exports import spss, stata
from surveys.exports.catalogue import questionnaire_catalogue
from surveys.exports.source import responses_stream
from surveys.exports.spec import ExportSpec
from surveys.exports.statfiles import NUMERIC, RowSpool, stat_names, statfile_write, value_labels
from surveys.exports.tables import Context, wide_columns, wide_values
from surveys.exports.writers import export_write
from surveys.models import Study
from tests.surveys.exports.test_exports_formats import build_study

pyreadstat = pytest.importorskip("pyreadstat")
pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

LONG_TEXT = "Très long récit, écrit d'un trait : " + "é" * 700  # > 255 bytes (SPSS) and < 2045 (Stata)
HUGE_TEXT = "Ç" * 1500 + "x"  # 3001 bytes: a Stata strL


def read(path: str, fmt: str):
    return (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(path)


def table():
    """A small table of every kind: numbers with value labels, text with accents, dates, missing."""
    variables = [
        ("a_rather_long_variable_name_for_spss", "number", "Humeur déclarée", {1: "Jamais", 2: "Souvent é"}),
        ("texte", "string", "Texte libre", {}),
        ("longtext", "string", "Récit", {}),
        ("visit", "date", "Date de visite", {}),
        ("due_at", "datetime", "Ouverture", {}),
        ("score", "number", "Score", {}),
    ]
    rows = [
        [2.0, "café crème", LONG_TEXT, dt.date(2026, 2, 20), dt.datetime(2026, 3, 2, 10, 0), 7.5],
        [None, "", "", None, None, None],
        [1.0, "naïve", "court", dt.date(1999, 12, 31), dt.datetime(1969, 7, 20, 20, 17, 40), -3.0],
    ]
    return variables, rows


def typed(kind: str, value):
    if kind == "number":
        return math.nan if value is None else float(value)
    if kind == "date":
        return math.nan if value is None else float(value.toordinal() - dt.date(1970, 1, 1).toordinal())
    if kind == "datetime":
        return math.nan if value is None else (value - dt.datetime(1970, 1, 1)).total_seconds()
    return (value or "").encode()


def write_ours(path: str, fmt: str, variables, rows, *, huge: bool = False) -> None:
    widths = {}
    for index, (name, kind, *_rest) in enumerate(variables):
        if kind == "string":
            widths[name] = max([1] + [len((row[index] or "").encode()) for row in rows])
    cls, writer = (spss.SavVariable, spss.SavWriter) if fmt == "sav" else (stata.DtaVariable, stata.DtaWriter)
    described = [
        cls(name=name, kind=kind, width=widths.get(name, 0), label=label, value_labels=labels)
        for name, kind, label, labels in variables
    ]
    with open(path, "wb") as out:
        w = writer(out, described, label="Étude pilote")
        for row in rows:
            w.write([typed(kind, value) for (_n, kind, *_r), value in zip(variables, row, strict=True)])
        w.close()


def write_pyreadstat(path: str, fmt: str, variables, rows) -> None:
    """The previous writer: a DataFrame handed to pyreadstat."""
    data = {}
    for index, (name, kind, _label, _labels) in enumerate(variables):
        values = [row[index] for row in rows]
        if kind == "number":
            data[name] = np.array([math.nan if v is None else v for v in values], dtype="float64")
        elif kind == "datetime":
            data[name] = pd.to_datetime(pd.Series(values, dtype="object"))
        elif kind == "date":
            data[name] = pd.Series(values, dtype="object")
        else:
            data[name] = pd.Series([v or "" for v in values], dtype="object")
    frame = pd.DataFrame(data)
    labels = {name: label for name, _kind, label, _l in variables}
    value_sets = {name: found for name, _kind, _label, found in variables if found}
    writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
    writer(frame, path, file_label="Étude pilote", column_labels=labels, variable_value_labels=value_sets)


def same_frames(ours, theirs) -> None:
    assert list(ours.columns) == list(theirs.columns)
    for name in ours.columns:
        a, b = list(ours[name]), list(theirs[name])
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and math.isnan(x):
                assert isinstance(y, float) and math.isnan(y), (name, x, y)
            elif x is pd.NaT or y is pd.NaT or (x is None or y is None):
                assert pd.isna(x) and pd.isna(y), (name, x, y)
            else:
                assert x == y, (name, x, y)


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_read_back_the_same_as_the_pyreadstat_writer(tmp_path, fmt):
    variables, rows = table()
    if fmt == "dta":
        # Stata names are at most 32 characters: what stat_names gives.
        variables[0] = ("a_rather_long_name", *variables[0][1:])
    ours_path, theirs_path = str(tmp_path / f"ours.{fmt}"), str(tmp_path / f"theirs.{fmt}")
    write_ours(ours_path, fmt, variables, rows)
    write_pyreadstat(theirs_path, fmt, variables, rows)
    ours, meta = read(ours_path, fmt)
    theirs, their_meta = read(theirs_path, fmt)
    same_frames(ours, theirs)
    assert meta.column_names_to_labels == their_meta.column_names_to_labels
    assert meta.variable_value_labels == their_meta.variable_value_labels
    assert meta.file_label == their_meta.file_label == "Étude pilote"
    assert meta.number_rows == 3
    assert meta.original_variable_types["visit"] == their_meta.original_variable_types["visit"]
    assert meta.original_variable_types["due_at"] == their_meta.original_variable_types["due_at"]
    # Spelled out, not only "the same as before":
    name = variables[0][0]
    assert list(ours["texte"]) == ["café crème", "", "naïve"]
    assert ours["longtext"][0] == LONG_TEXT and ours["longtext"][1] == ""
    assert math.isnan(ours[name][1]) and math.isnan(ours["score"][1]) and list(ours["score"])[::2] == [7.5, -3.0]
    assert ours["visit"][0] == dt.date(2026, 2, 20) and pd.isna(ours["visit"][1])
    assert ours["due_at"][2] == dt.datetime(1969, 7, 20, 20, 17, 40) and pd.isna(ours["due_at"][1])
    assert meta.variable_value_labels[name] == {1: "Jamais", 2: "Souvent é"}
    assert meta.column_names_to_labels["longtext"] == "Récit"


def test_spss_long_names_and_very_long_strings_are_one_variable_each(tmp_path):
    variables = [(f"variable_au_nom_long_{n:03d}", "number", f"Question {n}", {}) for n in range(3)]
    variables.append(("recit_tres_long", "string", "", {}))
    rows = [[1.0, 2.0, 3.0, "é" * 2000], [None, None, None, "a"]]
    path = str(tmp_path / "f.sav")
    write_ours(path, "sav", variables, rows)
    frame, meta = read(path, "sav")
    assert list(frame.columns) == [v[0] for v in variables]  # long names, not the 8-byte short ones
    assert frame["recit_tres_long"][0] == "é" * 2000 and frame["recit_tres_long"][1] == "a"
    assert meta.variable_storage_width["recit_tres_long"] == 4000


def test_stata_text_past_2045_bytes_is_a_strl(tmp_path):
    variables = [("note", "string", "Note", {}), ("n", "number", "", {})]
    rows = [[HUGE_TEXT, 1.0], ["", 2.0], ["court", None]]
    path = str(tmp_path / "f.dta")
    write_ours(path, "dta", variables, rows)
    frame, _meta = read(path, "dta")
    assert list(frame["note"]) == [HUGE_TEXT, "", "court"]
    assert frame["n"][1] == 2.0 and math.isnan(frame["n"][2])


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_zero_rows_and_many_variables(tmp_path, fmt):
    variables = [
        (f"v{n:04d}", "number" if n % 3 else "string", f"Libellé {n}", {1: "oui"} if n % 3 else {}) for n in range(1500)
    ]
    path = str(tmp_path / f"empty.{fmt}")
    write_ours(path, fmt, variables, [])
    frame, meta = read(path, fmt)
    assert len(frame) == 0 and meta.number_rows in (0, None)
    assert list(frame.columns) == [v[0] for v in variables]
    assert meta.column_names_to_labels["v1499"] == "Libellé 1499"
    rows = [[(f"é{n}" if n % 3 == 0 else float(n)) for n in range(1500)] for _ in range(4)]
    write_ours(path, fmt, variables, rows)
    frame, meta = read(path, fmt)
    assert len(frame) == 4 and frame["v1499"][3] == 1499.0 and frame["v1497"][0] == "é1497"
    assert meta.variable_value_labels["v0001"] == {1: "oui"}


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_an_export_is_what_the_pyreadstat_writer_gave_for_the_same_table(make, tmp_path, fmt):
    """The whole export path (spool, names, labels, measure) against pyreadstat fed the same rows."""
    study, _q, _v, responses = build_study(make, participants=3)
    responses[1].answers = {**responses[1].answers, "why": "Très fatiguée, « vraiment »", "weight": None}
    responses[1].save()
    spec = ExportSpec(study_id=study.pk, format=fmt, labels=True, language="fr")
    out = io.BytesIO()
    export_write(spec=spec, out=out)
    ours_path = tmp_path / f"ours.{fmt}"
    ours_path.write_bytes(out.getvalue())

    ctx = Context(spec=spec, study=Study.objects.get(pk=study.pk))
    (cat,) = [questionnaire_catalogue(q, languages=ctx.languages) for q in [_q]]
    columns = wide_columns(cat, ctx)
    rows = [
        wide_values(row, cat, columns, ctx, numeric=True) for row in responses_stream(spec, questionnaires=[cat.code])
    ]
    names = stat_names([c.name for c in columns], fmt)
    data = {}
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        if column.value_type == "datetime":
            data[names[column.name]] = pd.to_datetime(pd.Series([v.replace(tzinfo=None) for v in values]))
        elif column.value_type in NUMERIC:
            data[names[column.name]] = np.array([math.nan if v is None else float(v) for v in values])
        elif column.value_type == "date":
            data[names[column.name]] = pd.Series(values, dtype="object")
        else:
            data[names[column.name]] = pd.Series(["" if v is None else str(v) for v in values], dtype="object")
    labels = {names[c.name]: ctx.label(c.labels)[: 80 if fmt == "dta" else 255] for c in columns}
    value_sets = {names[c.name]: found for c in columns if (found := value_labels(c, ctx, fmt))}
    theirs_path = str(tmp_path / f"theirs.{fmt}")
    (pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta)(
        pd.DataFrame(data), theirs_path, column_labels=labels, variable_value_labels=value_sets
    )

    ours, meta = read(str(ours_path), fmt)
    theirs, their_meta = read(theirs_path, fmt)
    same_frames(ours, theirs)
    assert meta.column_names_to_labels == their_meta.column_names_to_labels
    assert meta.variable_value_labels == their_meta.variable_value_labels
    assert list(ours["why"]) == ["tired, see note", "Très fatiguée, « vraiment »", "tired, see note"]
    assert math.isnan(ours["weight"][1]) and ours["weight"][0] == 71.5
    if fmt == "sav":
        assert meta.variable_measure["mood"] == "nominal" and meta.variable_measure["weight"] == "scale"


def test_the_spool_keeps_nothing_but_one_row_in_memory(tmp_path, make):
    """Rows go to disk as they come: the spool's file grows, its Python objects do not."""
    study, *_ = build_study(make, participants=1)
    spec = ExportSpec(study_id=study.pk, format="sav")
    ctx = Context(spec=spec, study=Study.objects.get(pk=study.pk))
    (cat,) = [
        questionnaire_catalogue(q, languages=ctx.languages) for q in study.questionnaires.all() if q.versions.exists()
    ]
    columns = wide_columns(cat, ctx)
    (row,) = list(responses_stream(spec, questionnaires=[cat.code]))
    values = wide_values(row, cat, columns, ctx, numeric=True)
    spool = RowSpool(columns, directory=str(tmp_path))
    for _ in range(2000):
        spool.append(values)
    assert len(os.listdir(tmp_path)) == 0  # an anonymous temporary file
    assert spool.rows == 2000 and sum(1 for _ in spool) == 2000
    path = str(tmp_path / "f.sav")
    statfile_write(path=path, fmt="sav", cat=cat, columns=columns, spool=spool, ctx=ctx)
    spool.close()
    frame, meta = read(path, "sav")
    assert meta.number_rows == 2000 and set(frame["pseudonym"]) == {"EXP-0000"}
