"""Language-model transduction: text encoding, models, training, test-time training, decoding."""
