"""Published worked examples as data files, installed as the package ``manualbp.reference``.

The schema of the files is documented in reference/README.md.
"""
