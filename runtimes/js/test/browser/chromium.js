// Headless Debian Chromium through playwright-core, for the browser tests.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** A persistent headless context; the caller closes it. Throws (never skips) without chromium or playwright-core. */
export async function chromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: install Debian's chromium package (or set CHROMIUM=/path)`);
  let pw;
  try { pw = await import('playwright-core'); } catch { throw new Error('playwright-core is missing: run `npm install` in runtimes/js'); }
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tessera-chromium-'));
  return pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
