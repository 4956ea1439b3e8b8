// The dashboard in headless Chromium, as a device company would use it: sign up → read the
// verification mail from the outbox → verify → sign in → create a skill → copy its values → create an
// end user → run the linking simulator → link as Alexa from two Alexa accounts of one household (each
// sends AcceptGrant, against a stand-in for Login with Amazon) → see each Alexa account on the linked
// account → unlink one of them → revoke the link → the old refresh tokens no longer work. Then tenant
// isolation through the UI's session and the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { freePort, launchChromium } from './latchkey.mjs';

const BIN = process.env.LATCHKEY_BIN;
const SHOTS = join(import.meta.dirname, 'screenshots');
const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-dashboard-'));
let server, base, env, lwa;

// A stand-in for Login with Amazon's token endpoint: it checks the skill's messaging credentials in
// the body, as LWA does, and answers a code exchange with a token pair, per region path.
const LWA_ID = 'amzn1.application-oa2-client.dashboard';
const LWA_SECRET = 'dashboard-lwa-secret';
let lwaExchanges = 0;
let gatewayEvents = 0;
const lwaCodes = new Set(['ANUbUKCJqlBOpMhw0', 'ANUbUKCJqlBOpMhw1']);
// The vendor's SMAPI client and refresh token, and what SMAPI's account-linking resource holds.
const SMAPI_ID = 'amzn1.application-oa2-client.vendortools';
const SMAPI_SECRET = 'vendor-tools-secret';
const SMAPI_REFRESH = 'Atzr|vendor-refresh';
const smapiLinking = new Map();
function startLwa() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        // The Event Gateway's part: 202 for an event carrying an Amazon token in its scope.
        if (req.url.endsWith('/v3/events')) {
          const sent = JSON.parse(body);
          const token = sent.event?.endpoint?.scope?.token;
          res.statusCode = token && req.headers.authorization === `Bearer ${token}` ? 202 : 401;
          gatewayEvents += 1;
          return res.end();
        }
        // SMAPI's account-linking resource: PUT stores the request, GET answers it without the secret.
        const linking = req.url.match(/^\/v1\/skills\/([^/]+)\/stages\/(development|live)\/accountLinkingClient$/);
        if (linking) {
          if (req.headers.authorization !== 'Bearer Atza|vendor-access') {
            res.statusCode = 401;
            return res.end(JSON.stringify({ message: 'Token is invalid/expired' }));
          }
          const key = `${linking[1]}/${linking[2]}`;
          if (req.method === 'PUT') {
            smapiLinking.set(key, JSON.parse(body).accountLinkingRequest);
            res.statusCode = 204;
            return res.end();
          }
          const { clientSecret, ...stored } = smapiLinking.get(key) ?? {};
          res.statusCode = smapiLinking.has(key) ? 200 : 404;
          return res.end(JSON.stringify(smapiLinking.has(key) ? { accountLinkingResponse: stored } : { message: 'not found' }));
        }
        const form = new URLSearchParams(body);
        if (form.get('client_id') === SMAPI_ID && form.get('client_secret') === SMAPI_SECRET
          && form.get('refresh_token') === SMAPI_REFRESH) {
          return res.end(JSON.stringify({ access_token: 'Atza|vendor-access', refresh_token: SMAPI_REFRESH, token_type: 'bearer', expires_in: 3600 }));
        }
        if (form.get('client_id') !== LWA_ID || form.get('client_secret') !== LWA_SECRET) {
          res.statusCode = 401;
          return res.end(JSON.stringify({ error: 'invalid_client' }));
        }
        // Codes are Amazon's, single use: the two this test's Alexa accounts bring.
        if (!lwaCodes.delete(form.get('code'))) {
          res.statusCode = 400;
          return res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'The request has an invalid grant parameter : code' }));
        }
        lwaExchanges += 1;
        res.end(JSON.stringify({ access_token: `Atza|dash-${lwaExchanges}`, refresh_token: `Atzr|dash-${lwaExchanges}`,
          token_type: 'bearer', expires_in: 3600 }));
      });
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

