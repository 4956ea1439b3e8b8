// Federation against an implementation we did not write: npm `oidc-provider` (panva) as the company's
// identity provider, with its default settings. Those keep the `email` and `profile` claims out of
// the ID token when an access token is issued (`conformIdTokenClaims`, OpenID Connect Core §5.4), so
// Latchkey must read them from userinfo. What the test configures is only what the library makes us
// supply: the client, an account model (`findAccount`) and which claims the `email` and `profile`
// scopes carry. Its own development sign-in and consent pages are used as they are.
//
// Headless Chromium: Alexa's authorization URI → "Continue with Upstream OIDC" → oidc-provider's sign-in
// and consent → back to Latchkey's consent → Alexa's redirect URI with a code (intercepted) → the code
// exchanged as Alexa's servers would → the token's subject is a new user with the upstream email and name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import Provider from 'oidc-provider';
import { freePort, launchChromium, startLatchkey } from './latchkey.mjs';

const SHOTS = join(import.meta.dirname, 'screenshots');
let latchkey, base, cli, upstream, upstreamUrl;
const userinfoCalls = [];

before(async () => {
  latchkey = await startLatchkey('oidc-provider');
  ({ base, cli } = latchkey);

  const upstreamPort = await freePort();
  upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const provider = new Provider(upstreamUrl, {
    clients: [{
      client_id: 'latchkey',
      client_secret: 'a secret long enough for oidc-provider',
      redirect_uris: [`${base}/t/acme/federation/upstream/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    claims: { email: ['email', 'email_verified'], profile: ['name'] },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: `${sub}@upstream.example`, email_verified: true, name: `${sub[0].toUpperCase()}${sub.slice(1)} Upstream` };
        },
      };
    },
  });
  provider.on('userinfo.error', (_ctx, err) => userinfoCalls.push(`error ${err.message}`));
  upstream = http.createServer((req, res) => {
    if (req.url.startsWith('/me')) userinfoCalls.push(req.headers.authorization ? 'bearer' : 'anonymous');
    provider.callback()(req, res);
  });
  await new Promise((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve));

  mkdirSync(SHOTS, { recursive: true });
});

after(() => {
  latchkey?.stop();
  upstream?.close();
});

test('an Alexa user links through npm oidc-provider, whose claims come only from userinfo', async () => {
  // oidc-provider with its defaults really does keep the claims out of the ID token: checked here
  // against its own discovery, so this test cannot pass by accident against an ID token with email.
  const discovery = await (await fetch(`${upstreamUrl}/.well-known/openid-configuration`)).json();
  assert.equal(discovery.userinfo_endpoint, `${upstreamUrl}/me`);
  assert.ok(discovery.claims_supported.includes('email'));

  cli(['tenant', 'create', '--slug', 'acme', '--name', 'Acme Locks']);
  const skill = cli(['skill', 'create', '--tenant', 'acme', '--name', 'Acme Smart Home',
    '--alexa-skill-id', 'amzn1.ask.skill.oidcprovider', '--vendor-id', 'M2OIDCP']);
  const provider = cli(['provider', 'create', '--tenant', 'acme', '--slug', 'upstream', '--name', 'Upstream OIDC',
    '--issuer', upstreamUrl, '--client-id', 'latchkey', '--client-secret', 'a secret long enough for oidc-provider',
    '--create-users']);
  assert.equal(provider.callback_uri, `${base}/t/acme/federation/upstream/callback`);

  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    let alexaRedirect = null;
    await page.route('https://pitangui.amazon.com/**', (route) => {
      alexaRedirect = route.request().url();
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'back in the Alexa app' });
    });
    const redirectUri = skill.redirect_uris[0];
    await page.goto(`${base}/t/acme/oauth2/authorize?` + new URLSearchParams({
      response_type: 'code', client_id: skill.client_id, state: 'alexa-state-oidcp', scope: 'openid profile',
      redirect_uri: redirectUri,
    }));
    await page.getByRole('link', { name: 'Continue with Upstream OIDC' }).click();
    // oidc-provider's development sign-in page: any login, any password.
    await page.waitForURL((u) => u.href.startsWith(`${upstreamUrl}/interaction/`));
    await page.locator('input[name="login"]').fill('erin');
    await page.locator('input[name="password"]').fill('anything');
    await page.screenshot({ path: join(SHOTS, 'oidc-provider-1-upstream-sign-in.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click(); // oidc-provider's consent
    await page.waitForURL(/\/t\/acme\/federation\/upstream\/callback/);
    await page.screenshot({ path: join(SHOTS, 'oidc-provider-2-consent.png'), fullPage: true });
    await page.getByRole('button', { name: 'Allow' }).click(); // consent for the skill
    await page.waitForURL((u) => u.href.startsWith('https://pitangui.amazon.com/'));
    assert.ok(alexaRedirect, 'the browser was sent to Alexa');
    const back = new URL(alexaRedirect);
    assert.equal(back.searchParams.get('state'), 'alexa-state-oidcp');
    const code = back.searchParams.get('code');
    assert.ok(code);
    assert.deepEqual(userinfoCalls, ['bearer'], 'Latchkey read userinfo once, with the upstream access token');

    const basic = Buffer.from(`${skill.client_id}:${skill.client_secret}`).toString('base64');
    const tokenResp = await fetch(`${base}/t/acme/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }),
    });
    assert.equal(tokenResp.status, 200);
    const tokens = await tokenResp.json();
    const info = await (await fetch(`${base}/t/acme/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }),
    })).json();
    const mapped = cli(['user', 'show', '--tenant', 'acme', '--user', 'erin@upstream.example']);
    assert.equal(info.active, true);
    assert.equal(info.sub, mapped.id, 'the token belongs to the user created from the upstream identity');
    assert.equal(mapped.email, 'erin@upstream.example');
    assert.equal(mapped.name, 'Erin Upstream');
    assert.equal(mapped.email_verified, true);
  } finally {
    await browser.close();
  }
});
