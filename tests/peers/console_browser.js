// Drives Verity's audit console (GET /ui/) in Debian's Chromium, headless, against a live server,
// the way a user would: a token typed into the token field, a search typed and submitted with
// Enter, pages turned (and back/forward), both exports (and one cancelled), a prediction opened (its values compared
// with the API's, its explanation chart drawn), the partition verified (refused with the read role,
// done with the admin role), a model page (numbers compared with /curves), the audit trails and a
// KQL error with its position. Throughout: no console error but the API's expected 4xx answers, no
// dialog, no request that leaves the server's origin, and no script from the stored documents
// running (their payloads would set window.__pwned). Screenshots go to --artifacts.
//
// usage: node console_browser.js --url http://127.0.0.1:PORT --read-token T --admin-token T
//          --model M --where KQL --labelled ID --hostile ID --artifacts DIR [--chromium PATH]
// Prints one JSON line ({"ok":..., "problems":[...], ...}); exits 0 when every check passed.
'use strict';
const path = require('path');
const puppeteer = require('puppeteer-core');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const base = arg('url');
const readToken = arg('read-token');
const adminToken = arg('admin-token');
const model = arg('model');
const where = arg('where');
const labelled = arg('labelled');
const hostile = arg('hostile');
const artifacts = path.resolve(arg('artifacts', '.'));
const problems = [];
const facts = {};
const check = (ok, what) => { if (!ok) problems.push(what); return ok; };

async function api(p, token, method) {
  const r = await fetch(base + p, { method: method || 'GET', headers: { Authorization: 'Bearer ' + token } });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}
