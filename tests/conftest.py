from tests.simulator_server import simulator_url  # noqa: F401
