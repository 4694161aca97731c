// The model report's drawing code, shared by the self-contained HTML report (report.js) and the
// console's model page (ui/console/console.js): render(data) draws a GET /v1/models/{model}/curves
// answer into the report sections (ui/report/sections.html) of the page, replacing what an earlier
// call drew. Values from the data are only ever set as text (textContent) or handed to Chart.js,
// never parsed as HTML. Times are shown in UTC.
(function () {
  'use strict';
  const Chart = window.Chart;
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  let charts = [];

  const $ = (id) => document.getElementById(id);
  const show = (id) => { $(id).hidden = false; };
  const text = (id, value) => { $(id).textContent = value; };
  const classText = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  const utc = (iso) => (iso ? String(iso).replace('T', ' ').replace(/(:\d\d)?(\.\d+)?Z$/, '') + ' UTC' : '');
  const num = (x) => {
    if (x === null || x === undefined) return '';
    if (typeof x !== 'number') return String(x);
    if (Number.isInteger(x)) return x.toLocaleString('en-US');
    return Number(x.toPrecision(6)).toString();
  };
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
  const draw = (id, config) => { charts.push(new Chart($(id), config)); };
  const unitAxes = (x, y) => ({
    x: { type: 'linear', min: 0, max: 1, title: { display: true, text: x } },
    y: { type: 'linear', min: 0, max: 1, title: { display: true, text: y } },
  });
  const diagonal = (label) => ({
    label, data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0,
    borderColor: '#9aa3ad', borderDash: [4, 4], borderWidth: 1,
  });
  const curve = (label, points, color, extra) => Object.assign({
    label, data: points, showLine: true, pointRadius: 0, borderColor: color,
    backgroundColor: color, borderWidth: 2,
  }, extra || {});
  const clear = (el) => { while (el.firstChild) el.removeChild(el.firstChild); };

  // Undoes an earlier render: charts destroyed, generated rows and list items removed, the
  // sections that depend on the data hidden again.
  function reset() {
    for (const c of charts) c.destroy();
    charts = [];
    for (const id of ['warnings', 'not-available']) clear($(id));
    for (const id of ['metrics', 'features']) clear($(id).tBodies[0]);
    clear($('confusion-table').tHead);
    clear($('confusion-table').tBodies[0]);
    for (const id of ['confusion-section', 'roc-section', 'pr-section', 'calibration-section',
      'over-time-section', 'not-available-section']) $(id).hidden = true;
    $('psi-chart').hidden = false;
  }

  // Draws `data` (a /curves answer); returns the number of charts drawn.
  function render(data) {
    reset();
    const report = data.report || {};
    // Header.
    const title = 'Model ' + (data.model || '') + (data.version !== null && data.version !== undefined ? ', version ' + data.version : ', all versions');
    text('title', title);
    document.title = 'Verity: ' + title;
    text('subtitle', 'Predictions made from ' + utc(data.from) + ' to ' + utc(data.to) +
         ' (times in UTC). Task: ' + (report.task || data.task) + ' (' + (report.task_source || '') + '). ' +
         num(report.predictions) + ' predictions, ' + num(report.labelled) + ' labelled.');
    for (const w of report.warnings || []) {
      const li = document.createElement('li');
      li.textContent = w;
      $('warnings').appendChild(li);
    }

    // Metrics table.
    const rows = Object.entries(report.metrics || {});
    if (report.positive_class !== undefined) rows.unshift(['positive class', classText(report.positive_class)]);
    if (report.score_semantics) rows.push(['score read as', report.score_semantics.value + ' (' + report.score_semantics.source + ')']);
    for (const [name, value] of rows) {
      const tr = document.createElement('tr');
      const th = document.createElement('td');
      th.textContent = name;
      const td = document.createElement('td');
      td.textContent = num(value);
      tr.append(th, td);
      $('metrics').tBodies[0].appendChild(tr);
    }

    // Confusion matrix heatmap: colour by share of the row (the true class).
    const cm = report.confusion_matrix;
    if (cm && cm.labels.length > 0) {
      show('confusion-section');
      const labels = cm.labels.map(classText);
      const cells = [];
      cm.matrix.forEach((row, i) => {
        const total = row.reduce((a, b) => a + b, 0);
        row.forEach((v, j) => cells.push({ x: labels[j], y: labels[i], v, share: total > 0 ? v / total : 0 }));
      });
      const k = labels.length;
      const table = $('confusion-table');
      const head = table.tHead.insertRow();
      head.appendChild(document.createElement('th')).textContent = 'true \\ predicted';
      for (const l of labels) head.appendChild(document.createElement('th')).textContent = l;
      cm.matrix.forEach((row, i) => {
        const tr = table.tBodies[0].insertRow();
        tr.appendChild(document.createElement('th')).textContent = labels[i];
        for (const v of row) tr.insertCell().textContent = num(v);
      });
      draw('confusion', {
        type: 'matrix',
        data: { datasets: [{
          label: 'predictions', data: cells,
          backgroundColor: (c) => 'rgba(31, 119, 180, ' + (0.06 + 0.94 * ((c.raw && c.raw.share) || 0)) + ')',
          borderColor: '#ffffff', borderWidth: 1,
          width: ({ chart }) => ((chart.chartArea || {}).width || 0) / k - 1,
          height: ({ chart }) => ((chart.chartArea || {}).height || 0) / k - 1,
        }] },
        options: {
          plugins: { legend: { display: false }, tooltip: { callbacks: {
            title: () => '',
            label: (c) => 'true ' + c.raw.y + ', predicted ' + c.raw.x + ': ' + num(c.raw.v) + ' (' + (100 * c.raw.share).toFixed(1) + '% of true ' + c.raw.y + ')',
          } } },
          scales: {
            x: { type: 'category', labels, offset: true, title: { display: true, text: 'predicted' }, grid: { display: false } },
            y: { type: 'category', labels, offset: true, reverse: false, title: { display: true, text: 'true' }, grid: { display: false } },
          },
        },
      });
    }

    // ROC and precision-recall curves: binary, or one-vs-rest per class.
    const rocSets = [], prSets = [];
    if (data.roc) {
      rocSets.push(curve('positive class ' + classText(data.roc.positive_class) + ' (AUC ' + num(data.roc.auc) + ')',
        data.roc.points.map((p) => ({ x: p.fpr, y: p.tpr })), palette[0]));
      prSets.push(curve('positive class ' + classText(data.precision_recall.positive_class) + ' (AP ' + num(data.precision_recall.average_precision) + ')',
        data.precision_recall.points.map((p) => ({ x: p.recall, y: p.precision })), palette[0], { stepped: 'before' }));
      text('roc-note', 'One point per score bin (scores in one bin count as one threshold). Area ' + num(data.roc.auc) + '; the report\'s roc_auc ' + num((data.reference || {}).roc_auc) + '.');
      text('pr-note', 'Average precision ' + num(data.precision_recall.average_precision) + '; the report\'s ' + num((data.reference || {}).average_precision) + '.');
    }
    (data.one_vs_rest || []).forEach((c, i) => {
      if (!c.roc.length) return;
      const color = palette[i % palette.length];
      rocSets.push(curve(classText(c.class) + ' vs rest (AUC ' + num(c.roc_auc) + ')', c.roc.map((p) => ({ x: p.fpr, y: p.tpr })), color));
      prSets.push(curve(classText(c.class) + ' vs rest (AP ' + num(c.average_precision) + ')', c.precision_recall.map((p) => ({ x: p.recall, y: p.precision })), color, { stepped: 'before' }));
    });
    if (rocSets.length) {
      show('roc-section');
      show('pr-section');
      if (!data.roc) {
        text('roc-note', 'One vs rest, from the per-class probabilities.');
        text('pr-note', 'One vs rest, from the per-class probabilities.');
      }
      draw('roc', { type: 'scatter', data: { datasets: rocSets.concat([diagonal('chance')]) },
        options: { scales: unitAxes('false positive rate', 'true positive rate') } });
      draw('pr', { type: 'scatter', data: { datasets: prSets },
        options: { scales: unitAxes('recall', 'precision') } });
    }

    // Calibration.
    if (data.calibration && data.calibration.bins.length) {
      show('calibration-section');
      text('calibration-note', 'Ten uniform bins of P(positive); expected calibration error ' + num(data.calibration.expected_calibration_error) + '.');
      draw('calibration', { type: 'scatter', data: { datasets: [
        curve('observed frequency', data.calibration.bins.map((b) => ({ x: b.mean_predicted, y: b.observed_frequency, n: b.count })), palette[0], { pointRadius: 4 }),
        diagonal('perfectly calibrated')] },
      options: { scales: unitAxes('mean predicted probability', 'observed frequency'),
        plugins: { tooltip: { callbacks: { label: (c) => 'predicted ' + num(c.raw.x) + ', observed ' + num(c.raw.y) + (c.raw.n !== undefined ? ', ' + num(c.raw.n) + ' predictions' : '') } } } } });
    }

    // The metric over time, one line per version.
    const ot = data.accuracy_over_time;
    if (ot && ot.versions.length) {
      show('over-time-section');
      const name = ot.metric === 'accuracy' ? 'Accuracy' : 'Mean absolute error';
      text('over-time-title', name + ' over time per version');
      text('over-time-note', 'Buckets of ' + num(ot.step_seconds / 60) + ' minutes, labelled at the start of each bucket (UTC)' +
           (ot.versions_omitted ? '; ' + ot.versions_omitted + ' less recent versions left out' : '') + '.');
      const labels = ot.versions[0].points.map((p) => utc(p.from));
      draw('over-time', { type: 'line', data: { labels, datasets: ot.versions.map((v, i) => ({
        label: 'version ' + v.version, data: v.points.map((p) => p.value), spanGaps: true,
        borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 2 })) },
      options: { scales: { y: ot.metric === 'accuracy' ? { min: 0, max: 1 } : { beginAtZero: true } } } });
    }

    // Histograms.
    const conf = report.confidence_histogram || { upper_bounds: [], counts: [] };
    draw('confidence', { type: 'bar', data: {
      labels: conf.upper_bounds.map((u, i) => (i === 0 ? 0 : conf.upper_bounds[i - 1]).toFixed(2) + '-' + u.toFixed(2)),
      datasets: [{ label: 'predictions', data: conf.counts, backgroundColor: palette[0] }] },
    options: { plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: 'confidence' } } } } });
    const lag = report.label_lag_histogram || { upper_bounds_seconds: [], counts: [] };
    const duration = (s) => (s < 3600 ? s / 60 + ' min' : s < 86400 ? s / 3600 + ' h' : s / 86400 + ' d');
    const lagLabels = lag.upper_bounds_seconds.map((s) => '\u2264 ' + duration(s));
    if (lag.upper_bounds_seconds.length) lagLabels.push('> ' + duration(lag.upper_bounds_seconds[lag.upper_bounds_seconds.length - 1]));
    draw('lag', { type: 'bar', data: { labels: lagLabels,
      datasets: [{ label: 'labelled predictions', data: lag.counts, backgroundColor: palette[2] }] },
    options: { plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: 'time from prediction to its first label' } } } } });

    // Features: a PSI bar per feature, and the table.
    const features = report.features || [];
    const withPsi = features.filter((f) => typeof f.psi === 'number');
    if (withPsi.length) {
      draw('psi', { type: 'bar', data: { labels: withPsi.map((f) => f.name), datasets: [{
        label: 'PSI', data: withPsi.map((f) => f.psi),
        backgroundColor: withPsi.map((f) => (f.psi > 0.2 ? '#d62728' : f.psi > 0.1 ? '#ff7f0e' : '#2ca02c')) }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, title: { display: true, text: 'PSI against the drift baseline (above 0.2: a significant shift)' } } } } });
    } else {
      $('psi-chart').hidden = true;
    }
    const baseline = report.drift_baseline;
    text('features-note', (features.length ? '' : 'No input features were aggregated. ') +
         (baseline ? 'Drift baseline: ' + utc(baseline.from) + ' to ' + utc(baseline.to) + '.' : ''));
    for (const f of features) {
      const tr = document.createElement('tr');
      for (const v of [f.name, f.expected_type, num(f.present), num(f.null_ratio), num(f.type_mismatch_ratio),
        num(f.out_of_range_ratio), num(f.psi)]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      }
      $('features').tBodies[0].appendChild(tr);
    }

    // What the aggregates cannot show.
    for (const n of data.not_available || []) {
      show('not-available-section');
      const li = document.createElement('li');
      li.textContent = n;
      $('not-available').appendChild(li);
    }

    return charts.length;
  }

  window.VerityCharts = { render, utc, num, palette };
}());
