"""schemathesis against the REST API's own OpenAPI document (/api/v1/openapi.json), in process
(ASGI), as an admin API token, with the desk pointed at the Stripe emulator: no request the
document allows may end in a server error.

Bounded for CI: a few generated examples per operation. The Allow-header conformance check is
left out: FastAPI answers 405 without an ``Allow`` header, which is the framework's behaviour.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import accounts
from disputedesk.testing import ManualClock
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps

MAX_EXAMPLES = 8  # per operation: bounded so CI stays fast


@pytest.fixture(scope="module")
def desk_app(tmp_path_factory):
    from disputedesk.store import make_engine, migrate

    tmp = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{tmp / 'desk.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    with running_emulator(seed=11) as emulator:
        clock = ManualClock(emulator.emulator.clock.now())
        deps = build_deps(Settings(database_url=url, data_dir=tmp,
                                   stripe_api_key=SecretStr("sk_test_openapi"),
                                   stripe_api_base=emulator.base_url, stripe_rate_limit=1000,
                                   stripe_max_retries=0, stripe_timeout=5),
                          clock=clock, migrate=False)
        app = create_app(deps)
        app.state.test_token = accounts.token_for_role(deps, "admin")
        yield app
        deps.close()


def test_no_request_the_openapi_document_allows_ends_in_a_server_error(desk_app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", desk_app)
    headers = {"Authorization": f"Bearer {desk_app.state.test_token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: "
                            f"{str(exc).strip().splitlines()[0][:300]}")
    assert operations > 30
    assert failures == []
