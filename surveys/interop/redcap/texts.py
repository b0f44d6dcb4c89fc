"""Texts and numbers as a dictionary writes them: HTML removed, decimal commas, slider anchor labels."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser

_HTML = re.compile(r"<[A-Za-z/!][^>]*>")


class _TextOnly(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(value: str) -> tuple[str, bool]:
    """(text without HTML, whether there was any): our pages show text, never markup from a file."""
    if not _HTML.search(value):
        return value.strip(), False
    parser = _TextOnly()
    parser.feed(value)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(line for line in lines if line)
    return text, True


def as_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def parse_decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def slider_help(labels: str, low: int | float, high: int | float) -> str:
    """The slider's anchor labels as a line of help: REDCap shows them at the left, middle and right."""
    parts = [p.strip() for p in labels.split("|")]
    if len(parts) == 1:
        parts = [parts[0], "", ""]
    elif len(parts) == 2:
        parts = [parts[0], "", parts[1]]
    middle = (Decimal(str(low)) + Decimal(str(high))) / 2
    points = [low, as_number(middle), high]
    return " · ".join(f"{point} = {label}" for point, label in zip(points, parts[:3], strict=True) if label)
