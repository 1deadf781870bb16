"""fingerspell's training pipeline (needs the `train` extra: TensorFlow)."""
