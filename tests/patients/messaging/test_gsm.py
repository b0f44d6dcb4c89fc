"""GSM-7 / UCS-2 segment counting (patients/messaging/sms/gsm.py), on known examples."""

import pytest

from patients.messaging.sms.gsm import GSM7, UCS2, sms_segments


def test_160_plain_characters_fit_one_segment_and_161_need_two_of_153():
    one = sms_segments("a" * 160)
    assert (one.encoding, one.units, one.segments, one.per_segment) == (GSM7, 160, 1, 160)
    two = sms_segments("a" * 161)
    assert (two.encoding, two.units, two.segments, two.per_segment) == (GSM7, 161, 2, 153)
    assert sms_segments("a" * 306).segments == 2
    assert sms_segments("a" * 307).segments == 3


def test_extension_characters_cost_two_units():
    for char in "€[]{}^~|\\":
        info = sms_segments(char)
        assert (info.encoding, info.units) == (GSM7, 2), char
    # 159 letters and a euro sign: 161 units, one too many for a single segment.
    assert sms_segments("a" * 158 + "€").segments == 1
    assert sms_segments("a" * 159 + "€").segments == 2


def test_an_escape_pair_is_never_split_across_segments():
    # 152 letters then "€": the pair would straddle the 153-unit boundary, so it moves on and
    # the message needs one more segment than plain arithmetic says (152 + 2 + 153 = 307 units).
    text = "a" * 152 + "€" + "b" * 153
    info = sms_segments(text)
    assert info.units == 307 and info.segments == 3


def test_french_accents_in_the_basic_table_stay_gsm7_but_others_switch_to_ucs2():
    for text in ("é", "è", "à", "ù", "Ç", "É", "ñ"):
        assert sms_segments(text).encoding == GSM7, text
    for text in ("ê", "ç", "â", "î", "ô", "û", "œ", "’", "«"):
        info = sms_segments("Bonjour " + text)
        assert info.encoding == UCS2 and info.unicode_chars == (text,), text


def test_ucs2_holds_70_in_one_segment_then_67_each():
    assert sms_segments("ê" * 70).segments == 1
    info = sms_segments("ê" * 71)
    assert (info.encoding, info.units, info.segments, info.per_segment) == (UCS2, 71, 2, 67)
    assert sms_segments("ê" * 134).segments == 2
    assert sms_segments("ê" * 135).segments == 3


def test_an_emoji_counts_two_utf16_units_and_forces_ucs2():
    info = sms_segments("Merci 🙂")
    assert (info.encoding, info.units, info.segments) == (UCS2, 8, 1)
    assert info.unicode_chars == ("🙂",)
    assert sms_segments("a" * 68 + "🙂").segments == 1  # 70 units
    assert sms_segments("a" * 69 + "🙂").segments == 2  # 71 units


def test_a_surrogate_pair_is_never_split_across_segments():
    info = sms_segments("a" * 66 + "🙂" + "b" * 10)
    # 66 + 2 would pass 67: the emoji opens the second segment.
    assert (info.units, info.segments) == (78, 2)


@pytest.mark.parametrize("text", ["", "\n", "@£$¥"])
def test_edge_cases(text):
    info = sms_segments(text)
    assert info.encoding == GSM7
    assert info.segments == (0 if not text else 1)
