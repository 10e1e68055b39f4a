"""Add and Mul of maps with the same positions but other channels, at any size: the hint fixes
the channel count, as a gate for a product and as a projection for a sum, and the fix checks."""

from __future__ import annotations

import pytest

import specc

SPEC = ("specc: 1\ninputs:\n  image: [B, 16, H, W]\nlayers:\n"
        "  - {{type: Conv2d, out_channels: {c}, kernel_size: 1, name: branch}}\n"
        "  - {{type: {merge}, from: [image, branch]}}\n")


@pytest.mark.parametrize(("merge", "words", "fixes"), [
    ("Mul", "gates a map of 16 channels", (1, 16)),
    ("Add", "project input 2 (B, 8, H, W) to 16 channels", (16,)),
])
def test_channel_mismatch_at_any_size_names_the_channels_that_fit(merge: str, words: str,
                                                                   fixes: tuple[int, ...]) -> None:
    [d] = specc.loads(SPEC.format(c=8, merge=merge), "m.yaml").errors
    assert d.code == "S006" and words in d.hint and "project the shortcut" not in d.hint
    for c in fixes:
        assert specc.loads(SPEC.format(c=c, merge=merge), "m.yaml").ok
