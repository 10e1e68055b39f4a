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


WINDOW = ("specc: 1\ninputs:\n  x: [B, 8, H, W]\nlayers:\n"
          "  - {{type: Conv2d, out_channels: 8, kernel_size: 1, name: a}}\n"
          "  - {{type: {kind}, {window}, name: b, from: x}}\n"
          "  - {{type: {merge}, from: [a, b]}}\n")


@pytest.mark.parametrize(("kind", "window", "fix"), [
    ("Conv2d", "out_channels: 8, kernel_size: 3, dilation: 6, padding: 1", "6"),
    ("Conv2d", "out_channels: 8, kernel_size: [3, 5], padding: 0", "[1, 2]"),
    ("Conv2d", "out_channels: 8, kernel_size: 4, padding: 2", "same"),
    ("MaxPool2d", "kernel_size: 5, stride: 1, padding: 1", "2"),
    ("AvgPool2d", "kernel_size: 3, stride: 1", "1"),
])
@pytest.mark.parametrize("merge", ["Add", "Concat"])
def test_a_branch_whose_padding_changes_the_size_is_the_error(kind: str, window: str, fix: str, merge: str) -> None:
    # the merge sees two shapes; the layer to change is the window that does not keep the size, and
    # the padding the hint gives makes the spec check
    text = WINDOW.format(kind=kind, window=window, merge=merge)
    [d] = specc.loads(text, "m.yaml").errors
    assert d.code == "S010" and d.layer == "b" and d.loc.line == 6, d
    assert f"set padding: {fix} " in d.hint + " "
    assert specc.loads(text.replace(window, window.split(", padding")[0] + f", padding: {fix}"), "m.yaml").ok


def test_the_merge_keeps_the_error_when_no_one_padding_explains_it() -> None:
    # two branches each 2 short: neither alone is the difference; a dilated pool whose keeping pad
    # PyTorch refuses (more than half the kernel) has no padding to offer
    two = WINDOW.format(kind="Conv2d", window="out_channels: 8, kernel_size: 3", merge="Add").replace(
        "kernel_size: 1, name: a", "kernel_size: 5, name: a")
    pool = WINDOW.format(kind="MaxPool2d", window="kernel_size: 3, stride: 1, dilation: 3", merge="Add")
    for text in (two, pool):
        [d] = specc.loads(text, "m.yaml").errors
        assert d.layer != "b" and "Add" in d.message, d
