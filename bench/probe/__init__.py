"""The bad-input probe of ``bench/bad_inputs.py``, one module per round."""
