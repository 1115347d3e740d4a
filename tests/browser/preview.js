#!/usr/bin/env node
// Drives `rapport preview` in Debian's Chromium, for tests/test_preview.py.
//
// Usage: node preview.js URL EXPECTED TIMEOUT_MS
// Opens URL (a page served by the preview on 127.0.0.1), prints "PRET" once it is loaded, then waits,
// without any reload of its own, until the page's text contains EXPECTED (the preview reloads the page
// by itself after a rebuild), and prints "VU <ms> <reloads>". Exit 1 on timeout.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function main() {
  const [url, expected, timeoutArg] = process.argv.slice(2);
  const timeout = Number(timeoutArg || 90000);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-chromium-apercu-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, locale: 'fr-FR', timeout: 60000,
  });
  let reloads = 0;
  try {
    const page = await context.newPage();
    page.on('load', () => { reloads += 1; });
    await page.goto(url, { waitUntil: 'load' });
    reloads = 0;
    console.log('PRET');
    const t0 = Date.now();
    await page.waitForFunction((text) => document.body && document.body.innerText.includes(text), expected,
      { timeout, polling: 200 });
    console.log(`VU ${Date.now() - t0} ${reloads}`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(String(err)); process.exit(1); });
