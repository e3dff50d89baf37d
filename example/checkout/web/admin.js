// The back office: the reconciler's state and backlog, this instance's
// alerts, the shop's orders with their payment attempts (filtered by the
// kit's status names), an attempt's details and event history, the inbox
// of verified notifications (all, or the failed ones), and refunds in
// two steps:
// the server checks the amount and issues a confirmation, then the clerk
// confirms. Every call carries the admin token as a bearer token, which a
// browser never sends on its own: there is no cookie to forge a request
// with.
"use strict";

const $ = (id) => document.getElementById(id);
const yuan = (fen) => "¥" + (fen / 100).toFixed(2);
let token = sessionStorage.getItem("cypay-admin-token") || "";
let orders = [];
// pending is the refund being confirmed: its preview and the
// Idempotency-Key drawn for it, so that pressing Confirm twice (or
// retrying after a lost reply) sends the same refund, never a second.
let pending = null;

async function api(method, path, body, key) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) showLogin(true);
  return { status: res.status, data };
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function showLogin(wrong) {
  $("auth-error").hidden = !wrong;
  $("office").hidden = true;
}

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s + " 秒前 s ago";
}

async function refresh() {
  const failedOnly = $("inbox-failed").checked;
  const inboxPath = "/admin/inbox" + (failedOnly ? "?failed=1" : "");
  const [o, h, al, ib] = await Promise.all([api("GET", "/admin/orders"), api("GET", "/admin/health"), api("GET", "/admin/alerts"), api("GET", inboxPath)]);
  if (o.status === 401) return;
  $("auth-error").hidden = true;
  $("office").hidden = false;
  if (o.status === 200) {
    orders = o.data;
    renderOrders();
  }
  if (h.status === 200) renderHealth(h.data);
  if (al.status === 200) renderAlerts(al.data);
  // A reply asked for before the filter changed is not drawn.
  if (ib.status === 200 && failedOnly === $("inbox-failed").checked) renderInbox(ib.data);
}

// shownInbox is what the inbox table last drew (see shownOrders).
let shownInbox = "";

function renderInbox(items) {
  const drawn = JSON.stringify(items);
  if (drawn === shownInbox) return;
  shownInbox = drawn;
  $("no-inbox").hidden = items.length > 0;
  $("inbox").hidden = items.length === 0;
  const body = document.querySelector("#inbox tbody");
  body.replaceChildren();
  for (const it of items) {
    const tr = document.createElement("tr");
    tr.dataset.inbox = it.id;
    tr.dataset.reply = it.reply;
    cell(tr, String(it.id));
    cell(tr, new Date(it.received_at).toLocaleString());
    cell(tr, it.out_trade_no);
    cell(tr, yuan(it.amount), "num");
    cell(tr, it.outcome, "inbox-outcome");
    cell(tr, it.reply + (it.err ? " · " + it.err : ""), it.reply === "success" ? "ok" : "error");
    cell(tr, String(it.copies), "num");
    cell(tr, it.instance);
    const b = document.createElement("button");
    b.type = "button";
    b.className = "inbox-show";
    b.textContent = "查看 Show";
    b.addEventListener("click", () => showInbox(it.id));
    cell(tr, "").appendChild(b);
    body.appendChild(tr);
  }
}

