"""pytest hooks and ini options of the harness plugin; fixtures live in `fixtures.py`."""


def pytest_addoption(parser):
    parser.addini(
        "harness_asgi_factory",
        "module:callable returning the project's production ASGI application",
        default="",
    )
