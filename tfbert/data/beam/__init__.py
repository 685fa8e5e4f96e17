"""Pre-training data and vocabularies at corpus scale, on Apache Beam.

The same programs as `tfbert_create_pretraining_data` and
`tfbert_build_vocab`, as Beam pipelines: `--runner=DirectRunner` runs them
on this machine (worker processes), `--runner=DataflowRunner` (or Flink,
Spark) on many, unchanged. Without `--runner` the commands run the
one-machine path, as before. See docs/pretraining_data.md.

- `documents`: document keys, shard assignment and shard seeds (plain
  Python, no Beam): what makes a shard's records equal the one-machine
  program's on that shard's documents.
- `pipeline`: the pre-training data pipeline (read, dedup, shard, records,
  statistics).
- `vocab`: word counting as a Beam combine, then WordPiece learning as today.
- `runner`: Beam pipeline options from `--runner` and `--beam_option`, and
  Beam's errors turned back into the error of the input.

Apache Beam is an optional extra (`pip install "tfbert[beam]"`): only the
modules of this package import `apache_beam`, and this `__init__` imports
none of them, so `import tfbert` never needs Beam.
"""

BEAM_MISSING = ("--runner needs Apache Beam, an optional extra: pip install \"tfbert[beam]\"")
