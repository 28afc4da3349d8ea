"""A bounded property-based run of our OpenAPI schema against a real server: no 5xx, responses as documented."""
from __future__ import annotations


import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.checks import not_a_server_error

from tests.servers import cli, free_port, start_server, stop_server, write_config



@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    config = write_config(work, server={"rate_limit_per_minute": 0})
    cli("init", config=config)
    key = cli("apikey", "create", "fuzzer", "--role", "admin", config=config).stdout.strip().splitlines()[-1]
    port = free_port()
    log = open(work / "server.log", "w")
    process = start_server(config, port, log)
    base = f"http://127.0.0.1:{port}"
    yield base, key, work
    stop_server(process)
    log.close()


@pytest.fixture(scope="module")
def api_schema(admin_server):
    base, _, _ = admin_server
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_no_server_error_and_responses_match_the_schema(api_schema, admin_server):
    # schemathesis' pytest plugin does not run on this pytest; drive its strategies with hypothesis directly.
    _, key, _ = admin_server
    headers = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def exercise(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        exercise()
