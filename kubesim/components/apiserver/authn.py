"""Request authentication: bearer tokens from a static token file, as kube-apiserver's
`--token-auth-file` (k8s.io/apiserver pkg/authentication/token/tokenfile).

The file is CSV: `token,user,uid,"group1,group2"`. Every authenticated user also gets the
`system:authenticated` group (the authenticator chain's group adder). Anonymous requests
are refused with 401, except to the health endpoints, which kube-apiserver 1.32 lets
through with an AuthenticationConfiguration `anonymous.conditions` list of /healthz,
/livez and /readyz (feature AnonymousAuthConfigurableEndpoints, beta and on in 1.32).

In-cluster components (scheduler, controller manager, kubelets) authenticate with x509
client certificates signed by the cluster CA, as kubeadm sets them up. On the message fast
path the certificate is modelled by the identity it carries, `client_cert` =
{"user": CN, "groups": [O, ...]} (x509 CommonNameUserConversion); the HTTP facade never
sets it, so over HTTP only bearer tokens count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubesim.api import status
from kubesim.components.apiserver.admission import UserInfo

ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
ANONYMOUS_PATHS = frozenset({"/healthz", "/livez", "/readyz"})


@dataclass(frozen=True)
class TokenEntry:
    token: str
    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()

    def csv_line(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="")
        writer.writerow([self.token, self.user, self.uid, ",".join(self.groups)])
        return out.getvalue()


def parse_token_file(text: str) -> list[TokenEntry]:
    """The entries of a token file; ValueError with the line number for a bad line."""
    entries = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 3:
            raise ValueError(f"token file: line {number}: needs at least 3 columns (token,user,uid)")
        groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
        entries.append(TokenEntry(row[0], row[1], row[2], groups))
    return entries


class TokenAuthenticator:
    """Maps a request's bearer token to the user it stands for."""

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._users: dict[str, UserInfo] = {}
        for entry in entries:
            if entry.token in self._users:
                raise ValueError(f"token file: duplicate token for user {entry.user!r}")
            self._users[entry.token] = UserInfo(
                name=entry.user, uid=entry.uid,
                groups=(*entry.groups, ALL_AUTHENTICATED),
            )

    @classmethod
    def from_settings(cls, tokens: Iterable[Mapping[str, object]]) -> TokenAuthenticator:
        """From the apiserver settings' `tokens`: [{"token", "user", "uid", "groups"}]."""
        return cls(
            TokenEntry(str(t["token"]), str(t["user"]), str(t.get("uid", "")),
                       tuple(str(g) for g in t.get("groups", ()) or ()))  # type: ignore[union-attr]
            for t in tokens
        )

    def authenticate(self, token: str | None, path: str,
                     client_cert: Mapping[str, object] | None = None) -> UserInfo:
        """The user of a request; raises the 401 Unauthorized Status for a missing or
        unknown token (an unknown token is refused even on the anonymous paths, as
        kube-apiserver does: a presented credential that fails is not anonymous). A
        client certificate is tried first, as the x509 authenticator comes first in the
        union."""
        if client_cert:
            name = str(client_cert.get("user") or "")
            if not name:  # x509: "common name of user/client certificate is empty"
                raise status.unauthorized()
            groups = tuple(str(g) for g in client_cert.get("groups") or ())  # type: ignore[attr-defined]
            return UserInfo(name=name, groups=(*groups, ALL_AUTHENTICATED))
        if token:
            user = self._users.get(token)
            if user is not None:
                return user
            raise status.unauthorized()
        if path in ANONYMOUS_PATHS:
            return UserInfo(name=ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))
        raise status.unauthorized()
