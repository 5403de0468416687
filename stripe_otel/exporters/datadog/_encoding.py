"""msgpack payloads for the Agent's ``/v0.4/traces`` and ``/v0.5/traces``.

Both take a list of trace chunks. v0.4 is the span maps as they are. v0.5 replaces every
string (service, name, resource, type, meta keys and values, metric keys) by its index in
a string table sent once per payload, and each span by a 12-element array: service, name,
repeated meta keys and the like are sent once, which makes payloads much smaller.

Plain lists and dicts and a single ``msgpack.packb`` call: per-object Python work is the
cost here, so there is as little of it as possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

import msgpack  # type: ignore[import-untyped]

from stripe_otel.exporters.datadog._mapping import DDSpan

V04: Final = "/v0.4/traces"
V05: Final = "/v0.5/traces"


def encode_v04(chunks: Sequence[Sequence[DDSpan]]) -> bytes:
    return cast(bytes, msgpack.packb(chunks))


class _StringTable(dict[str, int]):
    """``table[s]``: the index of *s*, added at the end when new.

    ``__missing__`` runs only for a new string; the common case, a string already seen,
    is a plain C dict lookup.
    """

    def __missing__(self, key: str) -> int:
        index = self[key] = len(self)
        return index


def encode_v05(chunks: Sequence[Sequence[DDSpan]]) -> bytes:
    table = _StringTable()
    table[""] = 0  # the Agent requires index 0 to be the empty string
    traces = []
    for chunk in chunks:
        arrays = []
        for span in chunk:
            # In a dict display the key is evaluated before the value: indices stay in order.
            meta = {table[key]: table[value] for key, value in span["meta"].items()}
            metrics = {table[key]: value for key, value in span["metrics"].items()}
            arrays.append(
                [
                    table[span["service"]],
                    table[span["name"]],
                    table[span["resource"]],
                    span["trace_id"],
                    span["span_id"],
                    span["parent_id"],
                    span["start"],
                    span["duration"],
                    span["error"],
                    meta,
                    metrics,
                    table[span["type"]],
                ]
            )
        traces.append(arrays)
    return cast(bytes, msgpack.packb([list(table), traces]))


ENCODERS: Final = {V05: encode_v05, V04: encode_v04}
