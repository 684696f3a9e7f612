"""The three independent checks: finite differences, PyTorch autograd, published numbers.

Each check takes an implementation and cases (or reference files) and yields Findings;
checks share nothing but the types of :mod:`manualbp.case`, :mod:`manualbp.protocol` and
:mod:`manualbp.findings`.
"""
