"""The designer's pages without JavaScript: sections and items in one POST, conditions chosen or
checked, options only for choices, scores edited in forms, timepoint channels and reminders, and
roles that only read changing nothing through any of them."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from surveys.models import EnableCondition, Questionnaire, Timepoint
from surveys.questionnaires.publish import questionnaire_publish
from tests.surveys.admin.test_designer_rules import posted

ADD = reverse("admin:surveys_questionnaire_add")


def change_url(q) -> str:
    return reverse("admin:surveys_questionnaire_change", args=[q.pk])


@pytest.fixture
def designer(client, make):
    study = make.study(code="pages-study")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    user.study = study
    return user


def form_data(response) -> dict:
    """What the browser posts back from an admin page, unchanged (the scores editor as its own fields)."""
    data: dict = {}

    def put(form) -> None:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            elif value is not None:
                data[key] = str(value)

    form = response.context["adminform"].form
    put(form)
    if getattr(form, "rules_editor", None) is not None:
        data.pop("rules", None)
        data.update(posted(form.rules_editor))
    elif "rules" in data and not isinstance(form.fields["rules"], forms.JSONField):
        data.pop("rules")
    for inline in response.context["inline_admin_formsets"]:
        put(inline.formset.management_form)
        for row in inline.formset.forms:
            put(row)
    return data


def test_sections_and_items_are_added_in_one_post(client, designer):
    page = client.get(ADD)
    assert page.context["adminform"].form["study"].value() == designer.study.pk  # the one study, chosen
    data = form_data(page)
    data |= {"code": "one_pass", "title_fr": "Un passage", "title_en": "One pass"}
    data |= {"sections-0-title_fr": "Début", "sections-0-title_en": "Start", "sections-0-link_id": "start"}
    rows = [("single", "start"), ("long_text", ""), ("integer", "start")]
    for i, (kind, section) in enumerate(rows):
        data |= {f"items-{i}-type": kind, f"items-{i}-text_fr": f"Question {i}", f"items-{i}-section_code": section}
    response = client.post(ADD, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    q = Questionnaire.objects.get(code="one_pass")
    items = list(q.items.order_by("order").values_list("link_id", "order", "section__link_id"))
    # Orders follow the rows (10, 20, 30), codes are given by position, a blank section is the last one.
    assert items == [("q1", 10, "start"), ("q2", 20, "start"), ("q3", 30, "start")]
    assert list(q.sections.values_list("link_id", "order")) == [("start", 10)]

    # On the next page, new rows are offered the next orders.
    again = client.get(change_url(q))
    formset = next(f.formset for f in again.context["inline_admin_formsets"] if f.formset.prefix == "items")
    assert [form["order"].value() for form in formset.extra_forms] == [40]


def test_an_unknown_section_code_is_refused_by_name(client, designer):
    data = form_data(client.get(ADD)) | {"code": "bad_section", "title_fr": "x", "title_en": "x"}
    data |= {"items-0-type": "integer", "items-0-text_fr": "Q", "items-0-section_code": "ghost"}
    response = client.post(ADD, data)
    assert response.status_code == 200
    assert "There is no section ghost" in response.content.decode()
    assert not Questionnaire.objects.filter(code="bad_section").exists()


def test_a_row_chooses_its_condition_among_the_answers_of_other_items(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    page = client.get(change_url(q))
    formset = next(f.formset for f in page.context["inline_admin_formsets"] if f.formset.prefix == "items")
    index = {form.instance.link_id: i for i, form in enumerate(formset.forms) if form.instance.pk}
    choices = dict(formset.forms[index["pain"]].fields["show_when"].choices)
    assert choices["mood=a1"] == "mood — Parfois"
    assert not any(value.startswith("pain=") for value in choices)  # not itself
    # Only earlier items: the first item offers nothing to test.
    assert dict(formset.forms[index["mood"]].fields["show_when"].choices) == {"": "—"}
    assert formset.forms[index["why"]]["show_when"].value() == "mood=a2"

    data = form_data(page) | {f"items-{index['pain']}-show_when": "mood=a1"}
    assert client.post(change_url(q), data).status_code == 302
    condition = EnableCondition.objects.get(item__link_id="pain", item__questionnaire=q)
    assert (condition.question, condition.operator, condition.answer) == ("mood", "=", "a1")

    data = form_data(client.get(change_url(q))) | {f"items-{index['pain']}-show_when": ""}
    assert client.post(change_url(q), data).status_code == 302
    assert not EnableCondition.objects.filter(item__link_id="pain", item__questionnaire=q).exists()


CONDITION_CASES = [
    # (controlling item, operator, typed answer, expected message or None)
    ("mood", "=", "zz", "mood is a choice: its answers are a0 (Jamais), a1 (Parfois), a2 (Souvent), not zz."),
    ("mood", ">", "a1", "An option of mood is compared with = or ≠ only."),
    ("mood", "=", "a1", None),
    ("pain", ">", "beaucoup", "pain takes a number: answer with a number, e.g. 3."),
    ("pain", ">=", "7", None),
    ("pain", "exists", "peut-être", "With 'is answered', answer true (answered) or false (not answered)."),
]


@pytest.mark.parametrize(("question", "operator", "answer", "message"), CONDITION_CASES)
def test_a_typed_condition_is_checked_against_the_controlling_item(
    client, make, designer, question, operator, answer, message
):
    q = make.valid_questionnaire(study=designer.study)
    why = q.items.get(link_id="why")
    url = reverse("admin:surveys_item_change", args=[why.pk])
    data = form_data(client.get(url))
    data |= {"conditions-0-option": "", "conditions-0-question": question}
    data |= {"conditions-0-operator": operator, "conditions-0-answer": answer}
    response = client.post(url, data)
    if message is None:
        assert response.status_code == 302
        assert why.conditions.get().question == question
    else:
        assert response.status_code == 200
        assert message in [
            str(e) for e in response.context["inline_admin_formsets"][-1].formset.forms[0].errors["answer"]
        ]


def test_options_are_shown_only_for_choices(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    prefixes = {}
    for link_id in ("mood", "why", "pain"):
        page = client.get(reverse("admin:surveys_item_change", args=[q.items.get(link_id=link_id).pk]))
        prefixes[link_id] = [f.formset.prefix for f in page.context["inline_admin_formsets"]]
    assert prefixes == {"mood": ["options", "conditions"], "why": ["conditions"], "pain": ["conditions"]}


def test_scores_saved_from_the_form_are_the_rule_format(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    page = client.get(change_url(q))
    assert page.context["adminform"].form.rules_editor is not None
    data = form_data(page)
    data |= {"rules-scores-0-items": ["mood", "pain"], "rules-scores-0-missing": "prorate"}
    data |= {"rules-scores-0-min_answered": "1"}
    data |= {"rules-scores-0-bands-0-code": "low", "rules-scores-0-bands-0-min": "0", "rules-scores-0-bands-0-max": "5"}
    data |= {"rules-scores-0-bands-0-label_fr": "Bas", "rules-scores-0-bands-0-label_en": "Low"}
    data |= {"rules-alerts-0-label_fr": "Douleur", "rules-alerts-0-label_en": "Pain", "rules-alerts-0-value": "8.5"}
    data |= {"rules-alerts-0-target": "answer:pain", "rules-alerts-0-operator": ">"}
    response = client.post(change_url(q), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    q.refresh_from_db()
    assert q.rules == {
        "scores": [
            {
                "name": "total",
                "label": {"fr": "Score total", "en": "Total score"},
                "items": ["mood", "pain"],
                "method": "sum",
                "missing": "prorate",
                "min_answered": 1,
                "bands": [{"code": "low", "min": 0, "max": 5, "label": {"fr": "Bas", "en": "Low"}}],
            }
        ],
        "alerts": [
            {
                "code": "douleur",
                "label": {"fr": "Douleur", "en": "Pain"},
                "when": {"answer": "pain", "operator": ">", "value": 8.5},
            }
        ],
    }
    # Saved again unchanged, the rules are the same.
    assert client.post(change_url(q), form_data(client.get(change_url(q)))).status_code == 302
    before = q.rules
    q.refresh_from_db()
    assert q.rules == before


def test_a_problem_of_a_score_is_shown_by_its_field_and_rich_rules_keep_the_json_box(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    data = form_data(client.get(change_url(q))) | {"rules-scores-0-items": ["mood"], "rules-scores-0-round": "9"}
    response = client.post(change_url(q), data)
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 6." in response.content.decode()

    q.rules = {"scores": [{"name": "t", "items": ["pain"], "method": "sum", "transform": {"multiply": 4}}]}
    q.save()
    page = client.get(change_url(q))
    assert page.context["adminform"].form.rules_editor is None
    assert 'name="rules"' in page.content.decode()  # the JSON box
    assert client.get(change_url(q) + "?rules=json").context["adminform"].form.rules_editor is None
    data = form_data(page) | {"rules": '{"scores": [{"name": "t", "items": ["pain"], "method": "summ"}]}'}
    refused = client.post(change_url(q), data)
    assert refused.status_code == 200
    assert '"method" must be "sum" or "mean"' in refused.content.decode().replace("&quot;", '"')


def test_timepoint_channels_and_reminders_write_the_same_json(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    version = questionnaire_publish(questionnaire=q, by=None)
    timepoint = make.timepoint(version=version, reminders=[2, 5], channels=["email", "sms"])
    url = reverse("admin:surveys_timepoint_change", args=[timepoint.pk])
    page = client.get(url)
    data = form_data(page)
    assert data["reminders"] == "2, 5" and data["channels"] == ["email", "sms"]
    assert client.post(url, data).status_code == 302
    timepoint.refresh_from_db()
    assert (timepoint.reminders, timepoint.channels) == ([2, 5], ["email", "sms"])
    assert client.post(url, data | {"reminders": "1, 3", "channels": ["sms"]}).status_code == 302
    timepoint.refresh_from_db()
    assert (timepoint.reminders, timepoint.channels) == ([1, 3], ["sms"])
    refused = client.post(url, data | {"reminders": "deux", "channels": []})
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert "Give whole numbers separated by commas, e.g. 2, 5." in errors["reminders"]
    assert "Tick at least one channel." in errors["channels"]
    assert Timepoint.objects.get(pk=timepoint.pk).reminders == [1, 3]


@pytest.mark.parametrize("role", ["data_manager", "reviewer", "investigator"])
def test_roles_that_only_read_change_nothing_through_the_designer(client, make, role):
    q = make.valid_questionnaire()
    version = questionnaire_publish(questionnaire=q, by=None)
    timepoint = make.timepoint(version=version, reminders=[2])
    designer = make.user()
    make.member(user=designer, study=q.study, role="designer")
    client.force_login(designer)
    full = form_data(client.get(change_url(q))) | {"rules-scores-0-items": ["mood"]}
    tp_url = reverse("admin:surveys_timepoint_change", args=[timepoint.pk])
    tp_data = form_data(client.get(tp_url)) | {"reminders": "1, 3"}
    pain = q.items.get(link_id="pain")
    pain.text_fr = "Changé"
    pain.save()

    reader = make.user()
    make.member(user=reader, study=q.study, role=role)
    client.force_login(reader)
    publish = reverse("admin:surveys_questionnaire_publish", args=[q.pk])
    assert client.get(publish).status_code == 403
    assert client.post(publish, {"content_hash": "x"}).status_code == 403
    assert client.post(change_url(q), full).status_code == 403
    assert client.post(tp_url, tp_data).status_code == 403
    assert client.post(reverse("admin:surveys_questionnaire_add"), full).status_code == 403
    changelist = reverse("admin:surveys_questionnaire_changelist")
    client.post(changelist, {"action": "publish_selected", "_selected_action": [q.pk], "post": "yes"})
    q.refresh_from_db()
    timepoint.refresh_from_db()
    assert q.rules == {} and q.versions.count() == 1 and timepoint.reminders == [2]
    # Reading stays possible, the preview beside the form too.
    page = client.get(change_url(q))
    assert page.status_code == 200 and page.context["preview_frame_url"]


def test_items_move_up_and_down_with_the_rows_buttons_keeping_what_was_typed(client, designer):
    data = form_data(client.get(ADD))
    data |= {"code": "moving", "title_fr": "Bouger", "title_en": "Moving"}
    data |= {"sections-0-title_fr": "Début", "sections-0-title_en": "Start", "sections-0-link_id": "start"}
    for i in range(3):
        data |= {f"items-{i}-type": "short_text", f"items-{i}-text_fr": f"Question {i}", f"items-{i}-section_code": ""}
    assert client.post(ADD, data).status_code == 302
    q = Questionnaire.objects.get(code="moving")
    page = client.get(change_url(q))
    html = page.content.decode()
    third = q.items.get(link_id="q3")
    assert f'name="_move" value="{third.pk}:up" aria-label="Move q3 up"' in html
    data = form_data(page)
    # The row's button sends the page's form: a text typed on the way is kept, then the item moves.
    second = q.items.get(link_id="q2")
    index = next(i for i in range(3) if data.get(f"items-{i}-id") == str(second.pk))
    data[f"items-{index}-text_fr"] = "Question deux"
    moved = client.post(change_url(q), {**data, "_move": f"{third.pk}:up"})
    assert moved.status_code == 302 and moved["Location"] == change_url(q)
    assert list(q.items.order_by("order").values_list("link_id", flat=True)) == ["q1", "q3", "q2"]
    assert q.items.get(link_id="q2").text_fr == "Question deux"
    # At the top already: nothing moves, and the page says so.
    first = q.items.get(link_id="q1")
    again = client.post(change_url(q), {**form_data(client.get(change_url(q))), "_move": f"{first.pk}:up"}, follow=True)
    assert "already at that end" in again.content.decode()
    assert list(q.items.order_by("order").values_list("link_id", flat=True)) == ["q1", "q3", "q2"]


def test_moving_renumbers_rows_whose_orders_are_equal(make):
    from surveys.admin.design import item_move

    q = make.questionnaire()
    section = make.section(questionnaire=q, link_id="s")
    rows = [make.item(questionnaire=q, link_id=f"i{n}", section=section, order=0) for n in range(3)]
    assert item_move(rows[2], -1)
    assert list(q.items.order_by("order", "id").values_list("link_id", "order")) == [
        ("i0", 10),
        ("i2", 20),
        ("i1", 30),
    ]
    assert not item_move(rows[0], -1)
