// The back office: lists the shop's orders with their payments, refunds
// a paid one, and shows every refund's state as the server polls the
// gateway. Every call carries the admin token as a bearer token.
"use strict";

const yuan = (fen) => "¥" + (fen / 100).toFixed(2);
let token = sessionStorage.getItem("cypay-admin-token") || "";

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = crypto.randomUUID();
  }
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  return { status: res.status, data };
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

async function refresh() {
  const { status, data } = await api("GET", "/admin/orders");
  if (status === 401) {
    document.getElementById("auth-error").hidden = false;
    document.getElementById("orders-section").hidden = true;
    return;
  }
  document.getElementById("auth-error").hidden = true;
  document.getElementById("orders-section").hidden = false;
  const orders = document.querySelector("#orders tbody");
  const refunds = document.querySelector("#refunds tbody");
  orders.replaceChildren();
  refunds.replaceChildren();
  for (const o of data) {
    const tr = document.createElement("tr");
    tr.dataset.order = o.order_id;
    cell(tr, o.order_id);
    cell(tr, o.product);
    cell(tr, yuan(o.amount));
    cell(tr, o.status).className = "order-status";
    cell(tr, yuan(o.refunded)).className = "refunded";
    const td = cell(tr, "");
    const reserved = o.refunds.filter((r) => r.status !== "FAIL").reduce((s, r) => s + r.amount, 0);
    if (o.status === "PAID" && reserved < o.amount) {
      const btn = document.createElement("button");
      btn.className = "refund";
      btn.textContent = "退款 Refund " + yuan(o.amount - reserved);
      btn.addEventListener("click", () => refund(o.out_trade_no, o.amount - reserved, btn));
      td.appendChild(btn);
    }
    orders.appendChild(tr);
    for (const r of o.refunds) {
      const rr = document.createElement("tr");
      rr.dataset.refund = r.out_refund_no;
      cell(rr, r.out_refund_no);
      cell(rr, r.out_trade_no);
      cell(rr, yuan(r.amount));
      cell(rr, r.status).className = "refund-status";
      refunds.appendChild(rr);
    }
  }
}

async function refund(outTradeNo, amount, btn) {
  btn.disabled = true;
  const { status, data } = await api("POST", "/admin/refunds", { out_trade_no: outTradeNo, amount, reason: "back office" });
  const msg = document.getElementById("message");
  msg.textContent = status < 300 ? `退款 Refund ${data.out_refund_no}: ${data.status}` : `退款被拒 Refund refused: ${data.detail || status}`;
  await refresh();
}

document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = document.getElementById("token").value;
  sessionStorage.setItem("cypay-admin-token", token);
  refresh();
});

setInterval(() => { if (token) refresh(); }, 2000);
if (token) refresh();
