"""The HTML of one question on a patient page (and in the reviewers' phone preview).

Written in Python rather than as a template included once per item: a page of 85 questions spent
most of its time in the template engine's per-node work. Every text is escaped here (`_e`), as
the template engine would; nothing else on the page is built this way.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from django.template.defaultfilters import linebreaksbr
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from surveys.models import Item

if TYPE_CHECKING:
    from surveys.answering.rendering import Field

T = Item.Type
CHOICE_KINDS = (T.SINGLE, T.MULTIPLE, T.YES_NO, T.NRS)


def _e(value) -> str:
    # What the template engine does (django.utils.html.escape is html.escape), without its per-call cost.
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def _attr(name: str, value) -> str:
    return f' {name}="{_e(value)}"' if value else ""


def _prefixed(f: Field, text: str) -> str:
    prefix = f'<span class="prefix">{_e(f.prefix)}</span> ' if f.prefix else ""
    return prefix + text


def _required(f: Field) -> str:
    return f' <span class="req">({_e(_("required"))})</span>\n' if f.required else "\n"


def _aria(f: Field) -> str:
    return (
        _attr("aria-describedby", f.describedby)
        + (' aria-invalid="true"' if f.error else "")
        + (' aria-required="true"' if f.required else "")
        + "\n"
    )


def _help(f: Field, dom_id: str) -> str:
    return f'<p class="help" id="{dom_id}-help">{_e(f.help)}</p>' if f.help else ""


def _error(f: Field, dom_id: str) -> str:
    if not f.error:
        return ""
    return f'<p class="err" id="{dom_id}-err"><span class="vh">{_e(_("Error:"))} </span>{_e(f.error)}</p>'


def _ends(f: Field) -> str:
    return f'<p class="ends" aria-hidden="true"><span>{_e(f.minimum)}</span><span>{_e(f.maximum)}</span></p>'


def _choices(f: Field, dom_id: str) -> str:
    radiogroup = ""
    if f.kind != T.MULTIPLE:
        radiogroup = ' role="radiogroup"' + (' aria-required="true"' if f.required else "")
    out = [
        f'\n<fieldset id="{dom_id}" tabindex="-1"{radiogroup}{_attr("aria-describedby", f.describedby)}>\n',
        f"<legend>{_prefixed(f, _e(f.text))}{_required(f)}</legend>\n",
        _help(f, dom_id) + "\n",
        _error(f, dom_id) + "\n",
    ]
    name = _e(f.link_id)
    selected = f.selected
    if f.kind == T.NRS:
        points = "".join(
            f'<label class="pt"><input type="radio" name="{name}" value="{n}"'
            f"{' checked' if str(n) in selected else ''}><span>{n}</span></label>"
            for n in f.scale_points
        )
        out.append(f'<div class="scale">{points}</div>\n{_ends(f)}\n')
    else:
        kind = "checkbox" if f.kind == T.MULTIPLE else "radio"
        out += [
            f'<label class="opt"><input type="{kind}" name="{name}" value="{_e(code)}"'
            f"{' checked' if code in selected else ''}><span>{_e(label)}</span></label>\n"
            for code, label in f.options
        ]
    out.append("\n</fieldset>\n")
    return "".join(out)


def _entry_format(f: Field, dom_id: str) -> str:
    texts: dict[str, str] = {
        T.DATE: _("For example 31/12/2025"),
        T.TIME: _("For example 14:30"),
        T.DATETIME: _("A date and a time, for example 31/12/2025 14:30"),
    }
    if f.kind in texts:
        text = texts[f.kind]
    elif f.entry_format:
        text = _("In the form %(format)s") % {"format": f.entry_format}
    else:
        return ""
    return f'<p class="help" id="{dom_id}-fmt">{_e(text)}</p>'


def _control(f: Field, dom_id: str) -> str:
    name, value = _e(f.link_id), _e(f.text_value)
    max_length = _attr("maxlength", f.max_length)
    pattern = _attr("pattern", f.pattern)
    if f.kind == T.LONG_TEXT:
        return f'<textarea id="{dom_id}" name="{name}" rows="5"{max_length}{_aria(f)}>{value}</textarea>\n'
    html_types: dict[str, str] = {T.DATE: "date", T.TIME: "time", T.DATETIME: "datetime-local"}
    html_type = html_types.get(f.kind)
    if html_type:
        return f'<input id="{dom_id}" name="{name}" type="{html_type}" value="{value}"{_aria(f)}>\n'
    if f.kind == T.SHORT_TEXT:
        return f'<input id="{dom_id}" name="{name}" type="text" value="{value}"{max_length}{pattern}{_aria(f)}>\n'
    inputmode = "decimal" if f.kind == T.DECIMAL else "numeric"
    out = (
        f'<input id="{dom_id}" name="{name}" type="text" inputmode="{inputmode}" value="{value}" class="num"'
        f"{pattern}{_aria(f)}>\n"
    )
    if f.kind == T.VAS:
        out += (
            f'<input type="range" class="vas" hidden min="{_e(f.minimum)}" max="{_e(f.maximum)}" step="1" '
            f'data-for="{dom_id}" aria-label="{_e(f.text)}">{_ends(f)}'
        )
    return out + "\n"


def _typed(f: Field, dom_id: str) -> str:
    range_help = ""
    if f.has_range:
        text = _("A number from %(low)s to %(high)s") % {"low": f.minimum, "high": f.maximum}
        range_help = f'<p class="help" id="{dom_id}-rng">{_e(text)}</p>'
    return (
        f'\n<label for="{dom_id}" class="ql">{_prefixed(f, _e(f.text))}{_required(f)}</label>\n'
        f"{_help(f, dom_id)}\n{_entry_format(f, dom_id)}\n{range_help}\n{_error(f, dom_id)}\n"
        f"{_control(f, dom_id)}\n"
    )


def field_html(f: Field) -> SafeString:
    dom_id = _e(f.dom_id)
    opening = (
        f'<div class="q{" has-err" if f.error else ""}" id="q-{dom_id}"{"" if f.shown else " hidden"}'
        f'{_attr("data-when", f.conditions)}{_attr("data-read", f.reading)} data-link="{_e(f.link_id)}">\n'
    )
    if f.calculated:
        body = f'<p class="display calc" id="{dom_id}">{_e(f.calculated)}</p>\n'
    elif f.kind == T.DISPLAY:
        body = f'<p class="display">{_prefixed(f, linebreaksbr(f.text, autoescape=True))}</p>\n'
    elif f.kind in CHOICE_KINDS or f.offers:
        body = _choices(f, dom_id)
    else:
        body = _typed(f, dom_id)
    return mark_safe(f"{opening}{body}\n</div>\n")  # noqa: S308 - every part above is escaped
