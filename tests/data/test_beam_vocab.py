"""`tfbert_build_vocab --runner`: words counted by a Beam combine give the one-machine vocab."""

import pytest

pytest.importorskip("apache_beam", reason="Apache Beam is not installed (the 'beam' extra)")

from tfbert.data.beam import vocab as beam_vocab
from tfbert.text.build_vocab import build_vocab, text_files_dataset

LEARN = {"lower_thresh": 2, "num_iterations": 2}


def test_beam_vocab_equals_the_one_machine_vocab(tmp_path, shared_data):
    lines = (shared_data / "text" / "wikitext2_valid_pretrain_format.txt").read_text(
        encoding="utf-8").split("\n")[:1500]
    files = []
    for k in range(3):  # the same lines, in three files read in parallel
        path = tmp_path / f"part-{k}.txt"
        path.write_text("\n".join(lines[k::3]) + "\n", encoding="utf-8")
        files.append(str(path))
    expected = build_vocab(text_files_dataset(files).batch(1024), 2000, learn_params=LEARN)
    output = tmp_path / "vocab.txt"
    size, counters = beam_vocab.build_vocab(files, str(output), 2000, learn_params=LEARN,
                                            beam_options=["direct_running_mode=in_memory"])
    assert output.read_text(encoding="utf-8").splitlines() == expected
    assert size == len(expected) > 500
    assert counters["files"] == 3 and counters["lines"] == sum(1 for x in lines if x.strip())


def test_beam_vocab_errors_name_the_file_and_leave_no_vocab(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    output = tmp_path / "vocab.txt"
    with pytest.raises(ValueError, match="no words to learn a vocabulary from"):
        beam_vocab.build_vocab([str(empty)], str(output), 100,
                               beam_options=["direct_running_mode=in_memory"])
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ValueError, match=r"data\.bin, line 3: a NUL byte at offset 8: a binary "
                       r"file, not a text corpus \(one sentence per line\)$"):
        beam_vocab.build_vocab([str(binary)], str(output), 100,
                               beam_options=["direct_running_mode=in_memory"])
    assert not output.exists()
