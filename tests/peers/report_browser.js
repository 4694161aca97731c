// Opens a Verity HTML model report (verity report ... -o FILE) from a file:// URL in Debian's
// Chromium, headless, and checks it the way a reader would see it: no console error (a blocked
// script or a Content-Security-Policy violation is one), no request other than file:// (and the
// page's own data:), no dialog (an injected alert), every visible chart drawn (its canvas not
// blank), the heatmap holding classes x classes cells; then saves a full-page screenshot.
//
// usage: node report_browser.js --report FILE --screenshot PNG [--chromium PATH]
// Prints one JSON line ({"ok":..., ...}); exits 0 when every check passed, 1 otherwise.
'use strict';
const path = require('path');
const puppeteer = require('puppeteer-core');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main() {
  const report = path.resolve(arg('report'));
  const screenshot = path.resolve(arg('screenshot'));
  const problems = [];
  const browser = await puppeteer.launch({
    executablePath: arg('chromium', '/usr/bin/chromium'),
    headless: true,
    // Root in a container has no user namespace for the sandbox; the page is our own file.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--metrics-recording-only', '--no-default-browser-check'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    const requests = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push('console ' + m.type() + ': ' + m.text());
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('dialog', async (d) => {
      problems.push('dialog: ' + d.message());
      await d.dismiss();
    });
    page.on('request', (r) => {
      requests.push(r.url());
      if (!r.url().startsWith('file://') && !r.url().startsWith('data:')) {
        problems.push('request to ' + r.url());
      }
    });
    page.on('requestfailed', (r) => problems.push('request failed: ' + r.url()));
    await page.goto('file://' + report, { waitUntil: 'load' });
    await page.waitForFunction(() => window.verityReport && window.verityReport.ready, { timeout: 20000 });
    const result = await page.evaluate(() => {
      const data = JSON.parse(document.getElementById('verity-data').textContent);
      const canvases = [];
      for (const c of document.querySelectorAll('canvas')) {
        if (c.offsetParent === null) continue;  // a hidden section: no data for it
        const ctx = c.getContext('2d');
        const pixels = ctx.getImageData(0, 0, c.width, c.height).data;
        let drawn = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) drawn++;
        canvases.push({ id: c.id, width: c.width, height: c.height, drawn });
      }
      const cm = (data.report || {}).confusion_matrix;
      const heat = window.Chart.getChart('confusion');
      return {
        model: data.model,
        charts: window.verityReport.charts,
        canvases,
        classes: cm ? cm.labels.length : 0,
        heatmap_cells: heat ? heat.getDatasetMeta(0).data.length : 0,
        metrics_rows: document.querySelectorAll('#metrics tbody tr').length,
        metrics: Object.keys((data.report || {}).metrics || {}).length,
        feature_rows: document.querySelectorAll('#features tbody tr').length,
        features: ((data.report || {}).features || []).length,
        title: document.title,
      };
    });
    for (const c of result.canvases) {
      if (c.width === 0 || c.height === 0 || c.drawn === 0) problems.push('blank chart: ' + c.id);
    }
    if (result.canvases.length !== result.charts) {
      problems.push(`${result.charts} charts made, ${result.canvases.length} visible canvases`);
    }
    if (result.heatmap_cells !== result.classes * result.classes) {
      problems.push(`heatmap: ${result.heatmap_cells} cells for ${result.classes} classes`);
    }
    if (result.metrics_rows < result.metrics) problems.push('metrics table shorter than the report');
    if (result.feature_rows !== result.features) problems.push('feature table differs from the report');
    await page.screenshot({ path: screenshot, fullPage: true });
    result.requests = requests.length;
    result.screenshot = screenshot;
    result.problems = problems;
    result.ok = problems.length === 0;
    console.log(JSON.stringify(result));
    process.exitCode = result.ok ? 0 : 1;
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, problems: ['driver: ' + (e && e.stack || e)] }));
  process.exitCode = 1;
});
