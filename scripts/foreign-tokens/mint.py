"""Tokens minted with PyJWT, for tests/api/auth_attacks.rs. Run by ../mint-foreign-tokens."""
import json
import sys

import jwt

secret = sys.argv[1]
exp = 4102444800  # 2100-01-01: the fixtures must outlive the repository's tests.
claims = {"user_id": "py-tenant", "plan_status": "active", "plan_limits": {"max_sessions": 1}, "iat": 1764288000, "exp": exp}
tokens = {
    "pyjwt_valid": jwt.encode(claims, secret, algorithm="HS256"),
    # A key id and a key URL pointing elsewhere: Herald has one key and must not follow either.
    "pyjwt_kid_and_jku": jwt.encode(claims, secret, algorithm="HS256",
                                    headers={"kid": "../../../dev/null", "jku": "https://attacker.example/jwks.json"}),
    "pyjwt_jku_signed_elsewhere": jwt.encode(claims, "attacker-secret-attacker-secret-00", algorithm="HS256",
                                             headers={"jku": "https://attacker.example/jwks.json"}),
    "pyjwt_hs512": jwt.encode(claims, secret, algorithm="HS512"),
    "pyjwt_expired": jwt.encode({**claims, "exp": 1000000000}, secret, algorithm="HS256"),
    "pyjwt_admin": jwt.encode({"user_id": "py-admin", "role": "admin", "exp": exp}, secret, algorithm="HS256"),
}
print(json.dumps({"library": "PyJWT " + jwt.__version__, "tokens": tokens}))
