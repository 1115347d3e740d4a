#!/usr/bin/env node
// Browser checks of self-contained HTML pages, driven by tests/test_browser.py.
//
// Usage: node check-pages.js FILE.html [FILE.html ...]
// For each file: launches Debian's Chromium (headless, fresh empty profile, network cut), opens the file,
// records every request, console message and page error, collects a few DOM facts, then runs axe-core
// in the page. Prints one JSON document on stdout: {"chromium": "...", "pages": [{...}, ...]}.
// A page that cannot be checked gets an "error" field; the exit code is non-zero only when the
// harness itself is broken (bad arguments, JSON not written).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { pathToFileURL } = require('url');
const { chromium } = require('playwright-core');

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Network cut, first layer: no host name resolves (no DNS query leaves the browser).
  '--host-resolver-rules=MAP * ~NOTFOUND',
];
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const TIMEOUT_MS = 60000;

function allowed(url, pageUrl) {
  return url === pageUrl || url.startsWith('data:');
}

async function checkPage(file) {
  const pageUrl = pathToFileURL(path.resolve(file)).href;
  const result = { file, url: pageUrl, requests: [], console: [], pageErrors: [] };
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-chromium-profile-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      // Second layer: DevTools network emulation says "offline" to every http(s) request.
      offline: true,
      serviceWorkers: 'block',
      acceptDownloads: false,
      // Only so that the injected axe-core script runs whatever Content-Security-Policy the page declares.
      bypassCSP: true,
      locale: 'fr-FR',
      viewport: { width: 1280, height: 900 },
      timeout: TIMEOUT_MS,
    });
    context.setDefaultTimeout(TIMEOUT_MS);
    result.browserVersion = context.browser() ? context.browser().version() : null;

    // Every request of every page and frame of the context is recorded, whatever its scheme.
    context.on('request', (req) => {
      result.requests.push({ url: req.url(), method: req.method(), type: req.resourceType() });
    });
    // Third layer: anything but the page itself and data: URIs is aborted before it reaches the network.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      return allowed(url, pageUrl) ? route.continue() : route.abort('blockedbyclient');
    });
    context.on('page', (p) => result.requests.push({ url: 'popup: ' + p.url(), method: '', type: 'page' }));

    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (msg) => {
      const loc = msg.location();
      result.console.push({ type: msg.type(), text: msg.text(), location: loc ? `${loc.url}:${loc.lineNumber}` : '' });
    });
    page.on('pageerror', (err) => result.pageErrors.push(String(err && err.stack ? err.stack : err)));
    page.on('crash', () => result.pageErrors.push('page crashed'));
    page.on('websocket', (ws) => result.requests.push({ url: ws.url(), method: 'GET', type: 'websocket' }));

    const response = await page.goto(pageUrl, { waitUntil: 'load' });
    result.status = response ? response.status() : null;

    // Scroll through the whole page so that lazy images and late resources get requested, then render it
    // once for print (print-only stylesheets, fonts and images), and give late requests time to show.
    await page.evaluate(async () => {
      const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
      for (let y = 0; y < document.documentElement.scrollHeight; y += window.innerHeight) {
        window.scrollTo(0, y);
        await frame();
      }
      window.scrollTo(0, 0);
      await frame();
    });
    await page.emulateMedia({ media: 'print' });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())));
    await page.emulateMedia({ media: 'screen' });
    await page.waitForTimeout(300);

    result.dom = await page.evaluate(() => {
      const text = (el) => (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 80);
      const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]')].map((h) => {
        const aria = h.getAttribute('aria-level');
        const level = aria ? Number(aria) : /^H[1-6]$/.test(h.tagName) ? Number(h.tagName[1]) : 2;
        return { tag: h.tagName.toLowerCase(), level, id: h.id, text: text(h) };
      });
      const images = [...document.querySelectorAll('img')].map((img) => ({
        src: (img.getAttribute('src') || '').slice(0, 80),
        alt: img.getAttribute('alt'),
        id: img.id,
      }));
      const tables = [...document.querySelectorAll('table')].map((t, index) => ({
        index,
        id: t.id,
        caption: t.caption ? text(t.caption) : '',
        th: t.querySelectorAll('th').length,
        rows: t.rows.length,
      }));
      // Connection hints open sockets without any request event: report them as requests.
      const hints = [...document.querySelectorAll('link[rel]')]
        .filter((l) => /(^|\s)(preconnect|dns-prefetch)(\s|$)/i.test(l.rel))
        .map((l) => l.href);
      return {
        lang: document.documentElement.getAttribute('lang'),
        title: document.title,
        headings,
        images,
        tables,
        hints,
      };
    });

    // A phone and a desk: horizontal overflow at 390 px, the scale of the charts (their smallest text is
    // 7 pt at 200 dpi: shown at 57 % of their natural width or more, it stays at 11 px or more), the
    // position of the contents; a screenshot of the whole page at each width when SHOTS_DIR is set.
    result.layout = {};
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())));
      result.layout[width] = await page.evaluate(() => {
        const vw = document.documentElement.clientWidth;
        const scrollers = (el) => {
          for (let p = el.parentElement; p; p = p.parentElement) {
            const o = getComputedStyle(p).overflowX;
            if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
          }
          return false;
        };
        const overflowing = [...document.body.querySelectorAll('*')]
          .filter((el) => {
            const r = el.getBoundingClientRect();
            return r.width > 0 && (r.right > vw + 1 || r.left < -1) && !scrollers(el) &&
              getComputedStyle(el).position !== 'fixed';
          })
          .slice(0, 10)
          .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)`);
        const charts = [...document.querySelectorAll('figure.figure img')].map((img) => ({
          id: img.closest('figure').id,
          scale: img.naturalWidth ? img.getBoundingClientRect().width / img.naturalWidth : 0,
        }));
        const toc = document.querySelector('nav.sommaire');
        return {
          viewport: vw,
          scrollWidth: document.documentElement.scrollWidth,
          overflowing,
          charts,
          tocPosition: toc ? getComputedStyle(toc).position : null,
          current: [...document.querySelectorAll('nav.chapitres a[aria-current="page"]')].map((a) => a.textContent),
          prev: !!document.querySelector('nav.suite a[rel="prev"]'),
          next: !!document.querySelector('nav.suite a[rel="next"]'),
          annexLink: [...document.querySelectorAll('a[href]')].some((a) => /#annexe-/.test(a.getAttribute('href'))),
          backToTop: !!document.querySelector('a[href="#haut"]') && !!document.getElementById('haut'),
        };
      });
      if (process.env.SHOTS_DIR) {
        fs.mkdirSync(process.env.SHOTS_DIR, { recursive: true });
        const shot = path.join(process.env.SHOTS_DIR, `${path.basename(file, '.html')}-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        result.layout[width].screenshot = shot;
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.addScriptTag({ content: AXE_SOURCE });
    result.axe = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations', 'incomplete'] });
      const slim = (items) =>
        items.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          helpUrl: v.helpUrl,
          nodes: v.nodes.map((n) => ({
            target: n.target,
            impact: n.impact,
            html: n.html.slice(0, 300),
            summary: n.failureSummary || '',
          })),
        }));
      return {
        version: window.axe.version,
        violations: slim(r.violations),
        incomplete: slim(r.incomplete),
        passes: r.passes.map((p) => p.id),
        inapplicable: r.inapplicable.length,
      };
    });
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return result;
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node check-pages.js FILE.html [FILE.html ...]\n');
    process.exit(2);
  }
  const pages = [];
  for (const file of files) {
    const started = Date.now();
    const r = await checkPage(file);
    r.seconds = (Date.now() - started) / 1000;
    pages.push(r);
  }
  process.stdout.write(JSON.stringify({ chromium: CHROMIUM, pages }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
