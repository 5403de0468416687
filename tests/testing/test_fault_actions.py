"""The fault actions a future Stripe could produce: unknown fields and object types, and
valid JSON under the wrong Content-Type."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import stripe

from stripe_otel.testing import Fault, StripeTestServer
from stripe_otel.testing._faults import (
    ACTIONS,
    PASS_THROUGH,
    WRONG_CONTENT_TYPE,
    relabel_content_type,
)

pytestmark = pytest.mark.integration

KEY = "sk_test_fault_actions"


def raw(
    server: StripeTestServer, method: str, path: str, body: str = ""
) -> tuple[int, str | None, bytes]:
    """(status, Content-Type, body) of one request over a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def client_for(server: StripeTestServer, transport: str) -> stripe.StripeClient:
    http_client: stripe.HTTPClient = {
        "requests": stripe.RequestsClient,
        "httpx": lambda: stripe.HTTPXClient(allow_sync_methods=True),
        "urllib": stripe.UrllibClient,
    }[transport]()
    return stripe.StripeClient(KEY, base_addresses={"api": server.url}, http_client=http_client)


def test_unknown_fields_on_the_wire(server: StripeTestServer) -> None:
    server.add_fault(Fault(action="unknown_fields", headers={"X-Test": "1"}))
    status, content_type, body = raw(server, "POST", "/v1/customers", "description=x")
    assert (status, content_type) == (200, "application/json")
    obj = json.loads(body)
    assert obj["object"] == "future_object"
    assert obj["future_nested"]["object"] == "future_nested_object"
    assert obj["future_list"]["data"][0]["object"] == "future_item"
    assert server.pending_faults == 0
    [recorded] = server.requests
    assert recorded.status == 200
    # Answered by the fault: the create never happened.
    assert json.loads(raw(server, "GET", "/v1/customers")[2])["data"] == []


@pytest.mark.parametrize("transport", ["requests", "httpx", "urllib"])
def test_unknown_fields_decode_as_plain_stripe_objects(
    server: StripeTestServer, transport: str
) -> None:
    server.add_fault(Fault(action="unknown_fields"))
    obj: Any = client_for(server, transport).v1.customers.retrieve("cus_Anything0000000001")
    assert type(obj) is stripe.StripeObject  # no class for "future_object"
    assert obj.object == "future_object"
    assert obj.future_scalar == 1.5
    assert obj.future_nested.values[:5] == [1, 2.5, None, True, "x"]
    assert type(obj.future_list) is stripe.ListObject
    assert obj.future_list.data[0].id == "futi_UnknownFields00000000"


def test_wrong_content_type_answers_normally_under_another_label(
    server: StripeTestServer,
) -> None:
    server.add_fault(Fault(action="wrong_content_type", headers={"X-Test": "1"}))
    status, content_type, body = raw(server, "POST", "/v1/customers", "description=labelled")
    assert (status, content_type) == (200, WRONG_CONTENT_TYPE)
    created = json.loads(body)
    assert (created["object"], created["description"]) == ("customer", "labelled")
    # The request was really handled, and only that one was relabelled.
    status, content_type, body = raw(server, "GET", f"/v1/customers/{created['id']}")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body)["id"] == created["id"]
    assert [r.status for r in server.requests] == [200, 200]


def test_wrong_content_type_on_an_error(server: StripeTestServer) -> None:
    server.add_fault(Fault(action="wrong_content_type"))
    status, content_type, body = raw(server, "GET", "/v1/customers/cus_Missing0000000001")
    assert (status, content_type) == (404, WRONG_CONTENT_TYPE)
    assert json.loads(body)["error"]["code"] == "resource_missing"


@pytest.mark.parametrize("transport", ["requests", "httpx", "urllib"])
def test_the_sdk_ignores_the_content_type(server: StripeTestServer, transport: str) -> None:
    client = client_for(server, transport)
    server.add_fault(Fault(action="wrong_content_type"))
    customer = client.v1.customers.create({"description": "labelled"})
    assert type(customer) is stripe.Customer
    assert customer.description == "labelled"
    server.add_fault(Fault(action="wrong_content_type"))
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_Missing0000000001")
    assert info.value.http_status == 404


def test_delay_and_wrong_content_type_pass_through_the_app() -> None:
    assert {"delay", "wrong_content_type"} == PASS_THROUGH
    assert PASS_THROUGH <= ACTIONS


def test_relabel_changes_the_head_only() -> None:
    body = b'{"note": "Content-Type: application/json"}'
    response = (
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\ncontent-type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    relabelled = relabel_content_type(response)
    head, _, rest = relabelled.partition(b"\r\n\r\n")
    assert rest == body
    assert head.split(b"\r\n")[2] == b"Content-Type: " + WRONG_CONTENT_TYPE.encode()
    assert head.count(b"application/json") == 0


def test_every_action_is_documented_and_accepted_by_the_control_api(
    server: StripeTestServer,
) -> None:
    doc = Fault.__doc__ or ""
    for action in sorted(ACTIONS):
        assert f"``{action}``" in doc, action
        assert Fault.from_json({"action": action}).action == action
    with pytest.raises(ValueError, match="unknown fault action"):
        Fault(action="unknown_field")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("POST", "/_control/faults", body=json.dumps({"action": "unknown_fields"}))
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert server.pending_faults == 1
    status, _, body = raw(server, "GET", "/v1/customers")
    assert (status, json.loads(body)["object"]) == (200, "future_object")


def test_reset_with_a_seed_repeats_ids_and_request_ids(server: StripeTestServer) -> None:
    def run() -> list[Any]:
        server.reset(seed=7)
        client = client_for(server, "requests")
        customer = client.v1.customers.create({"description": "seeded"})
        intent = client.v1.payment_intents.create({"amount": 100, "currency": "usd"})
        return [
            customer.id,
            customer.invoice_prefix,
            customer.last_response.request_id,
            intent.id,
            intent.client_secret,
        ]

    first = run()
    assert run() == first
    server.reset()  # without a seed the generator just goes on
    assert client_for(server, "requests").v1.customers.create().id != first[0]
