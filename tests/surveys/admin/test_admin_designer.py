"""The questionnaire designer in the admin: inlines, frozen codes, preview, publish, copy into draft."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.urls import reverse

from surveys.models import Item, QuestionnaireVersion
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import questionnaire_publish
from surveys.questionnaires.validation import definition_problems


@pytest.fixture
def designer(client, make):
    study = make.study(code="design-study")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    user.study = study
    return user


def url(name: str, *args) -> str:
    return reverse(f"admin:surveys_questionnaire_{name}", args=args)


def publish(client, q, **extra):
    """Publish as the confirmation page does: a POST carrying the content hash it showed."""
    return client.post(
        url("publish", q.pk), {"content_hash": fhir.content_hash(fhir.definition_from_draft(q))}, **extra
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_data(response) -> dict:
    """What the browser would post back from an admin change page, unchanged."""
    data: dict = {}

    def put(form) -> None:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif value is not None:
                data[key] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)

    put(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        put(formset.management_form)
        for form in formset.forms:
            put(form)
    return data


def test_publish_with_problems_shows_every_problem_and_creates_no_version(client, make, designer):
    q = make.questionnaire(study=designer.study)
    make.item(questionnaire=q, link_id="choice", type="single")  # a choice without options
    late = make.item(questionnaire=q, link_id="late", type="short_text")
    make.condition(item=late, question="ghost", answer="x")  # depends on an item that does not exist
    expected = definition_problems(fhir.definition_from_draft(q), languages=q.study.languages)
    assert len(expected) >= 2

    response = publish(client, q)

    assert response.status_code == 302
    shown = messages_of(response)
    for problem in expected:
        assert f"{problem.where}: {problem.message}" in shown
    assert not QuestionnaireVersion.objects.filter(questionnaire=q).exists()


def test_publish_success_creates_version_one(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)

    response = publish(client, q, follow=True)

    assert response.status_code == 200
    version = QuestionnaireVersion.objects.get(questionnaire=q)
    assert version.number == 1
    assert version.published_by == designer
    assert "Published version 1." in [str(m) for m in response.context["messages"]]
    # The change page lists the version with its copy button.
    assert url("copy_into_draft", q.pk, version.pk) in response.content.decode()


def test_publishing_again_unchanged_creates_no_new_version(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    publish(client, q)

    response = publish(client, q)

    assert q.versions.count() == 1
    assert "Nothing changed since version 1: no new version was published." in messages_of(response)


def test_publish_action_on_the_changelist(client, make, designer):
    ready = make.valid_questionnaire(study=designer.study)
    broken = make.questionnaire(study=designer.study)
    make.item(questionnaire=broken, link_id="choice", type="single")

    hashes = {f"content_hash_{q.pk}": fhir.content_hash(fhir.definition_from_draft(q)) for q in (ready, broken)}
    response = client.post(
        reverse("admin:surveys_questionnaire_changelist"),
        {"action": "publish_selected", "_selected_action": [ready.pk, broken.pk], "post": "yes", **hashes},
    )

    assert response.status_code == 302
    assert ready.versions.count() == 1
    assert broken.versions.count() == 0
    assert any(m.startswith(f"{broken} — ") for m in messages_of(response))


def test_publish_needs_post_and_the_change_permission(client, make):
    q = make.valid_questionnaire()
    reviewer = make.user()
    make.member(user=reviewer, study=q.study, role="reviewer")
    client.force_login(reviewer)

    assert client.get(url("publish", q.pk)).status_code == 403  # not even the confirmation page
    assert publish(client, q).status_code == 403
    version = questionnaire_publish(questionnaire=q, by=None)
    assert client.post(url("copy_into_draft", q.pk, version.pk)).status_code == 403
    assert client.get(url("preview", q.pk)).status_code == 200  # reading is enough to preview
    assert q.versions.count() == 1


def test_copy_into_draft_restores_rows(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    version = questionnaire_publish(questionnaire=q, by=designer)
    Item.objects.filter(questionnaire=q, link_id="pain").delete()
    Item.objects.filter(questionnaire=q, link_id="mood").update(text_fr="Texte modifié")

    confirm = client.get(url("copy_into_draft", q.pk, version.pk))
    assert confirm.status_code == 200
    assert 'method="post"' in confirm.content.decode()
    assert not q.items.filter(link_id="pain").exists()  # asking is not doing

    response = client.post(url("copy_into_draft", q.pk, version.pk))

    assert response.status_code == 302
    assert set(q.items.values_list("link_id", flat=True)) == {"mood", "why", "pain"}
    assert q.items.get(link_id="mood").text_fr == "Question mood"
    assert q.items.get(link_id="mood").options.count() == 3
    assert q.items.get(link_id="why").conditions.get().question == "mood"
    assert q.versions.count() == 1


def test_copy_into_draft_refuses_a_version_of_another_questionnaire(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    other = make.valid_questionnaire(study=designer.study)
    foreign_version = questionnaire_publish(questionnaire=other, by=None)
    assert client.post(url("copy_into_draft", q.pk, foreign_version.pk)).status_code == 404


def test_preview_page_and_its_frame_show_the_draft(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    Item.objects.filter(questionnaire=q, link_id="mood").update(
        text_fr="Comment vous sentez-vous", text_en="How do you feel"
    )

    page = client.get(url("preview", q.pk), {"lang": "en"})
    assert page.status_code == 200
    html = page.content.decode()
    frame_src = url("preview_frame", q.pk) + "?lang=en&amp;page=1"
    assert f'src="{frame_src}"' in html
    assert 'width="360"' in html and 'height="740"' in html
    assert "?lang=fr&amp;page=1" in html  # the language switch

    frame_fr = client.get(url("preview_frame", q.pk), {"lang": "fr", "page": 1})
    assert frame_fr.status_code == 200
    assert "Comment vous sentez-vous" in frame_fr.content.decode()
    frame_en = client.get(url("preview_frame", q.pk), {"lang": "en", "page": 1})
    assert frame_en.status_code == 200
    assert "How do you feel" in frame_en.content.decode()
    # Frames are denied site-wide; the preview frame alone may be framed, by our own pages.
    assert frame_en.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert not q.versions.exists()  # a preview publishes nothing


def test_change_page_offers_preview_and_publish(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    html = client.get(reverse("admin:surveys_questionnaire_change", args=[q.pk])).content.decode()
    assert url("preview", q.pk) in html
    assert f'action="{url("publish", q.pk)}"' in html


def test_link_id_is_read_only_for_existing_items(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    mood = q.items.get(link_id="mood")
    item_url = reverse("admin:surveys_item_change", args=[mood.pk])

    page = client.get(item_url)
    assert page.status_code == 200
    assert "link_id" not in page.context["adminform"].form.fields
    data = form_data(page)
    data["link_id"] = "renamed"
    assert client.post(item_url, data).status_code == 302
    mood.refresh_from_db()
    assert mood.link_id == "mood"

    # In the questionnaire's item inline the code is disabled on saved rows only.
    designer_page = client.get(reverse("admin:surveys_questionnaire_change", args=[q.pk]))
    items = next(f.formset for f in designer_page.context["inline_admin_formsets"] if f.formset.prefix == "items")
    assert all(form.fields["link_id"].disabled for form in items.initial_forms)
    assert not any(form.fields["link_id"].disabled for form in items.extra_forms)
    assert not items.empty_form.fields["link_id"].disabled
    data = form_data(designer_page)
    data["items-0-link_id"] = "renamed"
    assert client.post(reverse("admin:surveys_questionnaire_change", args=[q.pk]), data).status_code == 302
    assert set(q.items.values_list("link_id", flat=True)) == {"mood", "why", "pain"}


def test_option_code_is_read_only_for_existing_options(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    mood = q.items.get(link_id="mood")
    page = client.get(reverse("admin:surveys_item_change", args=[mood.pk]))
    options = next(f.formset for f in page.context["inline_admin_formsets"] if f.formset.prefix == "options")
    assert [form.fields["code"].disabled for form in options.initial_forms] == [True, True, True]
    assert not options.empty_form.fields["code"].disabled


def test_section_choices_are_the_sections_of_the_same_questionnaire(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    make.section(questionnaire=q, link_id="p2", order=2)
    other = make.valid_questionnaire(study=designer.study)
    make.section(questionnaire=other, link_id="elsewhere", order=2)

    # The items' section is named by code, among this questionnaire's sections (offered in a list).
    page = client.get(reverse("admin:surveys_questionnaire_change", args=[q.pk]))
    assert set(page.context["section_codes"]) == set(q.sections.values_list("link_id", flat=True))
    assert "elsewhere" not in page.context["section_codes"]

    item_page = client.get(reverse("admin:surveys_item_change", args=[q.items.first().pk]))
    assert set(item_page.context["adminform"].form.fields["section"].queryset) == set(q.sections.all())
    assert not set(other.sections.all()) & set(item_page.context["adminform"].form.fields["section"].queryset)


def test_item_page_edits_options_and_conditions(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    why = q.items.get(link_id="why")
    page = client.get(reverse("admin:surveys_questionnaire_change", args=[q.pk]))
    assert reverse("admin:surveys_item_change", args=[why.pk]) in page.content.decode()

    item_url = reverse("admin:surveys_item_change", args=[why.pk])
    data = form_data(client.get(item_url))
    data["conditions-0-answer"] = "a1"
    data["help_en"] = "Take your time"
    assert client.post(item_url, data).status_code == 302
    why.refresh_from_db()
    assert why.help_en == "Take your time"
    assert why.conditions.get().answer == "a1"


def test_timepoint_form_shows_repeats_anchors_and_triggers(client, make, designer):
    page = client.get(reverse("admin:surveys_timepoint_add"))
    html = page.content.decode()
    assert page.status_code == 200
    for field in ("repeat_every", "repeat_count", "anchor_item", "trigger_item", "trigger_operator", "reminders"):
        assert f'name="{field}"' in html, field
