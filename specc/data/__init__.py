"""Training data: reading the files a spec's ``train.data`` names and checking them against the model.

NumPy only (Pillow for image folders, scikit-learn for the bundled sets, both imported on first
use): `specc train` reads its data here, and `specc check` reads the same files with the same
code, so the two never disagree about a file.
"""
