"""The ``packaging`` marker (also worth listing in pyproject's pytest markers)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "packaging: smoke tests of the built desktop bundle in dist/ "
                   "(`make package`, then `make package-test`); skipped when there is none")
