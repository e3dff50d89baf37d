"use strict";

const $ = (id) => document.getElementById(id);
const yuan = (fen) => "¥" + (fen / 100).toFixed(2);
const state = { products: [], product: null, simulator: false, poll: null };

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!res.ok) throw new Error((data && (data.error || data.detail || data.title)) || res.status + " " + res.statusText);
  return data;
}

function showError(err) {
  $("error").textContent = err ? String(err.message || err) : "";
  $("error").hidden = !err;
}

function updateTotal() {
  const q = parseInt($("quantity").value, 10) || 0;
  $("total").textContent = yuan(state.product ? state.product.price * q : 0);
  $("checkout").disabled = !state.product || q < 1 || q > 99;
}

function renderProducts() {
  const list = $("products");
  list.replaceChildren(...state.products.map((p) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.product = p.id;
    b.setAttribute("aria-pressed", "false");
    b.innerHTML = '<span class="name"></span><span class="price"></span>';
    b.querySelector(".name").textContent = p.name;
    b.querySelector(".price").textContent = yuan(p.price);
    b.addEventListener("click", () => {
      state.product = p;
      list.querySelectorAll("button").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
      updateTotal();
    });
    li.append(b);
    return li;
  }));
}

const statusText = { PENDING: "waiting for payment", PAID: "paid", FAILED: "failed", CLOSED: "closed" };

function showStatus(o) {
  const s = $("status");
  s.dataset.status = o.status;
  s.className = "status " + o.status.toLowerCase();
  s.textContent = statusText[o.status] || o.status.toLowerCase();
  if (o.transaction_id) $("transaction").textContent = o.transaction_id;
  $("qr-wrap").classList.toggle("done", o.status === "PAID");
  if (o.status !== "PENDING") {
    clearInterval(state.poll);
    state.poll = null;
    $("simulate").hidden = true;
    $("again").hidden = false;
  }
}

function startPolling(outTradeNo, token) {
  clearInterval(state.poll);
  state.poll = setInterval(async () => {
    try {
      showStatus(await api("GET", "/pay/orders/" + encodeURIComponent(outTradeNo) + "?token=" + encodeURIComponent(token)));
    } catch (err) {
      showError(err);
    }
  }, 1000);
}

async function checkout() {
  showError(null);
  $("checkout").disabled = true;
  try {
    const channel = document.querySelector('input[name="channel"]:checked').value;
    const order = await api("POST", "/api/orders", {
      product_id: state.product.id,
      quantity: parseInt($("quantity").value, 10),
    });
    const pay = await api("POST", "/pay/preorder", { order_id: order.order_id, channel, trade_type: "NATIVE" });
    $("amount").textContent = yuan(order.amount);
    $("order-id").textContent = order.order_id;
    $("out-trade-no").textContent = pay.out_trade_no;
    $("transaction").textContent = "–";
    $("qr").src = "/qr.png?text=" + encodeURIComponent(pay.code_url);
    showStatus({ status: pay.status || "PENDING" });
    $("simulate").hidden = !state.simulator;
    $("simulate").disabled = false;
    $("again").hidden = true;
    $("simulate").onclick = () => simulate(pay.out_trade_no);
    $("payment").hidden = false;
    startPolling(pay.out_trade_no, pay.status_token || order.status_token);
  } catch (err) {
    showError(err);
  } finally {
    updateTotal();
  }
}

async function simulate(outTradeNo) {
  $("simulate").disabled = true;
  try {
    await api("POST", "/sim/pay/" + encodeURIComponent(outTradeNo));
  } catch (err) {
    showError(err);
    $("simulate").disabled = false;
  }
}

async function init() {
  try {
    const cfg = await api("GET", "/api/config");
    state.simulator = cfg.simulator;
    $("mode").textContent = cfg.simulator ? "gateway simulator · " + cfg.version : "live gateway · " + cfg.version;
    $("mode").hidden = false;
    state.products = await api("GET", "/api/products");
    renderProducts();
  } catch (err) {
    showError(err);
  }
  $("quantity").addEventListener("input", updateTotal);
  $("checkout").addEventListener("click", checkout);
  $("again").addEventListener("click", () => { $("payment").hidden = true; showError(null); });
  updateTotal();
}

init();
