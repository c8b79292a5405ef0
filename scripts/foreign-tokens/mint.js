// Tokens minted with the npm packages the old Next.js frontend signs with: `jsonwebtoken` for its
// backend calls (lib/backend-jwt.ts) and `jose` for its access-code login (lib/auth.ts,
// app/api/auth/verify-access-code), whose token its admin pages forward as is. Run by
// ../mint-foreign-tokens.
const jwt = require("jsonwebtoken");
const secret = process.argv[2];
const exp = 4102444800; // 2100-01-01
const claims = { user_id: "node-tenant", email: "t@example.com", role: "user", plan_status: "active",
  plan_limits: { max_sessions: 1, plan_type: "STARTER" }, exp };
const tokens = {
  node_valid: jwt.sign(claims, secret, { algorithm: "HS256" }),
  node_numeric_sub: jwt.sign({ sub: 4242, exp }, secret, { algorithm: "HS256" }),
  node_hs384: jwt.sign(claims, secret, { algorithm: "HS384" }),
  node_not_before_2099: jwt.sign({ ...claims, nbf: 4070908800 }, secret, { algorithm: "HS256" }),
  node_admin: jwt.sign({ user_id: "node-admin", role: "ADMIN", exp }, secret, { algorithm: "HS256" }),
};

// jose is ESM only; the access-code login signs exactly like this (generateAccessToken).
async function joseTokens() {
  const { SignJWT } = await import("jose");
  const key = new TextEncoder().encode(secret);
  const sign = (payload) => new SignJWT({ ...payload }).setProtectedHeader({ alg: "HS256" })
    .setIssuedAt().setExpirationTime(exp).sign(key);
  return {
    jose_admin: await sign({ botId: "bot-admin-1", userId: "owner-admin-1", role: "ADMIN", email: "ops@example.com" }),
    jose_admin_lowercase: await sign({ botId: "bot-admin-2", userId: "owner-admin-2", role: "admin" }),
    jose_admin_bot_only: await sign({ botId: "bot-admin-3", role: "ADMIN" }),
    jose_user: await sign({ botId: "bot-user-1", userId: "owner-user-1", role: "USER", email: "u@example.com" }),
    jose_admin_contradicting: await sign({ botId: "bot-admin-4", userId: "owner-a", user_id: "owner-b", role: "ADMIN" }),
  };
}

joseTokens().then((jose) => {
  console.log(JSON.stringify({ library: "jsonwebtoken " + require("jsonwebtoken/package.json").version, tokens }));
  console.log(JSON.stringify({ library: "jose " + require("jose/package.json").version, tokens: jose }));
});
