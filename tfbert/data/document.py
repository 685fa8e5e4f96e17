"""`Document`, the unit of a pre-training corpus, in a module without TensorFlow: the
worker processes of `create_pretraining_data --num_workers` receive documents, and
unpickling one imports only this (`tfbert.data.pretraining_corpus` reads them)."""


class Document:
    """Sentences of one document: `ids[starts[i]:starts[i + 1]]` is sentence i.

    Args:
      ids: int32 array of all the document's word-piece ids.
      starts: int list, len = number of sentences + 1, from 0 to `len(ids)`.

    Example:

    >>> Document(np.array([5, 6, 7], np.int32), [0, 2, 3]).num_sentences
    2
    """

    __slots__ = ("ids", "starts")

    def __init__(self, ids, starts):
        self.ids = ids
        self.starts = starts

    @property
    def num_sentences(self):
        return len(self.starts) - 1
