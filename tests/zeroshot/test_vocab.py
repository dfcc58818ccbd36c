"""Vocabularies of the zero-shot model: shipped lists, --labels parsing, --vocab files."""
from __future__ import annotations

import pytest

from avlocate.errors import InputNotFoundError, UsageError
from avlocate.zeroshot.vocab import builtin_vocab, load_vocab, normalise_labels, parse_label_list, resolve_labels


@pytest.mark.parametrize("name, count", [("unav100", 100), ("ave", 28)])
def test_shipped_vocabularies_have_the_dataset_counts_and_unique_trimmed_names(name, count):
    names = builtin_vocab(name)
    assert len(names) == count
    assert len({n.casefold() for n in names}) == count
    assert all(n == " ".join(n.split()) and n for n in names)


def test_shipped_names_keep_the_dataset_spelling_and_order():
    unav = builtin_vocab("unav100")
    # label_id 0 / 37 / 99 of unav100_annotations.json (37 keeps the dataset's "base" spelling)
    assert (unav[0], unav[37], unav[99]) == ("man speaking", "playing base guitar", "hair dryer drying")
    ave = builtin_vocab("AVE")  # case-insensitive name
    assert ave[0] == "Church bell" and ave[1] == "Male speech, man speaking" and ave[-1] == "Mandolin"


def test_labels_are_trimmed_and_deduplicated_keeping_first_order():
    assert parse_label_list("  dog barking , car horn,,\tDog   Barking, applause , car horn") == [
        "dog barking", "car horn", "applause"]
    # names with commas: a ';' anywhere switches the separator
    assert parse_label_list("Male speech, man speaking; Bark ;") == ["Male speech, man speaking", "Bark"]


@pytest.mark.parametrize("text", ["", " ,  , ", ";;"])
def test_an_empty_label_list_is_a_usage_error(text):
    with pytest.raises(UsageError, match="no label names"):
        parse_label_list(text)
    with pytest.raises(UsageError):
        normalise_labels([])


def test_vocab_file_one_name_per_line_with_comments(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("# my events\n  dog barking \n\nsiren\ndog barking\n# siren\n", encoding="utf-8")
    assert load_vocab(str(f)) == ["dog barking", "siren"]
    (tmp_path / "empty.txt").write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(UsageError):
        load_vocab(str(tmp_path / "empty.txt"))
    with pytest.raises(InputNotFoundError, match="no such file"):
        load_vocab(str(tmp_path / "missing.txt"))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UsageError, match="UTF-8"):
        load_vocab(str(tmp_path / "bin.txt"))


def test_resolve_labels_combines_vocab_and_labels_and_needs_one():
    names = resolve_labels("Bark, helicopter, my own event", vocab="ave")
    assert len(names) == 29 and names[:2] == ["Church bell", "Male speech, man speaking"]
    assert names[-1] == "my own event"  # Bark / Helicopter were already there
    assert resolve_labels(["a", " a ", "b"]) == ["a", "b"]
    with pytest.raises(UsageError, match="--labels"):
        resolve_labels(None, None)
