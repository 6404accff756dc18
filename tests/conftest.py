from tests.local_servers import local_server  # noqa: F401
from tests.relay_harness import relay, relay_settings  # noqa: F401
from tests.served_app import served_app  # noqa: F401
from tests.simulator_server import simulator_url  # noqa: F401
