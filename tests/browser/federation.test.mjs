// Federation in headless Chromium at phone size, as a user in the Alexa app's webview would see it:
// Alexa's authorization URI at tenant "acme" → "Continue with Corp SSO" → sign in at tenant "corp"
// (a second Latchkey tenant acting as the company's identity provider) → consent there → back,
// consent → the browser is sent to Alexa's redirect URI with a code (intercepted; Amazon is never
// contacted) → the code is exchanged like Alexa's servers would → the token's subject is the mapped user.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, startLatchkey } from './latchkey.mjs';

const SHOTS = join(import.meta.dirname, 'screenshots');
let latchkey, base, cli;

before(async () => {
  latchkey = await startLatchkey('federation');
  ({ base, cli } = latchkey);
  mkdirSync(SHOTS, { recursive: true });
});

after(() => latchkey?.stop());

test('an Alexa user links with the account they already have upstream', async () => {
  cli(['tenant', 'create', '--slug', 'acme', '--name', 'Acme Locks']);
  const skill = cli(['skill', 'create', '--tenant', 'acme', '--name', 'Acme Smart Home',
    '--alexa-skill-id', 'amzn1.ask.skill.browser', '--vendor-id', 'M2BROWSER']);
  cli(['tenant', 'create', '--slug', 'corp', '--name', 'Corp Identity']);
  cli(['user', 'create', '--tenant', 'corp', '--email', 'dana@corp.example', '--password-stdin', '--name', 'Dana'], 'dana password 1\n');
  const callback = `${base}/t/acme/federation/corp/callback`;
  const upstreamClient = cli(['client', 'create', '--tenant', 'corp', '--name', 'Acme Locks linking',
    '--redirect-uri', callback, '--grant-types', 'authorization_code']);
  const provider = cli(['provider', 'create', '--tenant', 'acme', '--slug', 'corp', '--name', 'Corp SSO',
    '--issuer', `${base}/t/corp`, '--client-id', upstreamClient.client_id, '--client-secret', upstreamClient.client_secret,
    '--create-users']);
  assert.equal(provider.callback_uri, callback);

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
    const authorize = `${base}/t/acme/oauth2/authorize?` + new URLSearchParams({
      response_type: 'code', client_id: skill.client_id, state: 'alexa-state-123', scope: 'openid profile',
      redirect_uri: redirectUri,
    });
    await page.goto(authorize);
    await page.screenshot({ path: join(SHOTS, 'federation-1-sign-in-phone.png'), fullPage: true });
    await page.getByRole('link', { name: 'Continue with Corp SSO' }).click();
    await page.waitForURL(/\/t\/corp\/oauth2\/authorize/);
    await page.getByLabel('Email').fill('dana@corp.example');
    await page.getByLabel('Password').fill('dana password 1');
    await page.screenshot({ path: join(SHOTS, 'federation-2-upstream-sign-in-phone.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click(); // consent at the upstream
    await page.waitForURL(/\/t\/acme\/federation\/corp\/callback/);
    await page.screenshot({ path: join(SHOTS, 'federation-3-consent-phone.png'), fullPage: true });
    await page.getByRole('button', { name: 'Allow' }).click(); // consent for the skill
    await page.waitForURL(/pitangui\.amazon\.com/);
    assert.ok(alexaRedirect, 'the browser was sent to Alexa');
    const back = new URL(alexaRedirect);
    assert.equal(back.searchParams.get('state'), 'alexa-state-123');
    const code = back.searchParams.get('code');
    assert.ok(code);

    // Amazon's servers exchange the code with HTTP Basic, as the skill is configured.
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
    const mapped = cli(['user', 'show', '--tenant', 'acme', '--user', 'dana@corp.example']);
    assert.equal(info.active, true);
    assert.equal(info.sub, mapped.id, 'the token belongs to the user mapped from the upstream identity');
    assert.equal(mapped.name, 'Dana');

    // The same pages at desktop size.
    const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await desktop.goto(authorize);
    await desktop.screenshot({ path: join(SHOTS, 'federation-1-sign-in-desktop.png') });
  } finally {
    await browser.close();
  }
});
