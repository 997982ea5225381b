// Behaviour of report.html: sortable tables and the searchable, filterable row browser.
// Written for this project; no libraries, no network. Row text is set with textContent only,
// so nothing in a model's answer can run as HTML.
"use strict";

function sortKey(cell) {
  const text = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
  const number = parseFloat(text);
  return Number.isNaN(number) ? [1, text.toLowerCase()] : [0, number];
}

function sortTable(th) {
  const table = th.closest("table");
  const column = Array.from(th.parentNode.children).indexOf(th);
  const ascending = th.dataset.dir !== "asc";
  table.querySelectorAll("th").forEach((h) => delete h.dataset.dir);
  th.dataset.dir = ascending ? "asc" : "desc";
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const [ta, va] = sortKey(a.cells[column]);
    const [tb, vb] = sortKey(b.cells[column]);
    const order = ta - tb || (va < vb ? -1 : va > vb ? 1 : 0);
    return ascending ? order : -order;
  });
  rows.forEach((row) => body.appendChild(row));
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function longText(text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (value.length <= 120) return element("span", value);
  const details = element("details");
  details.appendChild(element("summary", value.slice(0, 100) + "…"));
  details.appendChild(element("pre", value));
  return details;
}

// an eval's verdict as the tables name it: a failed judge call is judge_failed, not unreadable
function evalVerdict(e) {
  return e.final || (e.status === "error" ? "judge_failed" : "unreadable");
}

function evalsCell(evals) {
  const box = element("div");
  (evals || []).forEach((e) => {
    const details = element("details");
    details.appendChild(element("summary", `eval ${e.eval}: ${evalVerdict(e)} (${e.status})`));
    const answers = e.probs
      ? Object.entries(e.probs).map(([k, v]) => `${k}: ${(100 * v).toFixed(1)} %`).join(", ")
      : e.answers
        ? Object.entries(e.answers).map(([k, v]) => `${k}: ${v === null ? "?" : v ? "yes" : "no"}`).join(", ")
        : "no answers read";
    details.appendChild(element("div", answers, "answers"));
    details.appendChild(element("pre", e.raw || e.error || ""));
    box.appendChild(details);
  });
  return box;
}

function barsCell(value) {
  const grid = element("div", null, "bars");
  (value.options || []).forEach((option, i) => {
    grid.appendChild(element("div", option, "option"));
    const stack = element("div", null, "stack");
    value.series.forEach((s) => {
      const share = s.values[i] || 0;
      const bar = element("div", null, "bar");
      bar.style.width = `${(100 * share).toFixed(1)}%`;
      bar.style.background = s.colour;
      bar.title = `${s.label}: ${(100 * share).toFixed(1)} %`;
      stack.appendChild(bar);
    });
    grid.appendChild(stack);
  });
  const legend = element("div", null, "legend");
  value.series.forEach((s) => {
    const key = element("span", s.label);
    key.style.borderLeft = `1em solid ${s.colour}`;
    legend.appendChild(key);
  });
  grid.appendChild(legend);
  return grid;
}

// the text a column shows for a value (searched by the browser's search box)
function visibleText(kind, value) {
  if (value === null || value === undefined) return "";
  if (kind === "evals") {
    return (value || []).map((e) => [`eval ${e.eval}: ${evalVerdict(e)} (${e.status})`,
      e.probs ? Object.entries(e.probs).map(([k, v]) => `${k}: ${(100 * v).toFixed(1)} %`).join(", ")
        : e.answers ? Object.entries(e.answers).map(([k, v]) => `${k}: ${v === null ? "?" : v ? "yes" : "no"}`).join(", ")
          : "", e.raw || e.error || ""].join("\n")).join("\n");
  }
  if (kind === "bars") {
    return [...(value.options || []), ...(value.series || []).map((s) => s.label)].join("\n");
  }
  return String(value);
}

// a line may break after "_" in names such as political_opinion_pct_rep, and nowhere inside words
const shortText = (v) => element("span", v === null || v === undefined ? "" : String(v).replace(/_/g, "_\u200b"));
const RENDER = { text: shortText, long: longText, evals: evalsCell, bars: barsCell };
const PAGE = 50;

function browser(spec, host) {
  const controls = element("div", null, "controls");
  const chosen = {};
  spec.filters.forEach((f) => {
    const label = element("label", f.label + " ");
    const select = element("select");
    select.dataset.filter = f.key;
    select.appendChild(element("option", "all"));
    Array.from(new Set(spec.rows.map((r) => r[f.key]))).sort().forEach((v) => {
      const option = element("option", v);
      option.value = v;
      select.appendChild(option);
    });
    select.addEventListener("change", () => { chosen[f.key] = select.value; draw(PAGE); });
    label.appendChild(select);
    controls.appendChild(label);
  });
  let flagged = false;
  if (spec.flag) {
    const label = element("label", " " + spec.flag.label);
    const box = element("input");
    box.type = "checkbox";
    box.dataset.flag = spec.flag.key;
    box.addEventListener("change", () => { flagged = box.checked; draw(PAGE); });
    label.prepend(box);
    controls.appendChild(label);
  }
  const search = element("input");
  search.type = "search";
  search.placeholder = "search the text shown";
  search.addEventListener("input", () => draw(PAGE));
  controls.appendChild(search);
  const count = element("span", null, "count");
  controls.appendChild(count);
  host.appendChild(controls);

  const table = element("table", null, "browse");
  const head = table.createTHead().insertRow();
  spec.columns.forEach((c) => head.appendChild(element("th", c.label)));
  const body = table.createTBody();
  host.appendChild(table);
  const more = element("button", "show more");
  host.appendChild(more);
  // search what a reader sees in the row's columns, never the row's field names
  const haystack = spec.rows.map((r) =>
    spec.columns.map((c) => visibleText(c.kind, r[c.key])).join("\n").toLowerCase());
  let shown = PAGE;
  more.addEventListener("click", () => draw(shown + PAGE));

  function draw(limit) {
    shown = limit;
    const needle = search.value.trim().toLowerCase();
    const hits = spec.rows.filter((r, i) =>
      Object.entries(chosen).every(([k, v]) => v === "all" || String(r[k]) === v) &&
      (!flagged || r[spec.flag.key] === true) &&
      (!needle || haystack[i].includes(needle)));
    body.replaceChildren();
    hits.slice(0, limit).forEach((r) => {
      const tr = body.insertRow();
      spec.columns.forEach((c) => {
        const td = tr.insertCell();
        td.className = `kind-${c.kind}`;
        td.appendChild((RENDER[c.kind] || RENDER.text)(r[c.key]));
      });
    });
    count.textContent = `${Math.min(limit, hits.length)} shown of ${hits.length} matching (${spec.rows.length} rows)`;
    more.hidden = hits.length <= limit;
  }
  draw(PAGE);
}

document.querySelectorAll("table.sortable th").forEach((th) =>
  th.addEventListener("click", () => sortTable(th)));
document.querySelectorAll("script.browse-data").forEach((script) => {
  const host = element("div", null, "browser");
  script.after(host);
  browser(JSON.parse(script.textContent), host);
});
