"""The render's shortcuts of s-render9 held equal to what they skip.

An SMS's segments are counted once per text: each remembered count is compared with the
count made afresh.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay._replies import sms

_TEXTS = st.text(alphabet=st.sampled_from("aZ09 .,€[]{}~|\\^\n\u00a0ąęśłżźÓłїєґ😀@£"), max_size=400)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_a_remembered_count_is_the_count(text: str) -> None:
    counted = sms._counted(text)
    assert sms.sms_segments(text) == counted
    assert sms.sms_segments(text) == counted  # remembered now


def test_a_long_text_is_counted_and_not_kept() -> None:
    text = "ab " * (sms._MEMO_CHARS // 3 + 1)
    assert len(text) > sms._MEMO_CHARS
    kept = sms._counted_memo.cache_info().currsize
    assert sms.sms_segments(text) == sms._counted(text) == (-(-len(text) // 153), "GSM-7")
    assert sms._counted_memo.cache_info().currsize == kept