// The console's way of showing numbers and times (ui/report/charts.js, ui/console/console.js).
const num = (x) => {
  if (x === null || x === undefined) return '';
  if (typeof x !== 'number') return String(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  return Number(x.toPrecision(6)).toString();
};
const utc = (iso) => iso.replace('T', ' ').replace(/Z$/, '') + ' UTC';
// Every leaf of a JSON value with its JSON pointer and the text the console shows for it.
function leaves(v, p, out) {
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Array.isArray(v) ? v.map((y, i) => [i, y]) : Object.entries(v)) {
      leaves(x, p + '/' + String(k).replace(/~/g, '~0').replace(/\//g, '~1'), out);
    }
  } else {
    out.push([p, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return out;
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: arg('chromium', '/usr/bin/chromium'),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--metrics-recording-only', '--no-default-browser-check'],
  });
  const expected4xx = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    let requests = 0;
    page.on('console', (m) => {
      const text = m.text();
      // The browser logs every 4xx answer the console asked for; those the steps expect are counted.
      if (m.type() === 'error' && /^Failed to load resource: the server responded with a status of (400|401|403) /.test(text)) {
        expected4xx.push(text.match(/status of (\d+)/)[1]);
        return;
      }
      // Reading pixels back (the checks below) makes Chromium suggest willReadFrequently.
      if (text.startsWith('Canvas2D: Multiple readback operations')) return;
      if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning') problems.push('console ' + m.type() + ': ' + text);
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('dialog', async (d) => { problems.push('dialog: ' + d.message()); await d.dismiss(); });
    page.on('request', (r) => {
      requests++;
      const u = r.url();
      if (!u.startsWith(base + '/') && !u.startsWith('data:') && !u.startsWith('blob:' + base + '/')) problems.push('request to ' + u);
    });
    page.on('response', (r) => { if (r.status() === 404) problems.push('404 for ' + r.url()); });
    // The export's request that Cancel aborts (step 5) fails, as it should: that one request, with
    // ERR_ABORTED, whenever Chromium reports it (the report may come after the page has moved on).
    let cancelled = null;
    let cancelledFailed = null;
    const cancelledFailure = new Promise((ok) => { cancelledFailed = ok; });
    page.on('requestfailed', (r) => {
      const why = (r.failure() || {}).errorText;
      if (r === cancelled && why === 'net::ERR_ABORTED') { cancelledFailed(why); return; }
      problems.push('request failed: ' + r.url() + ' ' + why);
    });
    const html = (sel) => page.$eval(sel, (e) => e.textContent);
    // Marks the view stale, acts, then waits until the console has drawn `view` again.
    async function act(view, action) {
      await page.evaluate(() => { document.documentElement.dataset.ready = 'stale'; });
      await action();
      await page.waitForFunction((v) => document.documentElement.dataset.ready === 'true' && document.documentElement.dataset.view === v, { timeout: 30000 }, view);
    }
    const go = (view, hash) => act(view, () => page.evaluate((h) => { location.hash = h; }, hash));
    const shot = (name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });
    const visibleCanvases = () => page.evaluate(() => [...document.querySelectorAll('canvas')].filter((c) => c.offsetParent !== null).map((c) => {
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let drawn = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) drawn++;
      return { id: c.id, drawn };
    }));

    // 1. The page loads without credentials (it holds no data); the API asks for them.
    const response = await page.goto(base + '/ui/', { waitUntil: 'load' });
    check(response.status() === 200, 'GET /ui/ answered ' + response.status());
    check((response.headers()['content-security-policy'] || '').startsWith("default-src 'none'"), 'no CSP header on /ui/');
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', { timeout: 20000 });
    // 2. The token, typed and submitted with Enter.
    await page.focus('#token');
    await page.keyboard.type(readToken);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('token-state').textContent.startsWith('token set'));
    check(await page.evaluate(() => sessionStorage.getItem('verity.token') !== null), 'token not in sessionStorage');
    // Tab order follows the form.
    await page.focus('#s-model');
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement.id) === 's-version', 'Tab from model does not reach version');

    // 3. A search: typed, Enter in the query box.
    await page.focus('#s-model');
    await page.keyboard.type(model);
    await page.select('#s-limit', '25');
    await act('search', async () => {
      await page.focus('#s-where');
      await page.keyboard.type(where);
      await page.keyboard.press('Enter');
    });
    const hash = await page.evaluate(() => location.hash);
    check(hash.includes('model=' + encodeURIComponent(model)) && hash.includes('where='), 'the URL does not hold the search: ' + hash);
    const rows = () => page.$$eval('#s-results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    const q = 'model=' + encodeURIComponent(model) + '&where=' + encodeURIComponent(where) + '&limit=25&format=json';
    const page1 = await api('/v1/predictions?' + q, readToken);
    const shown1 = await rows();
    check(JSON.stringify(shown1.map((r) => r[0])) === JSON.stringify(page1.json.hits.map((h) => h.request_id)), 'page 1 ids differ from the API');
    check(shown1.every((r, i) => r[1] === utc(page1.json.hits[i].timestamp)), 'page 1 times differ from the API (UTC)');
    facts.page1 = shown1.length;
    await shot('console-search.png');
    // 4. The next page through the cursor; back and forward.
    await act('search', () => page.click('#s-next'));
    const page2 = await api('/v1/predictions?' + q + '&cursor=' + encodeURIComponent(page1.json.next_cursor), readToken);
    const shown2 = await rows();
    check(shown2.length > 0 && JSON.stringify(shown2.map((r) => r[0])) === JSON.stringify(page2.json.hits.map((h) => h.request_id)), 'page 2 differs from the API');
    check((await page.evaluate(() => location.hash)).includes('cursor='), 'the page\'s cursor is not in the URL');
    await act('search', () => page.goBack());
    check(JSON.stringify((await rows()).map((r) => r[0])) === JSON.stringify(shown1.map((r) => r[0])), 'back does not show page 1');
    await act('search', () => page.goForward());
    check(JSON.stringify((await rows()).map((r) => r[0])) === JSON.stringify(shown2.map((r) => r[0])), 'forward does not show page 2');
    // 5. The exports: every page through the cursor, as one file.
    let total = 0;
    const allIds = [];
    for (let cursor = ''; ;) {
      const r = await api('/v1/predictions?model=' + encodeURIComponent(model) + '&where=' + encodeURIComponent(where) + '&limit=max&format=json' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), readToken);
      total += r.json.hits.length;
      for (const h of r.json.hits) allIds.push(h.request_id);
      if (!r.json.next_cursor) break;
      cursor = r.json.next_cursor;
    }
    facts.matches = total;
    for (const format of ['ndjson', 'csv']) {
      await page.click('#s-export-' + format);
      await page.waitForFunction((f) => { const e = window.verityConsole.lastExport; return e && e.format === f && !document.getElementById('s-export-save').hidden; }, { timeout: 60000 }, format);
      const got = await page.evaluate(async () => {
        const e = window.verityConsole.lastExport;
        return { count: e.count, pages: e.pages, text: await e.blob.text(), progress: document.getElementById('s-export-progress').textContent };
      });
      const lines = got.text.split('\n').filter((l) => l.length);
      if (format === 'ndjson') {
        const ids = lines.map((l) => JSON.parse(l).request_id);
        check(JSON.stringify(ids) === JSON.stringify(allIds), 'the NDJSON export differs from the API\'s pages: ' + ids.length + ' of ' + allIds.length);
      } else {
        check(lines.length === total + 1, 'the CSV export has ' + lines.length + ' lines for ' + total + ' matches');
      }
      check(got.count === total, format + ' export counted ' + got.count + ' of ' + total);
      facts.export_requests = got.pages;
      check(got.progress.startsWith(num(total) + ' predictions exported'), 'export progress: ' + got.progress);
      await page.evaluate(() => { window.verityConsole.lastExport = null; });
    }

    // Cancel: the export's second request is held until Cancel is pressed; nothing is saved.
    await page.setRequestInterception(true);
    let held = null;
    const hold = (r) => {
      if (!held && r.url().includes('format=ndjson') && r.url().includes('cursor=')) held = r;
      else r.continue();
    };
    page.on('request', hold);
    await page.click('#s-export-ndjson');
    for (const until = Date.now() + 30000; !held && Date.now() < until;) await new Promise((ok) => setTimeout(ok, 20));
    check(held !== null, 'the export never asked for its second page');
    cancelled = held;
    await page.click('#s-export-cancel');
    await page.waitForFunction(() => document.getElementById('s-export-progress').textContent.startsWith('Export cancelled'), { timeout: 30000 });
    check(await page.evaluate(() => window.verityConsole.lastExport === null && document.getElementById('s-export-save').hidden && document.getElementById('s-export-cancel').hidden), 'a cancelled export was saved');
    try { await held.continue(); } catch (e) { /* the page has already given up on it */ }
    page.off('request', hold);
    await page.setRequestInterception(false);
    let giveUp = null;
    const aborted = await Promise.race([cancelledFailure, new Promise((ok) => { giveUp = setTimeout(() => ok('no failure reported'), 30000); })]);
    clearTimeout(giveUp);
    check(aborted === 'net::ERR_ABORTED', 'the cancelled export\'s request was not aborted: ' + aborted);

    // 6. A prediction, opened from the results by its link.
    await act('prediction', () => page.click('#s-results tbody tr a'));
    check((await html('#p-title')).startsWith('Prediction ' + shown2[0][0]), 'the link did not open its prediction');
    async function comparePrediction(id) {
      const r = await api('/v1/predictions/' + encodeURIComponent(id), readToken);
      const expected = leaves(r.json.document, '', []);
      const mismatches = await page.evaluate((pairs) => pairs.filter(([p, v]) => {
        const e = document.querySelector('#p-document [data-path="' + CSS.escape(p) + '"]');
        return !e || e.textContent !== v;
      }).map(([p]) => p), expected);
      check(mismatches.length === 0, id + ': shown values differ from the API at ' + mismatches.join(', '));
      const meta = await html('#p-meta');
      check(meta.includes(r.json.masking_version) && meta.includes(utc(r.json.timestamp)), id + ': metadata differs from the API');
      const integrity = await html('#p-integrity');
      check(integrity.includes(r.json.partition) && integrity.includes(r.json.digest) && integrity.includes(String(r.json.sequence)), id + ': integrity differs from the API');
      check(/^[0-9a-f]{16}$/.test(r.json.chain_link || '') && integrity.includes(r.json.chain_link), id + ': the chain link is not shown as the API gives it');
      const history = await page.$$eval('#p-history tbody tr', (t) => t.length);
      check(history === (r.json.label_history || []).length, id + ': ' + history + ' corrections shown, the API has ' + (r.json.label_history || []).length);
      // Every hmac token of the document is shown inside a masking mark.
      const tokens = expected.filter(([, v]) => /^hmac:[0-9a-f]{24}$/.test(v)).length;
      const marked = await page.$$eval('#p-document mark.token', (ms) => ms.filter((m) => m.textContent.startsWith('hmac:')).length);
      check(marked >= tokens, id + ': ' + marked + ' of ' + tokens + ' masked values marked');
      return r.json;
    }
    await go('prediction', '#/prediction/' + encodeURIComponent(labelled));
    const rec = await comparePrediction(labelled);
    facts.label_history = (rec.label_history || []).length;
    facts.masked_marks = await page.$$eval('#p-document mark.token', (m) => m.length);
    const canvases = await visibleCanvases();
    check(canvases.length === 1 && canvases[0].id === 'p-explanation' && canvases[0].drawn > 0, 'the explanation chart is not drawn: ' + JSON.stringify(canvases));
    facts.importances = await page.evaluate(() => window.verityConsole.importances);
    // 7. Verify: refused with the read role, done with the admin role.
    await page.click('#p-verify');
    await page.waitForFunction(() => /403/.test(document.getElementById('p-verify-result').textContent), { timeout: 30000 });
    await act('prediction', async () => {
      await page.focus('#token');
      await page.keyboard.type(adminToken);
      await page.keyboard.press('Enter');
    });
    await page.focus('#p-verify');
    await page.keyboard.press('Enter');  // a real button: Enter presses it
    await page.waitForFunction(() => document.getElementById('p-verify-result').dataset.ok !== undefined, { timeout: 60000 });
    const verified = await html('#p-verify-result');
    check(verified.startsWith('Intact'), 'verify: ' + verified);
    await shot('console-prediction.png');
    // 8. The hostile document: shown as text, nothing runs.
    await go('prediction', '#/prediction/' + encodeURIComponent(hostile));
    await comparePrediction(hostile);
    check((await visibleCanvases()).every((c) => c.drawn > 0), 'the hostile explanation chart is not drawn');
    await shot('console-prediction-hostile.png');

    // 9. A model: the report's charts, the numbers of /curves.
    await go('model', '#/model/' + encodeURIComponent(model));
    const curves = (await api('/v1/models/' + encodeURIComponent(model) + '/curves?window=30d', readToken)).json;
    const shownMetrics = await page.$$eval('#metrics tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent])));
    for (const [k, v] of Object.entries(curves.report.metrics)) check(shownMetrics[k] === num(v), 'model metric ' + k + ': shown ' + shownMetrics[k] + ', /curves ' + num(v));
    const cm = await page.$$eval('#confusion-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    check(JSON.stringify(cm.map((r) => r.slice(1))) === JSON.stringify(curves.report.confusion_matrix.matrix.map((r) => r.map(num))), 'confusion matrix differs from /curves');
    const modelCanvases = await visibleCanvases();
    const charts = await page.evaluate(() => window.verityConsole.charts);
    check(charts >= 8 && modelCanvases.length === charts && modelCanvases.every((c) => c.drawn > 0), 'model charts: ' + charts + ' made, ' + JSON.stringify(modelCanvases));
    check((await page.evaluate(() => window.Chart.getChart('confusion').getDatasetMeta(0).data.length)) === curves.report.confusion_matrix.labels.length ** 2, 'heatmap cells');
    facts.model_charts = charts;
    facts.model_not_available = curves.not_available;
    await shot('console-model.png');
    // The same report as a self-contained file, fetched with the token in use.
    await page.click('#m-download');
    await page.waitForFunction(() => !document.getElementById('m-save').hidden, { timeout: 30000 });
    check((await html('#m-save')).startsWith('Save the report ('), 'no report to save');
    await act('model', async () => {
      await page.select('#m-window', '7d');
      await page.click('#model-form button[type=submit]');
    });
    check((await page.evaluate(() => location.hash)).includes('window=7d'), 'the window is not in the URL');
    await go('models', '#/models');
    check((await page.$$eval('#m-list tbody tr', (t) => t.length)) === (await api('/v1/models', readToken)).json.models.length, 'models list differs');

    // 10. The audit trails (admin token in use).
    await go('audit', '#/audit');
    const reads = (await api('/v1/audit?kind=read&limit=50', adminToken)).json.entries;
    const auditRows = await page.$$eval('#a-results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    check(auditRows.length === 50 && JSON.stringify(auditRows.map((r) => [r[0], r[2], r[3]])) === JSON.stringify(reads.map((e) => [String(e.id), e.actor, e.endpoint])), 'read audit differs from the API: ' + auditRows.length + ' rows, ' + reads.length + ' entries');
    if (check(reads.length === 50, 'fewer than 50 reads in the trail: ' + reads.length)) {
      await act('audit', () => page.click('#a-next'));
      const page2Rows = await page.$$eval('#a-results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
      check(Number(page2Rows[0][0]) === reads[49].id + 1, 'read audit page 2 does not follow page 1');
      // The console's own search, read with the read token, is in the trail under its name.
      check(page2Rows.some((r) => r[2] === 'auditor' && r[3] === 'search' && r[4].includes('where=' + where)), 'the console\'s search is not in the read audit');
      await shot('console-audit.png');
    }
    await act('audit', async () => {
      await page.select('#a-kind', 'admin');
      await page.click('#audit-form button[type=submit]');
    });
    const adminRows = await page.$$eval('#a-results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const adminApi = (await api('/v1/audit?limit=50', adminToken)).json.entries;
    check(adminRows.length === adminApi.length && adminRows.length > 0 && adminRows[0][3] === adminApi[0].action, 'admin audit differs from the API');
    await shot('console-audit-admin.png');
    facts.read_audit_rows = auditRows.length;
    facts.admin_audit_rows = adminRows.length;

    // 11. A KQL error: its position under the box.
    await go('search', '#/search?model=' + encodeURIComponent(model));
    const bad = 'inputs.region:EU and amount:[1 TO 5]';
    await act('search', async () => {
      await page.click('#s-where', { clickCount: 3 });
      await page.keyboard.press('Backspace');
      await page.keyboard.type(bad);
      await page.keyboard.press('Enter');
    });
    const apiError = await api('/v1/predictions?model=' + encodeURIComponent(model) + '&where=' + encodeURIComponent(bad), readToken);
    const position = apiError.headers.get('x-verity-error-position');
    const shown = await page.evaluate(() => ({
      hidden: document.getElementById('s-where-error').hidden,
      position: document.getElementById('s-where-error').dataset.position,
      caret: document.getElementById('s-where-caret').textContent,
      message: document.getElementById('s-where-message').textContent,
      invalid: document.getElementById('s-where').getAttribute('aria-invalid'),
      focused: document.activeElement.id,
    }));
    check(apiError.status === 400 && !shown.hidden && shown.position === position && shown.invalid === 'true' && shown.focused === 's-where', 'KQL error: ' + JSON.stringify(shown) + ' API position ' + position);
    check(shown.message === apiError.json.error.reason, 'KQL error message differs from the API');
    const caretLine = shown.caret.split('\n')[1] || '';
    check(caretLine.indexOf('^') === Number(position), 'the caret is not under position ' + position);
    facts.kql_error_position = Number(position);
    await shot('console-kql-error.png');

    // 12. Nothing from the documents ran or became markup.
    const page_state = await page.evaluate(() => ({
      pwned: window.__pwned,
      imgs: document.querySelectorAll('img, svg, iframe, object, embed').length,
      scripts: document.scripts.length,
      jsLinks: [...document.querySelectorAll('a[href]')].filter((a) => !a.getAttribute('href').startsWith('#') && !a.getAttribute('href').startsWith('blob:')).map((a) => a.getAttribute('href')),
    }));
    check(page_state.pwned === undefined, 'an injected script ran: window.__pwned = ' + page_state.pwned);
    check(page_state.imgs === 0, page_state.imgs + ' img/svg/iframe elements in the page');
    check(page_state.scripts === 4, page_state.scripts + ' scripts in the page');
    check(page_state.jsLinks.length === 0, 'links out of the page: ' + page_state.jsLinks.join(' '));
    facts.requests = requests;
  } finally {
    await browser.close();
  }
  facts.expected_4xx = expected4xx;
  // 400: the KQL error; 401: model names asked before the token; 403: verify with the read role.
  for (const s of expected4xx) check(['400', '401', '403'].includes(s), 'unexpected ' + s);
  const result = Object.assign({ ok: problems.length === 0, problems }, facts);
  console.log(JSON.stringify(result));
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, problems: problems.concat(['driver: ' + (e && e.stack || e)]) }));
  process.exitCode = 1;
});
