"""What an invitation or a reminder says, per language: SMS text, email subject, text and HTML.

Templates live in templates/messages/<language>/ (sms_invitation.txt, sms_reminder.txt,
email_invitation.{txt,html}, email_invitation_subject.txt, and the same for reminders):
one file per language rather than gettext, because an SMS must fit 160 GSM-7 characters
in each language and that is checked on the exact text (tests/patients/messaging/test_message_texts.py).

An SMS knows three things only: the sender name (settings.RESSENTI_SMS_SENDER_NAME, the
same for every study), the questionnaire link and the withdrawal link. No study title,
questionnaire title or condition: the phone may be shared, and a message preview on a
locked screen is readable by anyone. `sms_template_problems` refuses any other variable.
Emails say no more than that either (a mailbox can be shared too) but have room to explain.

Every message carries the withdrawal link (/s/<token>/withdraw): leaving the study is one
tap away from every message, not only from the questionnaire.

Rendering only: the dispatcher sends (SMS backend, EmailMultiAlternatives).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.template import Context, TemplateSyntaxError, engines
from django.template.base import Template, VariableNode
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import formats, translation
from django.utils.translation import gettext as _

from patients.messaging.sms.gsm import GSM7, SINGLE_GSM7, SegmentInfo, sms_segments

KINDS = ("invitation", "reminder")
# A link token is 22 characters (surveys.answering.links.assignment_link_token).
TOKEN_LENGTH = 22
# The only variables an SMS template may use (see the module docstring).
SMS_VARIABLES = frozenset({"sender", "link", "withdraw_link"})


@dataclass(frozen=True)
class MessageLinks:
    link: str
    withdraw: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def message_language(language: str | None) -> str:
    """The patient's language when we have message templates for it, else the site's."""
    known = {code for code, _name in settings.LANGUAGES}
    return language if language in known else settings.LANGUAGE_CODE


def message_links(*, token: str) -> MessageLinks:
    """Absolute questionnaire and withdrawal links of an assignment token."""
    link = settings.SITE_URL + reverse("surveys:respond", args=[token])
    return MessageLinks(link=link, withdraw=withdraw_url(link=link, token=token))


def withdraw_url(*, link: str, token: str | None = None) -> str:
    if token:
        try:
            return settings.SITE_URL + reverse("patients:withdraw", args=[token])
        except NoReverseMatch:
            pass
    # Same shape as the patients:withdraw route: /s/<token>/withdraw.
    return f"{link}/withdraw"


def _sender(sender_name: str | None) -> str:
    return sender_name if sender_name is not None else settings.RESSENTI_SMS_SENDER_NAME


def _text_template(name: str) -> Template:
    # The engine's own Template, to render without autoescaping: "Cabinet d'Alice" must stay
    # as typed in an SMS or a text email, not become "Cabinet d&#x27;Alice".
    return engines["django"].engine.get_template(name)


def _render_text(template: Template, context: dict) -> str:
    return template.render(Context(context, autoescape=False)).strip()


def shipped_sms_template(*, kind: str, language: str) -> str:
    """Source of the shipped SMS template: what an editor starts from."""
    template = _text_template(f"messages/{message_language(language)}/sms_{_kind(kind)}.txt")
    return template.source


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown message kind {kind!r} (expected one of {', '.join(KINDS)}).")
    return kind


def sms_render(
    *,
    kind: str,
    language: str,
    link: str,
    withdraw_link: str | None = None,
    sender_name: str | None = None,
    template: str | None = None,
) -> str:
    """The SMS text. `template` is an edited template's source; None uses the shipped file."""
    language = message_language(language)
    compiled = (
        Template(template) if template is not None else _text_template(f"messages/{language}/sms_{_kind(kind)}.txt")
    )
    context = {"sender": _sender(sender_name), "link": link, "withdraw_link": withdraw_link or f"{link}/withdraw"}
    with translation.override(language):
        return _render_text(compiled, context)


def _local_expiry(expires_at: dt.datetime | None, time_zone: str | None) -> dict[str, str]:
    if expires_at is None:
        return {"expires": False, "expires_date": "", "expires_time": ""}
    local = expires_at.astimezone(zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE))
    # In the patient's zone and language (called under translation.override): 3 février 2026, 18:00.
    return {
        "expires": True,
        "expires_date": formats.date_format(local, "DATE_FORMAT"),
        "expires_time": formats.time_format(local, "TIME_FORMAT"),
    }


