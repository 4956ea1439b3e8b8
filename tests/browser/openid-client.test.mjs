// A relying party we did not write: npm `openid-client` (panva), as a company's web app would use it to
// sign its users in against a Latchkey tenant. Discovery, authorization code with PKCE, nonce and state,
// the code exchange, and ID-token validation with the library's non-repudiation checks on (it verifies
// the ID token's signature against the tenant's JWKS with `jose`, not only over TLS).
//
// The tenant signs its access tokens with EdDSA. A client that registered no ID-token algorithm is
// configured in openid-client as RS256, what OpenID Connect gives such a client; one that registered
// EdDSA is configured with EdDSA. The library refuses an ID token whose `alg` is not the configured one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { launchChromium, startLatchkey } from './latchkey.mjs';

const REDIRECT = 'http://127.0.0.1:9/callback';
let latchkey, base, cli, browser;

before(async () => {
  latchkey = await startLatchkey('openid-client');
  ({ base, cli } = latchkey);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  latchkey?.stop();
});

// openid-client's discovery and code flow for `client`, with the user signing in in Chromium; returns
// the token response (the library has validated it) and the configuration.
async function signIn(client, idTokenAlg) {
  const config = await oidc.discovery(new URL(`${base}/t/edco`), client.client_id,
    { client_secret: client.client_secret, id_token_signed_response_alg: idTokenAlg },
    oidc.ClientSecretBasic(client.client_secret),
    { execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid profile email', state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const page = await browser.newPage();
  let callback = null;
  await page.route('http://127.0.0.1:9/**', (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the app' });
  });
  await page.goto(url.href);
  await page.getByLabel('Email').fill('rp@example.com');
  await page.getByLabel('Password').fill('rp password 123');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
  // Consent is remembered per user and client: asked the first time only.
  if (!callback && await page.getByRole('button', { name: 'Allow' }).isVisible()) {
    await page.getByRole('button', { name: 'Allow' }).click();
  }
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:9\//);
  await page.close();
  assert.ok(callback, 'the browser came back to the app');
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { config, tokens };
}

const headerAlg = (jws) => JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString()).alg;

test('openid-client signs in: RS256 ID tokens unless the client chose EdDSA, on a tenant signing with EdDSA', async () => {
  cli(['tenant', 'create', '--slug', 'edco', '--name', 'Ed Co', '--signing-alg', 'EdDSA']);
  cli(['user', 'create', '--tenant', 'edco', '--email', 'rp@example.com', '--name', 'Rita Party', '--password-stdin'],
    'rp password 123\n');
  const discovery = await (await fetch(`${base}/t/edco/.well-known/openid-configuration`)).json();
  assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256', 'ES256', 'EdDSA']);

  const plain = cli(['client', 'create', '--tenant', 'edco', '--name', 'Web app', '--redirect-uri', REDIRECT]);
  const { config, tokens } = await signIn(plain, 'RS256');
  assert.equal(headerAlg(tokens.id_token), 'RS256');
  assert.equal(headerAlg(tokens.access_token), 'EdDSA', 'access tokens follow the tenant');
  const claims = tokens.claims();
  assert.equal(claims.iss, `${base}/t/edco`);
  assert.equal(claims.aud, plain.client_id);
  assert.equal(claims.name, 'Rita Party');
  assert.equal(claims.email, 'rp@example.com');
  // A refresh: the library validates the new ID token too (same subject, same algorithm).
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(headerAlg(refreshed.id_token), 'RS256');
  assert.equal(refreshed.claims().sub, claims.sub);

  // The same client configured in the library for EdDSA refuses the RS256 ID token.
  await assert.rejects(signIn(plain, 'EdDSA'), (e) => {
    assert.match(`${e.message}: ${e.cause?.message}`, /unexpected JWT "alg" header parameter/);
    assert.equal(e.cause?.header?.alg ?? e.cause?.cause?.header?.alg, 'RS256');
    return true;
  });

  const chose = cli(['client', 'create', '--tenant', 'edco', '--name', 'Modern app', '--redirect-uri', REDIRECT,
    '--id-token-alg', 'EdDSA']);
  const shown = cli(['client', 'show', '--tenant', 'edco', '--client-id', chose.client_id]);
  assert.equal(shown.id_token_signed_response_alg, 'EdDSA');
  const ed = await signIn(chose, 'EdDSA');
  assert.equal(headerAlg(ed.tokens.id_token), 'EdDSA');
  assert.equal(ed.tokens.claims().sub, claims.sub);
});
