"""Export trained Keras models to ONNX and TFLite artifacts with parity checks."""
