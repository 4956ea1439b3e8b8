// What the browser tests share: a Latchkey server of their own (the binary LATCHKEY_BIN, a fresh data
// directory, a free loopback port) with its CLI, and Debian's Chromium, headless.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Starts `latchkey serve` and waits for /readyz. `cli(args, stdin)` runs a CLI command against the same
// data directory and returns its JSON; `stop()` ends the server and removes its data.
export async function startLatchkey(name) {
  const bin = process.env.LATCHKEY_BIN;
  assert.ok(bin, 'LATCHKEY_BIN must point at the latchkey binary');
  const dataDir = mkdtempSync(join(tmpdir(), `latchkey-${name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH, LATCHKEY_DATA_DIR: dataDir, LATCHKEY_PUBLIC_URL: base, RUST_LOG: 'warn' };
  const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`], { env, stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cli = (args, input) =>
    JSON.parse(execFileSync(bin, [...args, '--json'], { env, input, encoding: 'utf8' }).trim());
  const stop = () => {
    server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, cli, stop };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
