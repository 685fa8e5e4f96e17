"""What `tfbert_convert_checkpoint` can build and write, in a module without TensorFlow:
the command's flags take their choices from here before TensorFlow starts."""

MODEL_KINDS = ("auto", "encoder", "pretrainer")
OUTPUT_FORMATS = ("keras", "tf1")
