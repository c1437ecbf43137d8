"""The C2PA signing credentials: an ES256 key and its certificate chain.

In production they come from settings: ``FABULA_C2PA_KEY_PATH`` (a PEM
private key) and ``FABULA_C2PA_CERT_PATH`` (PEM certificates, the signer's
first, then its intermediates), with ``FABULA_C2PA_TRUST_ANCHORS_PATH``
naming the root(s) a reader should trust. Without them (``fabula dev``,
tests) a chain is made on first use under ``<provenance_dir>`` (default
``<data_dir>/provenance``) and kept there: a root CA, an intermediate CA and
a signer certificate (P-256, ``digitalSignature`` and ``emailProtection``,
what C2PA asks of a signer), written once, atomically (a temporary folder
renamed into place; a process that loses the race reads the winner's).
"""

from __future__ import annotations

import datetime
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

CHAIN_FILE = "chain.pem"  # signer + intermediate
KEY_FILE = "signer.key"
ROOT_FILE = "root.pem"
ORGANISATION = "Fabula (self-hosted, development)"


@dataclass(frozen=True)
class SigningKeys:
    chain_pem: bytes  # the signer's certificate, then its intermediates
    key_pem: bytes
    trust_anchors_pem: bytes | None  # the root(s) a reader should trust; None: unknown


def provenance_dir(settings: Settings) -> Path:
    return settings.provenance_dir or settings.data_dir / "provenance"


def load_signing_keys(settings: Settings) -> SigningKeys:
    """The configured key and chain, or the development chain (made on first use)."""
    key_path, cert_path = settings.c2pa_key_path, settings.c2pa_cert_path
    if key_path or cert_path:
        if not (key_path and cert_path):
            raise ValueError("FABULA_C2PA_KEY_PATH and FABULA_C2PA_CERT_PATH must be set together")
        anchors = Path(settings.c2pa_trust_anchors_path).read_bytes() if settings.c2pa_trust_anchors_path else None
        return SigningKeys(chain_pem=Path(cert_path).read_bytes(), key_pem=Path(key_path).read_bytes(), trust_anchors_pem=anchors)
    return ensure_dev_chain(provenance_dir(settings))


def trust_anchors(settings: Settings) -> bytes | None:
    """The root certificate(s) a manifest must chain to for ``read_manifest`` to call it trusted."""
    if settings.c2pa_trust_anchors_path:
        return Path(settings.c2pa_trust_anchors_path).read_bytes()
    if settings.c2pa_key_path or settings.c2pa_cert_path:
        return None
    root = provenance_dir(settings) / ROOT_FILE
    return root.read_bytes() if root.is_file() else None


def ensure_dev_chain(folder: Path) -> SigningKeys:
    """Read the development chain from ``folder``, making it first if it is not there."""
    folder = Path(folder)
    if not (folder / KEY_FILE).is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:12]}.tmp")
        tmp.mkdir()
        try:
            for name, data in make_dev_chain().items():
                (tmp / name).write_bytes(data)
            os.chmod(tmp / KEY_FILE, 0o600)
            try:
                os.rename(tmp, folder)
            except OSError:
                if not (folder / KEY_FILE).is_file():
                    raise
        finally:
            if tmp.exists():
                for child in tmp.iterdir():
                    child.unlink()
                tmp.rmdir()
    return SigningKeys(
        chain_pem=(folder / CHAIN_FILE).read_bytes(),
        key_pem=(folder / KEY_FILE).read_bytes(),
        trust_anchors_pem=(folder / ROOT_FILE).read_bytes(),
    )


def make_dev_chain(now: datetime.datetime | None = None) -> dict[str, bytes]:
    """A fresh root -> intermediate -> signer chain: {file name: PEM bytes}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common), x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION)])

    def usage(*, signer: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=signer, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=not signer, crl_sign=not signer, encipher_only=False, decipher_only=False,
        )  # fmt: skip

    def issue(key, subject, issuer_key, issuer, *, ca: bool, path_length: int | None, days: int):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(usage(signer=not ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    root_key, middle_key, signer_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name = name("Fabula development root CA")
    middle_name = name("Fabula development intermediate CA")
    root = issue(root_key, root_name, root_key, root_name, ca=True, path_length=1, days=3650)
    middle = issue(middle_key, middle_name, root_key, root_name, ca=True, path_length=0, days=3650)
    signer = issue(signer_key, name("Fabula development signer"), middle_key, middle_name, ca=False, path_length=None, days=825)

    def pem(cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    return {
        CHAIN_FILE: pem(signer) + pem(middle),
        KEY_FILE: signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ROOT_FILE: pem(root),
    }
