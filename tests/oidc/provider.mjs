// A real OpenID provider for the tests: oidc-provider with its development login pages
// (any login name is accepted). ISSUER, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI come from
// the environment; GROUPS is JSON {"<login>": ["group", ...]}. Prints "ready" when listening.
import Provider from "oidc-provider";

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const groups = JSON.parse(process.env.GROUPS || "{}");
const port = Number(new URL(ISSUER).port);

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: {
    openid: ["sub"],
    profile: ["preferred_username", "name"],
    email: ["email", "email_verified"],
    groups: ["groups"],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: id,
          email: `${id}@example.test`,
          email_verified: true,
          groups: groups[id] || [],
        };
      },
    };
  },
});
provider.listen(port, "127.0.0.1", () => console.log("ready"));