async function showInbox(id) {
  const { status, data } = await api("GET", "/admin/inbox/" + id);
  if (status !== 200) {
    $("message").textContent = `读取失败 Lookup failed: ${data.detail || status}`;
    return;
  }
  $("inbox-item-id").textContent = String(id);
  const dl = $("inbox-item-facts");
  dl.replaceChildren();
  for (const k of ["received_at", "instance", "remote_addr", "content_type", "headers", "outcome", "reply", "status", "err", "copies"]) {
    if (data[k] === undefined || data[k] === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(data[k]);
    dl.append(dt, dd);
  }
  $("inbox-body").textContent = data.body;
  $("inbox-item").hidden = false;
}

function renderHealth(h) {
  $("ready").textContent = h.ready ? "✓ 就绪 ready" : "✗ 未就绪 not ready";
  $("ready").className = h.ready ? "ok" : "error";
  $("store-check").textContent = h.store.ok ? `✓ ${h.store.latency_ms} ms` : "✗ " + (h.store.error || "");
  const r = h.reconciler;
  if (!r) {
    $("last-pass").textContent = "—";
  } else if (r.last_pass) {
    $("last-pass").textContent = `${new Date(r.last_pass).toLocaleString()} (${ago(r.last_pass)})` + (r.ok ? "" : ` ✗ 超过 over ${r.stale_after_seconds} s`);
  } else {
    $("last-pass").textContent = "尚未完成 none yet";
  }
  $("last-pass").className = r && !r.ok ? "error" : "";
  $("pending").textContent = h.pending === undefined ? (h.pending_error || "—") : String(h.pending);
}

function renderAlerts(list) {
  $("no-alerts").hidden = list.length > 0;
  $("alerts").hidden = list.length === 0;
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  for (const a of list) {
    const tr = document.createElement("tr");
    tr.dataset.kind = a.kind;
    cell(tr, new Date(a.at).toLocaleString());
    cell(tr, a.kind, "alert-kind");
    cell(tr, a.source);
    cell(tr, a.out_trade_no || "");
    const detail = [];
    // Only what disagrees is shown as a disagreement.
    if ((a.want_amount || a.got_amount) && a.want_amount !== a.got_amount) detail.push(`金额 amount ${yuan(a.want_amount || 0)} ≠ ${yuan(a.got_amount || 0)}`);
    else if (a.want_amount) detail.push(`金额 amount ${yuan(a.want_amount)}`);
    if (a.got_mch_id && a.got_mch_id !== a.mch_id) detail.push(`mch_id ${a.mch_id} ≠ ${a.got_mch_id}`);
    for (const k of ["status", "transaction_id", "stored_transaction_id", "other_out_trade_no", "out_refund_no", "count"]) {
      if (a[k]) detail.push(`${k} ${a[k]}`);
    }
    cell(tr, detail.join(" · "));
    body.appendChild(tr);
  }
}

// shownOrders is what the order table last drew; the table is redrawn
// only when that changes, so a button never vanishes under the clerk's
// pointer on a refresh that brought nothing new.
let shownOrders = "";

function renderOrders() {
  const want = $("status-filter").value;
  const shown = orders.filter((o) => !want || (want === "NONE" ? !o.status : o.status === want));
  const drawn = JSON.stringify([want, orders.length, shown]);
  if (drawn === shownOrders) return;
  shownOrders = drawn;
  $("orders-count").textContent = `${shown.length} / ${orders.length}`;
  const body = document.querySelector("#orders tbody");
  const refunds = document.querySelector("#refunds tbody");
  body.replaceChildren();
  refunds.replaceChildren();
  for (const o of shown) {
    const tr = document.createElement("tr");
    tr.dataset.order = o.order_id;
    tr.dataset.status = o.status;
    cell(tr, o.order_id);
    cell(tr, o.product);
    cell(tr, yuan(o.amount), "num");
    cell(tr, o.status || "—", "order-status");
    cell(tr, yuan(o.refunded), "num refunded");
    cell(tr, yuan(o.refundable), "num refundable");
    const att = cell(tr, "");
    for (const a of o.attempts) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "attempt";
      b.dataset.outTradeNo = a.out_trade_no;
      b.textContent = `#${a.attempt} ${a.channel} ${a.status}`;
      b.addEventListener("click", () => showAttempt(a.out_trade_no));
      att.appendChild(b);
    }
    const act = cell(tr, "");
    if (o.status === "PAID" && o.refundable > 0) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "refund";
      b.textContent = "退款… Refund…";
      b.addEventListener("click", () => openRefund(o));
      act.appendChild(b);
    }
    body.appendChild(tr);
    for (const r of o.refunds) {
      const rr = document.createElement("tr");
      rr.dataset.refund = r.out_refund_no;
      cell(rr, r.out_refund_no);
      cell(rr, r.out_trade_no);
      cell(rr, yuan(r.amount), "num");
      cell(rr, r.status, "refund-status");
      refunds.appendChild(rr);
    }
  }
}

// Labels of the attempt view's fields; any other field the kit adds is
// shown under its own name.
const factLabels = {
  out_trade_no: "商户单号 out_trade_no", order_id: "订单 Order", amount: "金额 Amount (fen)", channel: "渠道 Channel",
  trade_type: "交易类型 trade_type", status: "状态 Status", paid_at: "支付时间 Paid at", fulfilled: "已发货 Fulfilled",
  transaction_id: "交易号 transaction_id", refunded: "已退款 Refunded (fen)", refund_state: "退款状态 Refund state",
  code_url: "二维码内容 code_url", out_transaction_id: "渠道交易号 out_transaction_id",
  "money.coupon_fee": "代金券 Coupon (fen)", "money.cash_fee": "现金支付 Cash paid (fen)", "money.fee_type": "币种 fee_type",
  "money.bank_type": "付款银行 bank_type", "money.sub_appid": "sub_appid", "money.wx_mch_id": "wx_mch_id",
  "money.wx_sub_mch_id": "wx_sub_mch_id",
};

