// Tokens minted with the `jsonwebtoken` npm package, as the old Next.js frontend signs them
// (backend-jwt.ts). Run by ../mint-foreign-tokens.
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
console.log(JSON.stringify({ library: "jsonwebtoken " + require("jsonwebtoken/package.json").version, tokens }));
