// DOM helpers. Text from the gateway always goes in as textContent (never innerHTML).

/** h("td.num.pos", {title: "x"}, "12.5") → <td class="num pos" title="x">12.5</td> */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/**
 * Render rows into `container` as a table from column specs {title, cell(row) → text|Node,
 * cls(row)?, num?, id?}. Rows carry `data-row-id` (rowId(row)) so tests and people can find them;
 * `onRow` makes rows clickable; `selected` marks one.
 *
 * A table already there with the same columns is updated in place — only the text and classes
 * that changed, rows added, moved or removed by id — so a live update (a book tick) never
 * replaces the element under the pointer (a click whose mousedown and mouseup land on different
 * elements is lost). A cell that returns an Element (a button) is swapped only when its markup
 * changes (its listeners stay those of the first one: they must not depend on changing fields).
 */
export function renderTable(container, columns, rows, { rowId, empty = "nothing yet", onRow, selected } = {}) {
  if ((!rows || rows.length === 0) && !empty) {
    container.replaceChildren();
    return;
  }
  if (!rows || rows.length === 0) {
    const note = container.firstElementChild;
    if (!(note && note.classList.contains("empty") && note.textContent === empty)) container.replaceChildren(h("div.empty", null, empty));
    return;
  }
  const sig = columns.map((c) => c.title).join("\u0001");
  let tableEl = container.firstElementChild;
  if (!(tableEl && tableEl.tagName === "TABLE" && tableEl.dataset.sig === sig && container.childElementCount === 1)) {
    const head = h("tr", null, columns.map((c) => h(c.num ? "th.num" : "th", { title: c.help }, c.title)));
    tableEl = h("table", { "data-sig": sig }, h("thead", null, head), h("tbody"));
    container.replaceChildren(tableEl);
  }
  const tbody = tableEl.tBodies[0];
  const byId = new Map(Array.from(tbody.rows, (tr) => [tr.dataset.rowId, tr]));
  rows.forEach((r, i) => {
    const id = rowId ? String(rowId(r)) : String(i);
    let tr = byId.get(id);
    if (!tr) {
      tr = h("tr", { "data-row-id": id });
      for (const c of columns) tr.append(h("td", { "data-col": c.id || undefined }));
      if (onRow) {
        tr.classList.add("clickable");
        tr.addEventListener("click", () => onRow(tr.row));
      }
    }
    byId.delete(id);
    tr.row = r;
    tr.classList.toggle("selected", selected !== undefined && id === String(selected));
    columns.forEach((c, j) => patchCell(tr.cells[j], c, r));
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
  });
  for (const tr of byId.values()) tr.remove();
}

function patchCell(td, c, r) {
  const cls = [c.num ? "num" : "", c.cls ? c.cls(r) : ""].filter(Boolean).join(" ");
  if (td.className !== cls) td.className = cls;
  const v = c.cell(r);
  if (v instanceof Element) {
    // a Node cell (a status span, a button): replaced only when it would look different
    const old = td.firstElementChild;
    if (!old || old.outerHTML !== v.outerHTML) td.replaceChildren(v);
    return;
  }
  const text = v === undefined || v === null ? "" : String(v);
  if (td.textContent !== text) td.textContent = text;
}

/** A short-lived message at the bottom right. */
export function toast(text, kind = "") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h("div.toast", { class: kind, role: "status" }, text);
  box.append(el);
  setTimeout(() => el.remove(), kind === "err" ? 9000 : 4500);
  while (box.children.length > 5) box.firstElementChild.remove();
}

/** A confirm dialog (the page's own <dialog>, not window.confirm): resolves true on "Confirm". */
export function confirmDialog(title, body, okText = "Confirm") {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").textContent = body;
  document.getElementById("confirm-ok").textContent = okText;
  dlg.returnValue = "";
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
  });
}
