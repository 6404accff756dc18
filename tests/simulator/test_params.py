"""Every size and time parameter of the simulator has a maximum, and a request past it is a 400
that names the parameter and the bound."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from streaming.simulator.app import SimulatorApp
from streaming.simulator.params import LIMITS, MIN_TPS, ParamError, parse_params
from streaming.simulator.scenarios import SCENARIOS
from tests.simulator.test_simulator import receiving

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def params_of(keyword: str, **request: object):
    return parse_params({"input": f"hi [sim:{keyword}]", **request}, SCENARIOS)


def past(name: str) -> str:
    bound = LIMITS[name]
    return str(int(bound) + 1) if float(bound).is_integer() else str(bound * 2)


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_bounded_parameter_takes_its_maximum(name: str) -> None:
    params = params_of(f"markdown {name}={LIMITS[name]:g}")
    assert getattr(params, name) == LIMITS[name]


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_bounded_parameter_past_its_maximum_is_refused_naming_it(name: str) -> None:
    with pytest.raises(ParamError) as refused:
        params_of(f"markdown {name}={past(name)}")
    assert f"'{name}'" in str(refused.value) and f"{LIMITS[name]:g}" in str(refused.value)


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_the_body_object_has_the_same_bounds(name: str) -> None:
    with pytest.raises(ParamError, match=name):
        parse_params({"input": "hi", "simulator": {name: float(past(name))}}, SCENARIOS)


def test_tps_is_full_speed_or_at_least_its_minimum() -> None:
    assert params_of("markdown tps=0").tps == 0
    assert params_of(f"markdown tps={MIN_TPS:g}").tps == MIN_TPS
    with pytest.raises(ParamError, match=r"'tps' is 0 \(full speed\) or at least 0.1"):
        params_of(f"markdown tps={MIN_TPS / 2:g}")


@pytest.mark.parametrize("value", [LIMITS["deltas"] + 1, 0, "many", 2.5, True])
def test_max_output_tokens_is_a_whole_number_within_the_deltas_bound(value: object) -> None:
    with pytest.raises(ParamError, match="max_output_tokens"):
        params_of("incomplete", max_output_tokens=value)
    assert params_of("incomplete", max_output_tokens=int(LIMITS["deltas"])).scenario


async def test_past_a_bound_the_simulator_answers_400_with_the_bound() -> None:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    body = {"model": "sim-long", "input": "x [sim:long tps=0 deltas=1000000]", "stream": True}
    scope = {"type": "http", "method": "POST", "path": "/v1/responses"}
    await SimulatorApp()(scope, receiving(body), send)
    assert sent[0]["status"] == 400
    error = json.loads(sent[1]["body"])["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "simulator parameter 'deltas' is at most 100000"


def test_every_bound_is_in_the_documented_table() -> None:
    rows = {
        match[1]: match[2]
        for match in re.finditer(r"^\| `(\w+)` \|.*\| ([^|]*) \|$", DOCS.read_text(), re.M)
    }
    for name, bound in LIMITS.items():
        assert rows.get(name, "").strip() == f"{bound:g}", name


def test_start_at_waits_for_that_moment_and_at_least_ttft() -> None:
    ahead = time.time() + 5
    assert 4.5 < params_of(f"long start_at={ahead:.3f}").ttft < 5.01
    assert params_of(f"long start_at={ahead:.3f} ttft=9").ttft == 9
    assert params_of(f"long start_at={time.time() - 5:.3f} ttft=0.5").ttft == 0.5
    passed = params_of(f"long start_at={time.time() - 5:.3f}")
    assert passed.first_delta_delay == params_of("long").first_delta_delay == 0.3  # the default


@pytest.mark.parametrize("value", ["soon", "nan", str(10**12)])
def test_start_at_is_a_moment_within_the_ttft_bound(value: str) -> None:
    with pytest.raises(ParamError, match="'start_at'"):
        params_of(f"long start_at={value}")
