// A real OpenID Connect provider for the browser tests (oauth2-mock-server:
// discovery, JWKS, RS256-signed ID tokens, PKCE, nonce). It signs in whoever
// the authorize request names in `login_hint` (tests add it), else Sam Staff.
// `tamper=nonce` on the authorize request makes it sign a wrong nonce, so a
// test can see the tracker refuse the ID token.
import { OAuth2Server } from 'oauth2-mock-server';

const HOST = '127.0.0.1';
const PORT = Number(process.env.OIDC_PORT ?? 3918);
const DEFAULT_EMAIL = 'staff@example.test';
const NAMES = { 'staff@example.test': 'Sam Staff' };

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
// start() would otherwise name the issuer http://localhost:PORT.
server.issuer.url = `http://${HOST}:${PORT}`;

/** Who each authorization code was issued to, and any tampering asked for. */
const byCode = new Map();

server.service.on('beforeAuthorizeRedirect', ({ url }, req) => {
  const code = url.searchParams.get('code');
  if (code) byCode.set(code, { email: req.query.login_hint || DEFAULT_EMAIL, tamper: req.query.tamper });
});

// Fires for the access token, then the ID token (the one without `scope`).
server.service.on('beforeTokenSigning', (token, req) => {
  if ('scope' in token.payload) return;
  const who = byCode.get(req.body.code) ?? { email: DEFAULT_EMAIL };
  const local = who.email.split('@')[0];
  Object.assign(token.payload, {
    sub: `user-${who.email}`,
    email: who.email,
    email_verified: true,
    name: NAMES[who.email] ?? local.charAt(0).toUpperCase() + local.slice(1),
  });
  if (who.tamper === 'nonce') token.payload.nonce = 'tampered-nonce';
  byCode.delete(req.body.code);
});

await server.start(PORT, HOST);
console.log(`OIDC provider at ${server.issuer.url}`);
const stop = async () => { await server.stop(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
