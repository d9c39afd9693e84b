"""The TLS certificates the apiserver serves with: a cluster CA and a serving certificate
it signs, as kubeadm's `certs` phase makes them (ca.crt, apiserver.crt with the API
server's names and IPs as subject alternative names; RSA 2048, CA valid 10 years, the
serving certificate 1 year).

kubectl and client-go send a kubeconfig's bearer token only over TLS (clientcmd reads
the user's credentials only when the transport is TLS), so the REST facade serves HTTPS
and the kubeconfig carries the CA. Key generation uses the operating system's random
source; this only runs on a real clock, where no run is replayed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(days=3650)  # kubeadm constants.CACertificateValidityPeriod
CERT_VALIDITY = timedelta(days=365)  # kubeadm constants.CertificateValidityPeriod
# kubeadm's apiserver.crt names, for a control plane on 127.0.0.1
SERVING_DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local", "localhost")
SERVING_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class KeyPair:
    cert_pem: str
    key_pem: str


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def new_ca(now: float, common_name: str = "kubernetes") -> KeyPair:
    """A self-signed CA (kubeadm's ca.crt / ca.key); `now` is Unix time."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.fromtimestamp(now, UTC) - timedelta(minutes=5)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                         key_cert_sign=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))


def new_serving_cert(ca: KeyPair, now: float, dns_names: Sequence[str] = SERVING_DNS_NAMES,
                     ips: Sequence[str] = SERVING_IPS,
                     common_name: str = "kube-apiserver") -> KeyPair:
    """A server certificate signed by `ca` for `dns_names` and `ips` (apiserver.crt)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _key()
    start = datetime.fromtimestamp(now, UTC) - timedelta(minutes=5)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                         key_cert_sign=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))