def email_render(
    *,
    kind: str,
    language: str,
    link: str,
    withdraw_link: str | None = None,
    sender_name: str | None = None,
    expires_at: dt.datetime | None = None,
    time_zone: str | None = None,
) -> RenderedEmail:
    """Subject, text and HTML of an invitation or reminder email, in the patient's language."""
    language = message_language(language)
    kind = _kind(kind)
    with translation.override(language):
        context = {
            "sender": _sender(sender_name),
            "link": link,
            "withdraw_link": withdraw_link or f"{link}/withdraw",
            "language": language,
            **_local_expiry(expires_at, time_zone),
        }
        # A subject is one line: a newline in it would be a header injection for the mail library.
        subject = " ".join(
            _render_text(_text_template(f"messages/{language}/email_{kind}_subject.txt"), context).split()
        )
        text = _render_text(_text_template(f"messages/{language}/email_{kind}.txt"), context)
        html = render_to_string(f"messages/{language}/email_{kind}.html", {**context, "subject": subject})
    return RenderedEmail(subject=subject, text=text, html=html)


# --- the SMS template check (for whatever edits SMS templates) ---------------------------------


@dataclass(frozen=True)
class SmsTemplateCheck:
    rendered: str  # the template with the longest possible links
    segments: SegmentInfo | None  # None when the template does not compile
    problems: tuple[str, ...]  # the template cannot be used as it is
    warnings: tuple[str, ...]  # it can, but costs more than one SMS or leaves GSM-7

    @property
    def ok(self) -> bool:
        return not self.problems and not self.warnings


def worst_case_links(*, link_length: int | None = None) -> MessageLinks:
    """The longest links a patient can receive with this SITE_URL (or links of `link_length`)."""
    if link_length is None:
        token = "x" * TOKEN_LENGTH
        link = settings.SITE_URL + reverse("surveys:respond", args=[token])
        return MessageLinks(link=link, withdraw=withdraw_url(link=link, token=token))
    link = "x" * link_length
    return MessageLinks(link=link, withdraw=f"{link}/withdraw")


def _variables(template: Template) -> set[str]:
    names = set()
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        lookups = getattr(var, "lookups", None)
        if lookups:
            names.add(".".join(lookups))
    return names


def sms_template_check(
    text: str, *, link_length: int | None = None, sender_name: str | None = None
) -> SmsTemplateCheck:
    """Render an SMS template with the longest links and count it the way GSM-7 does."""
    try:
        template = Template(text)
    except TemplateSyntaxError as exc:
        return SmsTemplateCheck("", None, (_("The template does not compile: %(error)s") % {"error": exc},), ())
    problems = []
    unknown = sorted(_variables(template) - SMS_VARIABLES)
    if unknown:
        problems.append(
            _(
                "An SMS may only use {{ sender }}, {{ link }} and {{ withdraw_link }}, not %(names)s: "
                "a phone may be shared, so an SMS never names the study or the questionnaire."
            )
            % {"names": ", ".join(f"{{{{ {name} }}}}" for name in unknown)}
        )
    used = _variables(template)
    if "link" not in used:
        problems.append(_("The SMS must contain the questionnaire link {{ link }}."))
    if "withdraw_link" not in used:
        problems.append(_("The SMS must contain the withdrawal link {{ withdraw_link }}."))
    links = worst_case_links(link_length=link_length)
    rendered = _render_text(
        template, {"sender": _sender(sender_name), "link": links.link, "withdraw_link": links.withdraw}
    )
    info = sms_segments(rendered)
    warnings = []
    if info.encoding != GSM7:
        warnings.append(
            _(
                "%(chars)s cannot be sent in GSM-7: the whole SMS switches to Unicode, 70 characters per "
                "SMS instead of 160."
            )
            % {"chars": " ".join(info.unicode_chars)}
        )
    if info.segments > 1:
        warnings.append(
            _(
                "With the longest link this SMS is %(units)s characters: %(segments)s SMS instead of one "
                "(one holds %(single)s)."
            )
            % {"units": info.units, "segments": info.segments, "single": SINGLE_GSM7 if info.encoding == GSM7 else 70}
        )
    return SmsTemplateCheck(rendered, info, tuple(problems), tuple(warnings))


def sms_template_problems(text: str, *, link_length: int | None = None, sender_name: str | None = None) -> list[str]:
    """Everything to tell the person editing an SMS template; empty when it is fine."""
    check = sms_template_check(text, link_length=link_length, sender_name=sender_name)
    return [*check.problems, *check.warnings]