function cli(args, input) {
  return JSON.parse(execFileSync(BIN, [...args, '--json'], { env, input, encoding: 'utf8' }).trim());
}

// The newest mail to `to` in the outbox, quoted-printable decoded, and the link to `path` in it.
function mailedLink(to, path, prefix = '/admin') {
  const dir = join(dataDir, 'outbox');
  const mails = readdirSync(dir).map((f) => join(dir, f)).sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
    .map((f) => readFileSync(f, 'utf8').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))))
    .filter((m) => m.includes(`To: ${to}`));
  assert.ok(mails.length, `a mail to ${to}`);
  const m = mails.at(-1).match(new RegExp(`https?://[^\\s]+${prefix}${path}\\?token=[A-Za-z0-9_-]+`));
  assert.ok(m, `a ${path} link`);
  return m[0];
}

before(async () => {
  assert.ok(BIN, 'LATCHKEY_BIN must point at the latchkey binary');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  lwa = await startLwa();
  env = { PATH: process.env.PATH, LATCHKEY_DATA_DIR: dataDir, LATCHKEY_PUBLIC_URL: base, RUST_LOG: 'warn',
    LATCHKEY_LWA_TOKEN_URL: `http://127.0.0.1:${lwa.address().port}/{region}/auth/o2/token`,
    LATCHKEY_ALEXA_EVENT_GATEWAY_URL: `http://127.0.0.1:${lwa.address().port}/{region}/v3/events`,
    LATCHKEY_SMAPI_URL: `http://127.0.0.1:${lwa.address().port}` };
  server = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`], { env, stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  mkdirSync(SHOTS, { recursive: true });
});

after(() => {
  server?.kill();
  lwa?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a device company signs up, configures a skill, links, and unlinks from the dashboard', async () => {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await context.newPage();
    const owner = 'owner@acme.example';

    // Sign up. The slug is checked live once the page has hydrated.
    await page.goto(`${base}/admin/signup`);
    await page.getByLabel('Company name').fill('Acme Locks');
    await page.getByLabel('Tenant slug').pressSequentially('acme-locks');
    await page.getByText('Available').waitFor();
    await page.getByLabel('Your email').fill(owner);
    await page.getByLabel('Password').fill('a long owner passphrase');
    await page.getByText('Strength: strong').waitFor();
    await page.screenshot({ path: join(SHOTS, 'dashboard-signup-desktop.png'), fullPage: true });
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByText('We sent a verification link').waitFor();

    // Verify from the mail in the outbox. A plain GET of the link (a mail scanner) verifies nothing:
    // the tenant stays pending. The page the link opens verifies with its POST, where the owner
    // chooses the password; the tenant becomes active.
    const verifyLink = mailedLink(owner, '/verify');
    const scanned = await fetch(verifyLink);
    assert.equal(scanned.status, 200);
    assert.match(await scanned.text(), /Verify and activate/);
    assert.equal((await fetch(`${base}/t/acme-locks/.well-known/openid-configuration`)).status, 403,
      'opening the link activated nothing');
    await page.goto(verifyLink);
    await page.getByText('acme-locks').first().waitFor();
    await page.getByLabel('Your password').fill('a long owner passphrase');
    await page.screenshot({ path: join(SHOTS, 'dashboard-verify-desktop.png'), fullPage: true });
    await page.getByRole('button', { name: 'Verify and activate' }).click();
    await page.getByText('Your email is verified and your tenant is active').waitFor();
    assert.equal((await fetch(`${base}/t/acme-locks/.well-known/openid-configuration`)).status, 200);

    // Sign in and open the tenant.
    await page.getByLabel('Email').fill(owner);
    await page.getByLabel('Password').fill('a long owner passphrase');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/admin`);
    await page.getByRole('link', { name: 'Acme Locks' }).click();
    await page.waitForURL(/\/admin\/t\/acme-locks$/);

    // Create a skill; the secret is shown once; copy the client id like a user pasting into the console.
    await page.getByLabel('Name', { exact: true }).fill('Acme Smart Home');
    await page.getByLabel('Alexa skill ID', { exact: true }).fill('amzn1.ask.skill.dashboard');
    await page.getByLabel('Vendor ID', { exact: true }).fill('M2DASHBOARD');
    await page.getByLabel('Login with Amazon client ID, for AcceptGrant (optional)').fill(LWA_ID);
    await page.getByLabel('Login with Amazon client secret').fill(LWA_SECRET);
    await page.getByRole('button', { name: 'Create skill' }).click();
    const secretBox = page.locator('.secret');
    await page.locator('.secret, p.error').first().waitFor();
    assert.equal(await page.locator('p.error').count(), 0, await page.locator('p.error').allTextContents().then(String));
    const clientSecret = (await secretBox.locator('code[data-label="Client Secret"]').textContent()).trim();
    const clientId = (await secretBox.locator('code[data-label="Your Client ID"]').textContent()).trim();
    assert.ok(clientSecret.length >= 40 && clientId.length > 0);
    await secretBox.getByRole('button', { name: 'Copy Your Client ID' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), clientId);
    // The readiness check runs and says what Alexa would refuse: here the plain-http public URL.
    await page.getByRole('button', { name: 'Check readiness for Alexa' }).click();
    await page.locator('li[data-check]').first().waitFor();
    assert.ok(await page.locator('li[data-check][data-status="fail"]').count() > 0, 'http on loopback is not ready for Alexa');
    await page.screenshot({ path: join(SHOTS, 'dashboard-skills-desktop.png'), fullPage: true });

    // Edit the skill in place: a new name, a second region, a longer token lifetime. The client id stays
    // (no user relinks), the stored messaging secret is kept when its field is left empty, and the
    // change survives a reload.
    const card = page.locator('section.skill', { hasText: 'amzn1.ask.skill.dashboard' });
    await card.getByText('Edit', { exact: true }).click();
    await card.getByLabel('Name', { exact: true }).fill('Acme Smart Home EU');
    await card.getByLabel('Europe').check();
    await card.getByLabel('Access-token lifetime (seconds)').fill('7200');
    await card.getByRole('button', { name: 'Save skill' }).click();
    await page.getByText('Skill Acme Smart Home EU saved.').waitFor();
    await page.reload();
    const edited = page.locator('section.skill', { hasText: 'amzn1.ask.skill.dashboard' });
    await edited.getByText('Acme Smart Home EU').first().waitFor();
    assert.equal((await edited.locator('code[data-label="Your Client ID"]').textContent()).trim(), clientId);
    assert.equal((await edited.locator('code[data-label="Default Access Token Expiration Time"]').textContent()).trim(), '7200');
    assert.match(await edited.locator('h2 .badge').textContent(), /NA EU/);
    await edited.getByText('Edit', { exact: true }).click();
    assert.equal(await edited.getByLabel('Login with Amazon client ID (Alexa Skill Messaging)').inputValue(), LWA_ID);
    await edited.getByText('A secret is stored; leave this empty to keep it.').waitFor();
    // A lifetime Alexa refuses for a smart-home skill is refused with the reason, and nothing changes.
    await edited.getByLabel('Access-token lifetime (seconds)').fill('100');
    await edited.getByRole('button', { name: 'Save skill' }).click();
    await page.getByRole('alert').filter({ hasText: '360' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'dashboard-skill-edit-desktop.png'), fullPage: true });
    await page.reload();
    assert.equal((await page.locator('section.skill code[data-label="Default Access Token Expiration Time"]').first().textContent()).trim(), '7200');
    // Publish to the Alexa console through SMAPI: credentials once for the tenant, then the skill with
    // its client secret; the readiness check then compares the console with Latchkey and finds them equal.
    await page.getByLabel('SMAPI client ID').fill(SMAPI_ID);
    await page.getByLabel('SMAPI client secret').fill(SMAPI_SECRET);
    await page.getByLabel('Refresh token', { exact: true }).fill(SMAPI_REFRESH);
    await page.getByRole('button', { name: 'Save SMAPI credentials' }).click();
    await page.getByText(`SMAPI credentials saved for ${SMAPI_ID}.`).waitFor();
    const publishCard = page.locator('section.skill', { hasText: 'amzn1.ask.skill.dashboard' });
    await publishCard.getByText('Publish to the Alexa console').click();
    await publishCard.getByLabel("The skill client's current secret").fill(clientSecret);
    await publishCard.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Published to the development stage: the console holds what Latchkey expects.').waitFor();
    const published = smapiLinking.get('amzn1.ask.skill.dashboard/development');
    assert.equal(published.clientSecret, clientSecret);
    assert.equal(published.defaultTokenExpirationInSeconds, 7200);
    assert.deepEqual(published.redirectUrls, []);
    await page.getByRole('button', { name: 'Check readiness for Alexa' }).click();
    await page.locator('li[data-check="console"][data-status="pass"]').waitFor();
    await page.locator('li[data-check="auth_scheme"][data-status="pass"]').waitFor();
    await page.reload();
    await page.getByText(`Credentials set for ${SMAPI_ID}.`).waitFor();

    // Back to North America only (dropping a region), where the rest of this journey links.
    const again = page.locator('section.skill', { hasText: 'amzn1.ask.skill.dashboard' });
    await again.getByText('Edit', { exact: true }).click();
    await again.getByLabel('Europe').uncheck();
    await again.getByRole('button', { name: 'Save skill' }).click();
    await page.getByText('Skill Acme Smart Home EU saved.').waitFor();
    assert.equal((await again.locator('h2 .badge').textContent()).trim(), 'smart-home · NA');

    // Create an end user.
    await page.getByRole('link', { name: 'End users' }).click();
    await page.getByLabel('Email', { exact: true }).fill('ada@acme.example');
    await page.getByLabel('Password', { exact: true }).fill('ada password 123');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByText('ada@acme.example added.').waitFor();
    await page.getByRole('cell', { name: 'ada@acme.example', exact: true }).waitFor();

    // The password policy: a user's own reset may keep their Alexa links; the choice persists.
    await page.getByLabel("Alexa links after a user's own reset").selectOption('keep');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved: a user\'s own reset ends their browser sessions and keeps their Alexa links.').waitFor();
    await page.reload();
    assert.equal(await page.getByLabel("Alexa links after a user's own reset").inputValue(), 'keep');
    await page.getByLabel("Alexa links after a user's own reset").selectOption('end');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved: a user\'s own reset ends their browser sessions and their Alexa links.').waitFor();

    // Run the simulator: every step green up to the refresh.
    await page.getByRole('link', { name: 'Skills' }).click();
    await page.getByLabel('Skill (ID or Alexa skill ID)').fill('amzn1.ask.skill.dashboard');
    await page.getByLabel("End user's email").fill('ada@acme.example');
    await page.getByLabel("End user's password").fill('ada password 123');
    await page.getByLabel('Client secret', { exact: true }).fill(clientSecret);
    await page.getByRole('button', { name: 'Run the simulation' }).click();
    await page.locator('li[data-step="refresh"][data-ok="true"]').waitFor();
    await page.screenshot({ path: join(SHOTS, 'dashboard-simulator-desktop.png'), fullPage: true });

    // Link as Alexa would, in another browser, to hold a refresh token of our own; then a second Alexa
    // account of the household (another phone) links the same account, with its own grant.
    const redirectUri = 'https://pitangui.amazon.com/api/skill/link/M2DASHBOARD';
    const linkAsAlexa = async (state) => {
      const alexa = await browser.newPage();
      let redirect = null;
      await alexa.route('https://pitangui.amazon.com/**', (route) => {
        redirect = route.request().url();
        return route.fulfill({ status: 200, contentType: 'text/plain', body: 'back in the Alexa app' });
      });
      await alexa.goto(`${base}/t/acme-locks/oauth2/authorize?` + new URLSearchParams({
        response_type: 'code', client_id: clientId, state, scope: 'openid profile', redirect_uri: redirectUri }));
      await alexa.getByLabel('Email').fill('ada@acme.example');
      await alexa.getByLabel('Password').fill('ada password 123');
      await alexa.getByRole('button', { name: 'Sign in' }).click();
      await alexa.waitForLoadState();
      // Consent was given during the simulation and is remembered per link; ask only if shown.
      if (!redirect && await alexa.getByRole('button', { name: 'Allow' }).isVisible()) {
        await alexa.getByRole('button', { name: 'Allow' }).click();
      }
      await alexa.waitForURL(/^https:\/\/pitangui\.amazon\.com\//);
      await alexa.close();
      assert.equal(new URL(redirect).searchParams.get('state'), state);
      return new URL(redirect).searchParams.get('code');
    };
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    const token = (params) => fetch(`${base}/t/acme-locks/oauth2/token`, {
      method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params) });
    const code = await linkAsAlexa('s1');
    const tokens = await (await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri })).json();
    assert.ok(tokens.refresh_token);
    const code2 = await linkAsAlexa('s2');
    const tokens2 = await (await token({ grant_type: 'authorization_code', code: code2, redirect_uri: redirectUri })).json();
    assert.ok(tokens2.refresh_token);
    // Each Alexa account sends AcceptGrant through the skill backend, with Amazon's message verbatim.
    const apiKey = cli(['apikey', 'create', '--tenant', 'acme-locks', '--name', 'lambda']).key;
    for (const [i, t] of [tokens, tokens2].entries()) {
      const r = await fetch(`${base}/t/acme-locks/alexa/directives`, {
        method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ directive: {
          header: { namespace: 'Alexa.Authorization', name: 'AcceptGrant', messageId: `5f8a426e-01e4-4cc9-8b79-65f8bd0fd8a${i}`, payloadVersion: '3' },
          payload: { grant: { type: 'OAuth2.AuthorizationCode', code: `ANUbUKCJqlBOpMhw${i}` },
            grantee: { type: 'BearerToken', token: t.access_token } } } }) });
      const answer = await r.json();
      assert.equal(answer.event?.header?.name, 'AcceptGrant.Response', JSON.stringify(answer));
    }
    assert.equal(lwaExchanges, 2);

    // The skill backend hands over a state report; it reaches both Alexa accounts, and the skill's
    // card counts it.
    const sent = await fetch(`${base}/t/acme-locks/alexa/events`, {
      method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: (await (await fetch(`${base}/t/acme-locks/oauth2/userinfo`, {
        headers: { authorization: `Bearer ${tokens.access_token}` } })).json()).sub, skill: 'amzn1.ask.skill.dashboard',
      event: { header: { namespace: 'Alexa', name: 'ChangeReport', messageId: 'dash-1', payloadVersion: '3' },
        endpoint: { endpointId: 'lock-1' }, payload: { change: { cause: { type: 'PHYSICAL_INTERACTION' }, properties: [] } } } }) });
    assert.equal(sent.status, 202);
    await page.getByRole('link', { name: 'Skills' }).click();
    for (let i = 0; i < 50 && !(await page.locator('p.events[data-delivered="2"]').count()); i++) {
      await new Promise((r) => setTimeout(r, 200));
      await page.reload();
    }
    await page.locator('p.events[data-delivered="2"]').waitFor();
    assert.equal(gatewayEvents, 2);

    // See the linked account with its two Alexa accounts; unlink one, then revoke the link; the old
    // refresh tokens stop working.
    await page.getByRole('link', { name: 'Linked accounts' }).click();
    const row = page.locator('tr', { hasText: 'ada@acme.example' });
    await row.locator('.link-status', { hasText: 'active' }).waitFor();
    const grants = row.locator('li[data-grant]');
    assert.equal(await grants.count(), 2);
    for (const g of await grants.all()) {
      const text = await g.textContent();
      assert.match(text, /^active NA · linked .* · Amazon token refreshed never · last event accepted \(/, text);
    }
    await grants.first().getByRole('button', { name: 'Unlink this Alexa account' }).click();
    await page.getByText('Alexa account unlinked').waitFor();
    await grants.first().locator('.grant-status', { hasText: 'revoked' }).waitFor();
    assert.equal(await grants.nth(1).locator('.grant-status').textContent(), 'active');
    await row.locator('.link-status', { hasText: 'active' }).waitFor();
    const first = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(first.status, 400, 'the unlinked Alexa account\'s grant is revoked');
    const second = await token({ grant_type: 'refresh_token', refresh_token: tokens2.refresh_token });
    assert.equal(second.status, 200, 'the other Alexa account keeps its grant');
    const tokens2b = await second.json();
    await page.screenshot({ path: join(SHOTS, 'dashboard-links-desktop.png'), fullPage: true });

    // Rotate the skill client's secret with the default grace period: the page says until when the old
    // one works, and both authenticate meanwhile (invalid_grant, not invalid_client, for a made-up
    // refresh token), so Alexa's hourly refreshes survive until the console has the new one.
    await page.getByRole('link', { name: 'OAuth clients' }).click();
    const clientCard = page.locator('section.card', { hasText: clientId });
    // The client's ID-token algorithm: RS256 unless chosen; saved, it is what the page shows after a reload.
    const idAlg = clientCard.getByLabel('ID-token signing algorithm');
    assert.equal(await idAlg.inputValue(), 'RS256');
    await idAlg.selectOption('ES256');
    await clientCard.getByRole('button', { name: 'Save' }).click();
    await clientCard.getByText(/saved/).waitFor();
    await page.reload();
    assert.equal(await page.locator('section.card', { hasText: clientId }).getByLabel('ID-token signing algorithm').inputValue(), 'ES256');
    await clientCard.getByRole('button', { name: 'Rotate the client secret' }).click();
    const rotatedBox = clientCard.locator('.secret');
    await rotatedBox.getByText(/The old one keeps working until \d{4}-\d\d-\d\d \d\d:\d\d UTC/).waitFor();
    const newSecret = (await rotatedBox.locator('code[data-label="Client Secret"]').textContent()).trim();
    assert.ok(newSecret.length >= 40 && newSecret !== clientSecret);
    await page.reload();
    await page.locator('section.card', { hasText: clientId }).locator('p.grace').waitFor();
    await page.screenshot({ path: join(SHOTS, 'dashboard-client-rotation-desktop.png'), fullPage: true });
    const authWith = async (secret) => (await (await fetch(`${base}/t/acme-locks/oauth2/token`, {
      method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'made-up' }) })).json()).error;
    assert.equal(await authWith(clientSecret), 'invalid_grant', 'the old secret works during the grace period');
    assert.equal(await authWith(newSecret), 'invalid_grant', 'the new secret works');
    assert.equal(await authWith('not-the-secret'), 'invalid_client');
    await page.getByRole('link', { name: 'Linked accounts' }).click();

    // Filtered by the skill, the link is still there.
    await page.getByLabel('Skill', { exact: true }).selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/skill=/);
    await row.locator('.link-status', { hasText: 'active' }).waitFor();
    await row.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.getByText('Link revoked').waitFor();
    await row.locator('.link-status', { hasText: 'revoked' }).waitFor();
    const after = await token({ grant_type: 'refresh_token', refresh_token: tokens2b.refresh_token });
    assert.equal(after.status, 400);
    assert.equal((await after.json()).error, 'invalid_grant');

    // The audit log shows who did it.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('cell', { name: 'link.revoked' }).waitFor();
    assert.ok(await page.getByRole('cell', { name: `account:${owner}` }).first().isVisible());

    // Another tenant is invisible to this member, through the UI and through the API with the session.
    cli(['tenant', 'create', '--slug', 'globex', '--name', 'Globex']);
    await page.goto(`${base}/admin/t/globex`);
    await page.getByText('tenant \'globex\' not found').waitFor();
    const status = await page.evaluate(async () => (await fetch('/t/globex/api/v1/skills')).status);
    assert.equal(status, 404);
    const own = await page.evaluate(async () => (await fetch('/t/acme-locks/api/v1/skills')).status);
    assert.equal(own, 200);

    // An upstream provider: add it, test the connection (Globex's discovery and keys), edit its label.
    await page.goto(`${base}/admin/t/acme-locks/providers`);
    await page.getByLabel('Short name (in URLs)').fill('globex');
    await page.getByLabel('Button label', { exact: true }).fill('Globex SSO');
    await page.getByLabel('Issuer URL', { exact: true }).fill(`${base}/t/globex`);
    await page.getByLabel('Client ID', { exact: true }).fill('some-client');
    await page.getByLabel('Client secret', { exact: true }).fill('some-secret');
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByText('Provider added.').waitFor();
    await page.getByRole('button', { name: 'Test the connection' }).click();
    await page.getByText('discovery loaded').waitFor();
    await page.getByText('Edit', { exact: true }).click();
    await page.locator('#e-name-globex').fill('Globex Login');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Globex Login saved.').waitFor();

    // Invite a viewer from the Members page; they accept from the mail and can read but not change.
    await page.goto(`${base}/admin/t/acme-locks/members`);
    await page.getByLabel('Email', { exact: true }).fill('vera@acme.example');
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText('Invitation sent to vera@acme.example').waitFor();
    const viewerCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const vp = await viewerCtx.newPage();
    await vp.goto(mailedLink('vera@acme.example', '/invitation'));
    await vp.getByText('vera@acme.example is invited to acme-locks as viewer').waitFor();
    await vp.getByLabel('Choose a password').fill('vera password 123');
    await vp.getByRole('button', { name: 'Accept the invitation' }).click();
    await vp.getByText('You joined as viewer').waitFor();
    await vp.goto(`${base}/admin/login`);
    await vp.getByLabel('Email').fill('vera@acme.example');
    await vp.getByLabel('Password').fill('vera password 123');
    await vp.getByRole('button', { name: 'Sign in' }).click();
    await vp.waitForURL(`${base}/admin`);
    await vp.goto(`${base}/admin/t/acme-locks/users`);
    await vp.getByRole('cell', { name: 'ada@acme.example', exact: true }).waitFor();
    await vp.getByLabel('Email', { exact: true }).fill('mallory@acme.example');
    await vp.getByLabel('Password', { exact: true }).fill('mallory password 1');
    await vp.getByRole('button', { name: 'Add user' }).click();
    await vp.getByText('the viewer role cannot change this tenant').waitFor();
    assert.equal(await vp.getByRole('cell', { name: 'mallory@acme.example', exact: true }).count(), 0);
    await viewerCtx.close();

    // An end user invited by mail chooses a password on the tenant's own page.
    await page.goto(`${base}/admin/t/acme-locks/users`);
    await page.getByLabel('Invitee email').fill('grace@acme.example');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText('Invitation mailed to grace@acme.example.').waitFor();
    const gp = await context.newPage();
    await gp.goto(mailedLink('grace@acme.example', '/password', '/t/acme-locks'));
    await gp.getByLabel('New password').fill('grace password 123');
    await gp.getByRole('button', { name: 'Set password' }).click();
    await gp.getByText('Your password is set').waitFor();
    await gp.close();

    // Without JavaScript the forms still work, and a key shown once is on the page the form leads to.
    const nojs = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: false,
      storageState: await context.storageState() });
    const np = await nojs.newPage();
    await np.goto(`${base}/admin/t/acme-locks/api-keys`);
    await np.getByLabel('Name', { exact: true }).fill('no-js backend');
    await np.getByRole('button', { name: 'Create key' }).click();
    const shown = np.locator('code[data-label="API key"]');
    await shown.waitFor();
    const key = (await shown.textContent()).trim();
    const check = await fetch(`${base}/t/acme-locks/api/v1/skills`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(check.status, 200, 'the key shown without JavaScript works');
    // The whole page is rendered on the server: the list is there, no placeholder waits for a script.
    await np.getByRole('cell', { name: 'no-js backend', exact: true }).waitFor();
    assert.equal(await np.getByText('Loading…').count(), 0, 'no loading placeholder without JavaScript');
    await np.screenshot({ path: join(SHOTS, 'dashboard-api-key-nojs-desktop.png'), fullPage: true });
    await np.reload();
    await np.getByRole('heading', { name: 'Create a key' }).waitFor();
    assert.equal(await np.locator('code[data-label="API key"]').count(), 0, 'shown only once');
    await nojs.close();

    // The configuration pages render for the owner.
    for (const [name, path] of [['clients', 'clients'], ['providers', 'providers'], ['branding', 'branding'],
      ['api-keys', 'api-keys'], ['members', 'members'], ['audit', 'audit'], ['users', 'users']]) {
      await page.goto(`${base}/admin/t/acme-locks/${path}`);
      await page.waitForLoadState('networkidle');
      assert.equal(await page.locator('p.error').count(), 0, `${name}: ${await page.locator('p.error').allTextContents()}`);
      await page.screenshot({ path: join(SHOTS, `dashboard-${name}-desktop.png`), fullPage: true });
    }

    // The access-token algorithm changes by rotating the signing keys; discovery lists every algorithm
    // (RS256 first, as OpenID Connect Discovery requires) before and after.
    await page.goto(`${base}/admin/t/acme-locks/api-keys`);
    await page.waitForLoadState('networkidle');
    const discBefore = await (await fetch(`${base}/t/acme-locks/.well-known/openid-configuration`)).json();
    assert.deepEqual(discBefore.id_token_signing_alg_values_supported, ['RS256', 'ES256', 'EdDSA']);
    await page.getByLabel('Access-token signing algorithm').selectOption('ES256');
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByText(/Access tokens are signed with ES256 key/).waitFor();
    const signer = page.getByRole('row').filter({ hasText: 'access tokens and the ID tokens' });
    await signer.getByRole('cell', { name: 'ES256', exact: true }).waitFor();
    const disc = await (await fetch(`${base}/t/acme-locks/.well-known/openid-configuration`)).json();
    assert.deepEqual(disc.id_token_signing_alg_values_supported, ['RS256', 'ES256', 'EdDSA']);
    const jwks = await (await fetch(`${base}/t/acme-locks/.well-known/jwks.json`)).json();
    assert.deepEqual(jwks.keys.map((k) => k.alg), ['ES256', 'EdDSA', 'RS256', 'ES256', 'EdDSA', 'RS256'],
      'a new key of each algorithm, and the outgoing ones stay published');

    // Phone size.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
      storageState: await context.storageState() });
    const p2 = await phone.newPage();
    for (const [name, path] of [['skills', '/admin/t/acme-locks'], ['links', '/admin/t/acme-locks/links'], ['home', '/admin'],
      ['clients', '/admin/t/acme-locks/clients'], ['branding', '/admin/t/acme-locks/branding']]) {
      await p2.goto(`${base}${path}`);
      await p2.waitForLoadState('networkidle');
      await p2.screenshot({ path: join(SHOTS, `dashboard-${name}-phone.png`), fullPage: true });
    }
    await p2.goto(`${base}/admin/signup`);
    await p2.screenshot({ path: join(SHOTS, 'dashboard-signup-phone.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
