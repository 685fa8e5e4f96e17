"""SQuAD v1.1 / v2.0: the official JSON in, model features out.

`read_squad` reads the questions; `squad_features` cuts each context into
overlapping windows of word pieces, as the original `run_squad.py` does:

    [CLS] question (at most max_query_length pieces) [SEP] context window [SEP]

Windows advance by `doc_stride` pieces; a piece seen in several windows is
scored in the one where it has the most context on both sides (the
original's `_check_is_max_context`; both rules live in `tfbert.data.windows`,
shared with the exports and with long texts to classify or tag). Training
labels come from the answers' character offsets: the answer span is mapped to
the word pieces whose offsets (from `BertTokenizer.tokenize_with_offsets`)
overlap it; a window that does not contain the whole answer, and an
unanswerable (v2.0) question, point at [CLS] (position 0).

Unlike the original, which splits contexts on whitespace and maps
predictions back through a second tokenizer (`get_final_text`), every
piece keeps its character span in the context, so an answer is the exact
context substring from the first piece's start to the last piece's end.

Example:

>>> data = parse_squad({"version": "1.1", "data": [{"title": "t", "paragraphs": [{
...     "context": "Denver won Super Bowl 50.",
...     "qas": [{"id": "q1", "question": "Who won?",
...              "answers": [{"text": "Denver", "answer_start": 0}]}]}]}]},
...     is_training=True)
>>> data.examples[0].answer_text, data.examples[0].answer_start
('Denver', 0)
"""

import dataclasses
import os

import numpy as np
from absl import logging

from tfbert.data import finetuning, text_files
from tfbert.data.windows import max_context_windows, window_spans

