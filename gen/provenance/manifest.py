"""C2PA manifests: signing Fabula's outputs and reading any file's.

``sign_file(src, dest, mime, claims, keys)`` embeds a manifest signed with
the ES256 key (``keys``) into a copy of an MP4 or JPEG. Its assertions:

* ``c2pa.actions.v2``: one ``c2pa.created`` action whose
  ``digitalSourceType`` is IPTC's ``trainedAlgorithmicMedia`` (made by a
  trained model), with Fabula as the software agent and the model preset
  among its parameters;
* ``org.fabula.generation``: the video id, the model preset, the creator's
  handle, the remix parent and the video it extends (when there are), and
  the invisible key the frames carry;
* ``org.fabula.consent``: the cameos the video shows, each with the grant
  that allowed it (``CameoConsent``); an empty list when it shows none.

The manifest's hash binds every byte of the media: a copy whose bytes
changed reads as invalid. ``read_manifest(source, mime)`` reads a file (path
or bytes) and says ``valid``, ``invalid`` or ``absent``, with the claims it
holds; ``trusted`` when the signer chains to one of ``trust_anchors`` (for
this server: ``keys.trust_anchors(settings)``).
"""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path
from typing import Literal

import msgspec

from gen.provenance.keys import SigningKeys

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATOR = "Fabula"
GENERATION_LABEL = "org.fabula.generation"
CONSENT_LABEL = "org.fabula.consent"
MIME_TYPES = ("video/mp4", "image/jpeg")

State = Literal["valid", "invalid", "absent"]


class CameoConsent(msgspec.Struct, frozen=True, kw_only=True):
    """One cameo a video shows and what allowed its use: ``basis`` is self,
    everyone, mutuals or approved; ``grant_id`` the approved grant."""

    cameo_id: str
    mention: str
    basis: str
    grant_id: str | None = None


class Claims(msgspec.Struct, frozen=True, kw_only=True):
    """What a Fabula manifest says of one output."""

    video_id: str
    model: str
    creator_handle: str | None = None
    remixed_from_video_id: str | None = None
    extends_video_id: str | None = None
    watermark_key: int | None = None
    cameos: tuple[CameoConsent, ...] = ()
    title: str | None = None


class ManifestReading(msgspec.Struct, frozen=True, kw_only=True):
    """``state``: valid (signature and hashes check), invalid (a manifest
    whose signature or hashes fail: the file changed since it was signed), or
    absent. ``claims``: the active manifest's claim generator, title,
    actions, Fabula's generation and consent assertions and the signer, plus
    ``errors`` (validation failure codes) when invalid. ``trusted``: valid
    and signed under one of the trust anchors given."""

    state: State
    claims: dict
    trusted: bool = False


def manifest_definition(claims: Claims, version: str = "") -> dict:
    """The manifest JSON the builder signs."""
    generation = {
        "video_id": claims.video_id,
        "model": claims.model,
        "creator": f"@{claims.creator_handle}" if claims.creator_handle else None,
        "remixed_from": claims.remixed_from_video_id,
        "extends": claims.extends_video_id,
        "watermark": None if claims.watermark_key is None else {"scheme": "fabula-tile-1", "key": f"{claims.watermark_key:012x}"},
    }
    agent = {"name": GENERATOR, **({"version": version} if version else {})}
    return {
        "claim_generator_info": [agent],
        "title": claims.title or claims.video_id,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": agent,
                            "parameters": {"model": claims.model},
                        }
                    ]
                },
            },
            {"label": GENERATION_LABEL, "data": {k: v for k, v in generation.items() if v is not None}},
            {"label": CONSENT_LABEL, "data": {"cameos": [msgspec.to_builtins(c) for c in claims.cameos]}},
        ],
    }


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("fabula")
    except Exception:
        return ""


def _check_mime(mime: str) -> str:
    if mime not in MIME_TYPES:
        raise ValueError(f"can sign {', '.join(MIME_TYPES)}, not {mime!r}")
    return mime


def sign_bytes(data: bytes, mime: str, claims: Claims, keys: SigningKeys) -> bytes:
    """``data`` (an MP4 or JPEG) with the manifest for ``claims`` embedded."""
    import c2pa

    _check_mime(mime)
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, keys.chain_pem, keys.key_pem, None)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest_definition(claims, _version())) as builder:
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
        return out.getvalue()


def sign_file(src: Path, dest: Path, mime: str, claims: Claims, keys: SigningKeys) -> int:
    """Write ``src`` signed to ``dest`` (a temp file beside it, then renamed:
    never half a file). Returns the size written."""
    signed = sign_bytes(Path(src).read_bytes(), mime, claims, keys)
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        tmp.write_bytes(signed)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return len(signed)


def _reader_context(trust_anchors: bytes | str | None):
    import c2pa

    if not trust_anchors:
        return None
    pem = trust_anchors.decode() if isinstance(trust_anchors, bytes) else trust_anchors
    return c2pa.Context.from_dict({"trust": {"trust_anchors": pem}, "verify": {"verify_trust": True}})


def _summary(reader) -> dict:
    """The parts of the active manifest a person checking a file wants."""
    active = reader.get_active_manifest() or {}
    claims: dict = {
        "claim_generator": [g.get("name") for g in active.get("claim_generator_info", []) if isinstance(g, dict)],
        "title": active.get("title"),
        "signature": {k: v for k, v in (active.get("signature_info") or {}).items() if k in ("alg", "issuer", "common_name", "time")},
    }
    for assertion in active.get("assertions", []):
        label, data = assertion.get("label"), assertion.get("data")
        if label in ("c2pa.actions", "c2pa.actions.v2"):
            claims["actions"] = data.get("actions", [])
        elif label == GENERATION_LABEL:
            claims["generation"] = data
        elif label == CONSENT_LABEL:
            claims["consent"] = data
    return claims


def _failures(reader) -> list[str]:
    results = reader.get_validation_results() or {}
    codes: list[str] = []
    for part in [results.get("activeManifest") or {}] + list((results.get("ingredientDeltas") or [])):
        for failure in (part.get("failure") or []) if isinstance(part, dict) else []:
            codes.append(str(failure.get("code")))
    return codes


def read_manifest(source: str | os.PathLike | bytes, mime: str, *, trust_anchors: bytes | str | None = None) -> ManifestReading:
    """The manifest in ``source`` (a path or the file's bytes) of type ``mime``."""
    import c2pa

    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    context = _reader_context(trust_anchors)
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), context=context) if context else c2pa.Reader(mime, io.BytesIO(data))
    except c2pa.C2paError as exc:
        if type(exc).__name__.endswith("ManifestNotFound") or "ManifestNotFound" in str(exc) or "JUMBF" in str(exc):
            return ManifestReading(state="absent", claims={})
        # a manifest is there but cannot be parsed: what a damaged one looks like
        return ManifestReading(state="invalid", claims={"errors": [str(exc)[:300]]})
    with reader:
        state = reader.get_validation_state()
        try:
            claims = _summary(reader)
        except Exception:  # a damaged manifest may not even describe itself
            claims = {}
        if state in ("Valid", "Trusted"):
            return ManifestReading(state="valid", claims=claims, trusted=state == "Trusted" and context is not None)
        claims["errors"] = _failures(reader) or [str(state)]
        return ManifestReading(state="invalid", claims=claims)


def manifest_json(source: str | os.PathLike | bytes, mime: str) -> dict:
    """The whole manifest store as the C2PA library reports it (for debugging)."""
    import c2pa

    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        return json.loads(reader.json())
