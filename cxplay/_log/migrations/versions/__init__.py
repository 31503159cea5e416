"""One module per schema revision, named ``rNNNN_what.py``."""