FIRST_UNIQUE_ID = 1000000000


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question about one context.

    Attributes:
        qid: the question id.
        question: the question text.
        context: the paragraph.
        answer_text, answer_start: the training answer (the first answer) and
            its character offset in `context`; None when there is none.
        is_impossible: v2.0 unanswerable question.
        answers: all gold answer texts (for evaluation).
        title: the article title.
    """

    qid: str
    question: str
    context: str
    answer_text: str | None
    answer_start: int | None
    is_impossible: bool
    answers: tuple
    title: str = ""


@dataclasses.dataclass
class SquadData:
    """The questions of a SQuAD file.

    Attributes:
        examples: list of `SquadExample`.
        version: the file's `version` ("1.1", "v2.0", ...).
        path: where it was read from (or None).
        skipped: one message per question whose first answer's offset does
            not match its text: read for training, the question is skipped;
            for evaluation, it is kept (scored by text) without a span label.
    """

    examples: list
    version: str
    path: str | None = None
    skipped: list = dataclasses.field(default_factory=list)


def read_squad(path, is_training):
    """Reads a SQuAD v1.1 or v2.0 JSON file (see `parse_squad`)."""
    path = os.fspath(path)
    text = text_files.read_text(path)
    if not text.strip():
        raise ValueError(f"{path} is empty.")
    return parse_squad(text_files.loads_json(text, path), is_training, path)


def _answer_matches(context, text, start):
    """The original's check, on characters: the text at the offset equals the
    answer, up to whitespace."""
    if start is None or start < 0 or start > len(context):
        return False
    found = context[start:start + len(text)]
    return found == text or " ".join(found.split()) == " ".join(text.split())


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "true or false", type(None): "null"}
_REQUIRED = object()


def _get(node, key, kinds, where, default=_REQUIRED):
    """`node[key]`, checked to be of `kinds`; a ValueError naming `where` otherwise
    (and when `node` is not an object, or lacks a key that has no default)."""
    if not isinstance(node, dict):
        raise ValueError(f"{where}: expected an object, got {_JSON_TYPES[type(node)]}.")
    if key not in node:
        if default is _REQUIRED:
            raise ValueError(f"{where}: no {key!r} in {str(node)[:200]}")
        return default
    value = node[key]
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    # JSON true/false are Python ints too; an integer field does not take them.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(_JSON_TYPES[k] for k in kinds)
        raise ValueError(f"{where}.{key} must be {names}, not {_JSON_TYPES[type(value)]}: "
                         f"{str(value)[:80]}")
    return value


def parse_squad(dataset, is_training, path=None):
    """Questions from a parsed SQuAD JSON (`{"version", "data"}`).

    Args:
        dataset: the JSON object.
        is_training: skip the answerable questions whose first answer's
            `answer_start` does not point at its text (with a count, a log line
            and a message in `skipped`); otherwise such questions are kept,
            without `answer_text`/`answer_start`, and listed in `skipped` too.
        path: the file name, for messages.

    Returns:
        A `SquadData`.
    """
    where = path or "SQuAD data"
    if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
        raise ValueError(f"{where}: not SQuAD JSON (expected an object with a 'data' list).")
    examples, skipped = [], []
    for article_index, article in enumerate(dataset["data"]):
        at = f"{where}: data[{article_index}]"
        title = _get(article, "title", str, at, f"article {article_index}")
        for p, paragraph in enumerate(_get(article, "paragraphs", list, at, [])):
            at_p = f"{at}.paragraphs[{p}]"
            context = _get(paragraph, "context", str, at_p)
            for q, qa in enumerate(_get(paragraph, "qas", list, at_p, [])):
                at_q = f"{at_p}.qas[{q}]"
                qid = str(_get(qa, "id", (str, int), at_q))
                question = _get(qa, "question", str, at_q)
                impossible = bool(_get(qa, "is_impossible", (bool, int), at_q, False))
                answers = _get(qa, "answers", list, at_q, [])
                answer_texts = tuple(_get(a, "text", str, f"{at_q}.answers[{i}]", "")
                                     for i, a in enumerate(answers))
                text = start = None
                if is_training and not impossible and not answers:
                    raise ValueError(f"{where}: question {qid} has no answers and is not "
                                     "marked is_impossible.")
                if answers and not impossible:
                    text = _get(answers[0], "text", str, f"{at_q}.answers[0]", None)
                    start = _get(answers[0], "answer_start", int, f"{at_q}.answers[0]", None)
                    if text is None or not _answer_matches(context, text, start):
                        skipped.append(f"{where}: question {qid}: answer {text!r} not found at "
                                       f"offset {start} (context there: "
                                       f"{context[start or 0:(start or 0) + len(text or '')]!r})")
                        if is_training:
                            continue
                        text = start = None
                examples.append(SquadExample(qid, question, context, text, start, impossible,
                                             answer_texts, title))
    if not examples:
        raise ValueError(f"{where} has no questions" + (
            f" ({len(skipped)} skipped for bad answer offsets)." if skipped else "."))
    if skipped:
        total = len(examples) + (len(skipped) if is_training else 0)
        logging.warning("%s: %s %d of %d questions whose answer offsets do not match their "
                        "text; first: %s", where, "skipped" if is_training else "no span label for",
                        len(skipped), total, skipped[0])
    return SquadData(examples, str(dataset.get("version", "")), path, skipped)


@dataclasses.dataclass
class SquadFeatures:
    """The windows of a `SquadData`, and what post-processing needs.

    Attributes:
        arrays: model inputs, `input_word_ids`, `input_mask`, `input_type_ids`
            int32 `[F, seq]`, `unique_ids` int32 `[F]`; for training also
            `start_positions`, `end_positions` and `is_impossible` (1 when the
            window holds no answer) int32 `[F]`. Feed them to
            `finetuning.make_dataset`.
        example_index: int `[F]`, the example of each window.
        window_index: int `[F]`, the window's number within its example.
        window_start: int `[F]`, the example's context piece at which it starts.
        window_length: int `[F]`, how many context pieces it holds.
        doc_offset: int `[F]`, the sequence position of its first context piece.
        piece_chars: per example, int `[pieces, 2]`: the `[begin, end)`
            character span of each context piece in the context.
        best_window: per example, int `[pieces]`: the window in which each
            context piece has maximal context.
    """

    arrays: dict
    example_index: np.ndarray
    window_index: np.ndarray
    window_start: np.ndarray
    window_length: np.ndarray
    doc_offset: np.ndarray
    piece_chars: list
    best_window: list

    def __len__(self):
        return len(self.example_index)

    def context_pieces(self, feature):
        """Int `[seq]`: the context piece at each position of a window, -1 for
        the question, special tokens and padding."""
        seq_length = self.arrays["input_word_ids"].shape[1]
        pieces = np.full([seq_length], -1, np.int64)
        offset, length = self.doc_offset[feature], self.window_length[feature]
        start = self.window_start[feature]
        pieces[offset:offset + length] = np.arange(start, start + length)
        return pieces


def _char_offsets(text, byte_offsets):
    """Maps UTF-8 byte offsets of `text` to character offsets."""
    char_bytes = np.fromiter((len(ch.encode("utf-8")) for ch in text), np.int64, len(text))
    starts = np.concatenate([[0], np.cumsum(char_bytes)])
    # A byte inside a character maps to that character.
    return np.searchsorted(starts, byte_offsets, side="right") - 1


def squad_features(data, tokenizer, seq_length=384, doc_stride=128, max_query_length=64,
                   is_training=False):
    """Cuts the examples into model windows (see the module doc).

    Args:
        data: a `SquadData`.
        tokenizer: a `tfbert.text.BertTokenizer`.
        seq_length: the window length (`max_seq_length` of the original).
        doc_stride: how far windows advance, in pieces.
        max_query_length: questions are cut to this many pieces.
        is_training: add the `start_positions`, `end_positions` and
            `is_impossible` labels (also useful on evaluation data, for an
            evaluation loss: questions without a usable answer point at [CLS]).

    Returns:
        A `SquadFeatures`.
    """
    examples = data.examples
    if seq_length < max_query_length + 4:
        raise ValueError(f"seq_length {seq_length} leaves no room for the context after a "
                         f"question of max_query_length {max_query_length}.")
    cls_id, sep_id, pad_id = finetuning.special_ids(tokenizer)
    questions = finetuning.tokenize_texts(tokenizer, [e.question for e in examples],
                                          what="questions")
    # Paragraphs are shared by several questions: tokenize each once.
    contexts = list(dict.fromkeys(e.context for e in examples))
    context_pieces = dict(zip(contexts, finetuning.tokenize_texts(
        tokenizer, contexts, with_offsets=True, what="contexts"), strict=True))

    rows, labels, windows, piece_chars, best_windows = [], [], [], [], []
    out_of_window = 0
    for index, (example, query) in enumerate(zip(examples, questions, strict=True)):
        ids, begin, end = context_pieces[example.context]
        char_begin = _char_offsets(example.context, begin)
        char_end = _char_offsets(example.context, end - 1) + 1
        piece_chars.append(np.stack([char_begin, char_end], axis=1))
        query = query[:max_query_length]
        max_doc = seq_length - len(query) - 3
        spans = window_spans(len(ids), max_doc, doc_stride)
        best_windows.append(max_context_windows(spans, len(ids)))

        answer = None
        if is_training and example.answer_text is not None and not example.is_impossible:
            a_begin = example.answer_start
            a_end = a_begin + len(example.answer_text)
            covered = np.flatnonzero((char_end > a_begin) & (char_begin < a_end))
            answer = (covered[0], covered[-1]) if len(covered) else None
            if answer is None:
                logging.warning("question %s: no word piece covers the answer %r",
                                example.qid, example.answer_text)

        offset = len(query) + 2  # position of a window's first context piece
        for window, (start, length) in enumerate(spans):
            rows.append(finetuning.pack_segments([query, ids[start:start + length]],
                                                 cls_id, sep_id))
            windows.append((index, window, start, length, offset))
            if is_training:
                if answer is not None and start <= answer[0] and answer[1] < start + length:
                    labels.append((answer[0] - start + offset, answer[1] - start + offset, 0))
                else:
                    out_of_window += not example.is_impossible
                    labels.append((0, 0, 1))
        if (index + 1) % 5000 == 0:
            logging.info("SQuAD features: %d of %d questions, %d windows", index + 1,
                         len(examples), len(rows))

    writer = finetuning.FeatureWriter(len(rows), seq_length, pad_id)
    for row, (word_ids, type_ids) in enumerate(rows):
        writer.set_row(row, word_ids, type_ids)
    arrays = dict(writer.arrays)
    arrays["unique_ids"] = np.arange(FIRST_UNIQUE_ID, FIRST_UNIQUE_ID + len(rows), dtype=np.int32)
    if is_training:
        label_array = np.array(labels, np.int32).reshape([-1, 3])
        arrays["start_positions"] = label_array[:, 0]
        arrays["end_positions"] = label_array[:, 1]
        arrays["is_impossible"] = label_array[:, 2]
        logging.info("SQuAD training features: %d windows from %d questions; %d windows do "
                     "not contain their answer and point at [CLS]", len(rows), len(examples),
                     out_of_window)
    columns = np.array(windows, np.int64).reshape([-1, 5]).T
    return SquadFeatures(arrays, *columns, piece_chars, best_windows)
