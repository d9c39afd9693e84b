"""Static-token authentication (--token-auth-file)."""

from __future__ import annotations

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.authn import (
    TokenAuthenticator,
    TokenEntry,
    parse_token_file,
)


def test_token_file_round_trip_and_groups():
    entry = TokenEntry("s3cret", "alice", "u1", ("dev", "ops"))
    assert entry.csv_line() == 's3cret,alice,u1,"dev,ops"'
    [parsed] = parse_token_file("# comment\n" + entry.csv_line() + "\n")
    assert parsed == entry
    user = TokenAuthenticator([parsed]).authenticate("s3cret", "/api")
    assert (user.name, user.uid, user.groups) == ("alice", "u1",
                                                 ("dev", "ops", "system:authenticated"))


def test_bad_token_file_lines():
    with pytest.raises(ValueError, match="line 1"):
        parse_token_file("onlytoken\n")
    with pytest.raises(ValueError, match="duplicate token"):
        TokenAuthenticator([TokenEntry("t", "a"), TokenEntry("t", "b")])


def test_anonymous_only_on_health_paths():
    authn = TokenAuthenticator([TokenEntry("t", "a")])
    anonymous = authn.authenticate(None, "/readyz")
    assert anonymous.name == "system:anonymous" and anonymous.groups == ("system:unauthenticated",)
    for token, path in ((None, "/api"), ("wrong", "/api"), ("wrong", "/healthz")):
        with pytest.raises(APIError) as err:
            authn.authenticate(token, path)
        assert err.value.code == 401 and err.value.reason == "Unauthorized"