async function showAttempt(otn) {
  const { status, data } = await api("GET", "/admin/attempts/" + encodeURIComponent(otn));
  if (status !== 200) {
    $("message").textContent = `读取失败 Lookup failed: ${data.detail || status}`;
    return;
  }
  $("attempt-otn").textContent = otn;
  const dl = $("attempt-facts");
  dl.replaceChildren();
  // Nested facts (the money a payment's message signed) are shown one
  // per line, under their own labels.
  const add = (k, v) => {
    if (v !== null && typeof v === "object") {
      for (const [kk, vv] of Object.entries(v)) add(k + "." + kk, vv);
      return;
    }
    const dt = document.createElement("dt");
    dt.textContent = factLabels[k] || k;
    const dd = document.createElement("dd");
    dd.dataset.field = k;
    dd.textContent = String(v);
    dl.append(dt, dd);
  };
  for (const [k, v] of Object.entries(data)) add(k, v);
  const ev = await api("GET", "/admin/attempts/" + encodeURIComponent(otn) + "/events");
  const events = ev.status === 200 ? ev.data : [];
  $("no-events").hidden = events.length > 0;
  $("attempt-events").hidden = events.length === 0;
  const body = document.querySelector("#attempt-events tbody");
  body.replaceChildren();
  for (const e of events) {
    const tr = document.createElement("tr");
    tr.dataset.kind = e.kind;
    cell(tr, new Date(e.at).toLocaleString());
    cell(tr, e.kind, "event-kind");
    cell(tr, e.source);
    cell(tr, e.outcome || "");
    cell(tr, e.amount ? yuan(e.amount) : "", "num");
    cell(tr, e.detail || "");
    cell(tr, e.instance || "");
    body.appendChild(tr);
  }
  $("attempt-panel").hidden = false;
  $("attempt-panel").scrollIntoView();
}

function openRefund(o) {
  pending = null;
  $("refund-otn").textContent = o.out_trade_no;
  $("refund-otn").dataset.outTradeNo = o.out_trade_no;
  $("refund-paid").textContent = yuan(o.amount);
  $("refund-left").textContent = yuan(o.refundable);
  $("refund-amount").value = (o.refundable / 100).toFixed(2);
  $("refund-reason").value = "";
  $("refund-error").hidden = true;
  $("refund-confirm").hidden = true;
  $("refund-panel").hidden = false;
  $("refund-amount").focus();
}

function closeRefund() {
  pending = null;
  $("refund-panel").hidden = true;
}

// review asks the server to check the amount; nothing is sent to the
// gateway until the clerk confirms what it answers.
async function review(ev) {
  ev.preventDefault();
  $("refund-error").hidden = true;
  $("refund-confirm").hidden = true;
  pending = null;
  const otn = $("refund-otn").dataset.outTradeNo;
  const { status, data } = await api("POST", "/admin/refunds/preview", { out_trade_no: otn, amount: $("refund-amount").value.trim() });
  if (status !== 200) {
    $("refund-error").textContent = `不能退款 Cannot refund: ${data.detail || status}`;
    $("refund-error").hidden = false;
    return;
  }
  pending = { preview: data, reason: $("refund-reason").value, key: crypto.randomUUID() };
  $("refund-confirm-text").textContent =
    `退款 Refund ${yuan(data.amount)}（${data.amount} 分 fen）· ${data.out_trade_no} · ` +
    `已付 paid ${yuan(data.paid)} · 退后剩余 left after ${yuan(data.refundable - data.amount)}`;
  $("refund-confirm").hidden = false;
  $("refund-confirm-yes").focus();
}

async function confirmRefund() {
  if (!pending) return;
  const p = pending;
  $("refund-confirm-yes").disabled = true;
  const { status, data } = await api("POST", "/admin/refunds",
    { out_trade_no: p.preview.out_trade_no, amount: p.preview.amount, reason: p.reason || "back office", confirm: p.preview.confirm }, p.key);
  $("refund-confirm-yes").disabled = false;
  if (status < 300) {
    $("message").textContent = `退款 Refund ${data.out_refund_no}: ${data.status}`;
    closeRefund();
  } else {
    $("refund-error").textContent = `退款被拒 Refund refused: ${data.detail || status}`;
    $("refund-error").hidden = false;
    $("refund-confirm").hidden = true;
    pending = null;
  }
  await refresh();
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token").value;
  sessionStorage.setItem("cypay-admin-token", token);
  refresh();
});
$("status-filter").addEventListener("change", renderOrders);
$("refund-form").addEventListener("submit", review);
// A changed amount needs its own review: the confirmation shown is for
// the amount the server checked.
$("refund-amount").addEventListener("input", () => { pending = null; $("refund-confirm").hidden = true; });
$("refund-close").addEventListener("click", closeRefund);
$("refund-confirm-yes").addEventListener("click", confirmRefund);
$("refund-confirm-no").addEventListener("click", () => { pending = null; $("refund-confirm").hidden = true; });
$("attempt-close").addEventListener("click", () => { $("attempt-panel").hidden = true; });
$("inbox-failed").addEventListener("change", refresh);
$("inbox-item-close").addEventListener("click", () => { $("inbox-item").hidden = true; });

setInterval(() => { if (token) refresh(); }, 2000);
if (token) refresh();
