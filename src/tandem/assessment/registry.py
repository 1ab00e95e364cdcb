"""Which instruments a service can use: the ones shipped with Tandem (JSON files beside this
module), plus the ones its service admin uploaded. The life-domain rating follows the
organisation's own card set."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from tandem.core.instruments import Instrument, parse

HERE = Path(__file__).resolve().parent
SHIPPED_DIR = HERE / "instruments"
LIFE_DOMAINS = "life-domains"


@functools.cache
def shipped() -> dict[str, Instrument]:
    """Every shipped instrument by code, validated once per process."""
    found = {}
    for path in sorted(SHIPPED_DIR.glob("*.json")):
        instrument = parse(json.loads(path.read_text(encoding="utf-8")))
        found[instrument.code] = instrument
    return found


@functools.cache
def default_crisis_contacts() -> list[dict]:
    """National helplines, shown when a service has not entered its own (sources in the file)."""
    return json.loads((HERE / "crisis_contacts.json").read_text(encoding="utf-8"))


def default_cards() -> list[tuple[str, str, str]]:
    """(code, label, question) of the default life-domain cards."""
    ins = shipped()[LIFE_DOMAINS]
    return [(item.id, item.section or _label(ins, item.id), item.text) for item in ins.items]


def _label(ins: Instrument, code: str) -> str:
    scale = next((s for s in ins.scales if s.code == code), None)
    return scale.title if scale else code


def cards(organisation) -> list[tuple[str, str, str]]:
    """The organisation's active life-domain cards as (code, label, question)."""
    rows = [(d.code, d.label, d.question) for d in organisation.life_domains.filter(active=True)]
    return rows or default_cards()


@functools.lru_cache(maxsize=256)
def _life_domains_for(card_set: tuple[tuple[str, str, str], ...]) -> Instrument:
    base = shipped()[LIFE_DOMAINS]
    default = {item.id: item for item in base.items}
    data = base.model_dump(mode="json")
    template = data["items"][0]
    items, scales = [], []
    for code, label, question in card_set:
        item = default[code].model_dump(mode="json") if code in default else dict(
            template, id=code, text=question or f"How are things with your {label.lower()}?",
            help="",
        )
        item.update(section=label, text=question or item["text"])
        items.append(item)
        scales.append({
            "code": code, "title": label, "method": "value", "items": [code], "range": [0, 10],
            "higher_is": "better",
        })
    overall = next(s for s in data["scales"] if s["primary"])
    overall = dict(overall, items=[c for c, _, _ in card_set],
                   missing=dict(overall["missing"], max_missing=max(0, len(card_set) // 4)))
    digest = hashlib.sha256(json.dumps(card_set).encode()).hexdigest()[:8]
    data.update(items=items, scales=[*scales, overall], version=f"{base.version}-{digest}")
    return parse(data)


def life_domains(organisation) -> Instrument:
    card_set = tuple(cards(organisation))
    if list(card_set) == default_cards():
        return shipped()[LIFE_DOMAINS]
    return _life_domains_for(card_set)


def available(organisation) -> dict[str, Instrument]:
    """Every instrument this organisation can use, by code. For uploads, the newest version;
    an upload can never take a shipped instrument's code (see uploads.py)."""
    found = dict(shipped())
    found[LIFE_DOMAINS] = life_domains(organisation)
    rows = organisation.instruments.filter(active=True).order_by("code", "-uploaded_at")
    for row in rows.values("pk", "code", "definition"):
        if row["code"] not in found:
            found[row["code"]] = _parse_upload(row["pk"], json.dumps(row["definition"]))
    return found


@functools.lru_cache(maxsize=256)
def _parse_upload(pk: int, text: str) -> Instrument:
    return parse(json.loads(text))


def get(organisation, code: str) -> Instrument | None:
    return available(organisation).get(code)
