"""Load tests of the counter app: the locustfile, its profiles, and the analysis of results.

- ``loadtest/locustfile.py``: the users (configured by LOADTEST_* environment variables);
- ``loadtest/profiles.yml`` + :mod:`loadtest.profiles`: named, validated load profiles;
- :mod:`loadtest.analysis`: Locust CSV parsing, run summaries, saturation verdict, capacity;
- :mod:`loadtest.report`: Markdown tables in the seed report's form (en/ru);
- :mod:`loadtest.plots`: PNG plots;
- ``python -m loadtest``: the command line (:mod:`loadtest.cli`).
"""
