"""Benchmarks of scrapy-session-pools, side by side with scrapy-zyte-api.

Run them with ``python -m bench.run <scenario>``; see ``bench/README.rst``.
They are not part of the test suite.
"""
