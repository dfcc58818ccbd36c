"""Label-text prompts for AVSGN from any class list."""
from __future__ import annotations

import pytest

from avlocate.features.clip_clap.label_text import CLAP_TEMPLATE, CLIP_TEMPLATE, event_classes, label_prompts


def test_paper_prompts_from_an_ave_style_list() -> None:
    classes = ["Church bell", "Male speech, man speaking", "Race_car,  auto racing", "background"]
    p = label_prompts(classes)
    assert p.classes == ("Church bell", "Male speech, man speaking", "Race_car,  auto racing")
    assert p.clip[0] == "This photo contains the Church bell"
    assert p.clap[0] == "This sound contains the Church bell"
    assert p.clip[2] == "This photo contains the Race car, auto racing"  # underscores / spaces cleaned
    assert len(p.clip) == len(p.clap) == 3


def test_any_vocabulary_and_background_handling() -> None:
    assert event_classes(["dog", "cat"]) == ["dog", "cat"]  # no background entry: all are events
    assert event_classes(["dog", "Background"]) == ["dog"]
    assert event_classes(["bg", "dog", "cat"], background="bg") == ["dog", "cat"]
    assert event_classes(["dog", "none"], background=None) == ["dog", "none"]
    with pytest.raises(ValueError, match="twice"):
        event_classes(["dog", "dog"])
    with pytest.raises(ValueError, match="no event class"):
        event_classes(["background"])
    with pytest.raises(ValueError, match="not in the class list"):
        event_classes(["dog"], background="silence")
    custom = label_prompts(["siren"], clip_template="a photo of a {}.", clap_template=CLAP_TEMPLATE)
    assert custom.clip == ("a photo of a siren.",) and custom.clap == ("This sound contains the siren",)
    assert CLIP_TEMPLATE.format("x") == "This photo contains the x"
