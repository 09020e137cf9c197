from typing import Any

from file_service.entrypoints.mapper import mapping_fields
from file_service.mapping.plan import (
    DestinationField,
    EnumChoice,
    SourceField,
    compute_plan,
    enum_value,
    normalise,
    remembered_edges,
    score,
)

DESTINATIONS = [
    DestinationField(key="firstName", label="First Name"),
    DestinationField(key="email", label="Email"),
    DestinationField(key="phone"),
    DestinationField(key="country", alternative_names=["Nation"]),
]


def _pairs(plan: dict[str, Any]) -> dict[str, str]:
    return {m["sourceField"]["key"]: m["destinationField"]["key"] for m in plan["fieldMapping"]}


def test_normalise_strips_case_and_punctuation() -> None:
    assert normalise("E-mail Address!") == "emailaddress"


def test_exact_and_fuzzy_matches() -> None:
    sources = [
        SourceField(key="first_name", label="First Name"),
        SourceField(key="e_mail", label="E-mail"),
        SourceField(key="phone", label="Phone"),
        SourceField(key="nation", label="Nation"),
        SourceField(key="zzz", label="Unrelated"),
    ]
    plan = compute_plan(sources, DESTINATIONS)
    assert _pairs(plan) == {"first_name": "firstName", "e_mail": "email", "phone": "phone", "nation": "country"}
    assert plan["unmappedSourceFields"] == [{"sourceField": {"key": "zzz", "label": "Unrelated"}}]
    assert plan["unmappedDestinationFields"] == []
    assert plan["fieldMapping"][0]["destinationField"] == {"key": "firstName", "label": "First Name", "type": "string"}


def test_one_destination_per_source_best_wins() -> None:
    sources = [SourceField(key="mail"), SourceField(key="email")]
    plan = compute_plan(sources, [DestinationField(key="email")])
    assert _pairs(plan) == {"email": "email"}
    assert [u["sourceField"]["key"] for u in plan["unmappedSourceFields"]] == ["mail"]


def test_below_threshold_stays_unmapped() -> None:
    assert score(SourceField(key="age"), DestinationField(key="email")) < 0.75
    plan = compute_plan([SourceField(key="age")], [DestinationField(key="email")])
    assert plan["fieldMapping"] == []
    assert plan["unmappedDestinationFields"] == [
        {"destinationField": {"key": "email", "label": "email", "type": "string"}}
    ]


def test_enum_values_and_map_record() -> None:
    status = DestinationField(
        key="status",
        type="enum",
        options=[
            EnumChoice(value="active", label="Active"),
            EnumChoice(value="gone", label="Left", alternative_names=["X"]),
        ],
    )
    assert enum_value("ACTIVE", status.options) == "active"
    assert enum_value("left", status.options) == "gone"
    assert enum_value("x", status.options) == "gone"
    assert enum_value("other", status.options) == "other"
    plan = compute_plan(
        [SourceField(key="Status"), SourceField(key="phone")],
        [status],
        source_values={"Status": ["Left", "?", "ACTIVE"]},
    )
    [edge] = plan["fieldMapping"]
    assert edge["enumDetails"] == {
        "mapping": [
            {"sourceValue": "Left", "destinationValue": "gone"},
            {"sourceValue": "ACTIVE", "destinationValue": "active"},
        ],
        "unusedSourceValues": ["?"],
        "unusedDestinationValues": [],
    }
    assert edge["metadata"]["source"] == "exact"
    assert mapping_fields(plan)[0].values == {"Left": "gone", "ACTIVE": "active"}


def test_remembered_mappings_win_over_similarity() -> None:
    destinations = [DestinationField(key="email"), DestinationField(key="phone")]
    sources = [SourceField(key="e_mail_addr", label="Contact"), SourceField(key="tel")]
    fresh = compute_plan(sources, destinations)
    assert [e["sourceField"]["key"] for e in fresh["fieldMapping"]] == []
    # a user mapped them by hand once: the next plan into the same destination starts from that
    taught = {
        "fieldMapping": [
            {"sourceField": {"key": "e_mail_addr", "label": "Contact"}, "destinationField": {"key": "email"}},
            {"sourceField": {"key": "tel"}, "destinationField": {"key": "phone"}},
        ]
    }
    learned = remembered_edges(taught)
    assert learned == {"emailaddr": "email", "contact": "email", "tel": "phone"}
    again = compute_plan([SourceField(key="E-Mail Addr"), SourceField(key="TEL")], destinations, learned)
    pairs = {e["sourceField"]["key"]: e["destinationField"]["key"] for e in again["fieldMapping"]}
    assert pairs == {"E-Mail Addr": "email", "TEL": "phone"}
    assert {e["metadata"]["source"] for e in again["fieldMapping"]} == {"remembered"}
    # a remembered destination that no longer exists is ignored
    assert compute_plan([SourceField(key="tel")], [DestinationField(key="email")], learned)["fieldMapping"] == []
