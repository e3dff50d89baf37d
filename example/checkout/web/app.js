"use strict";

const $ = (id) => document.getElementById(id);
const yuan = (fen) => "¥" + (fen / 100).toFixed(2);
const MAX_QUANTITY = 99;
// open: a payment attempt is on screen, so the basket is locked until the
// buyer starts over (after paying, failing or abandoning it).
// attempt is the open attempt's out_trade_no and the order's token, which
// the Abandon button needs to close it.
const state = { products: [], product: null, simulator: false, poll: null, open: false, busy: false, attempt: null };

// bi renders "中文 English" with the English part marked as such.
function bi(zh, en) {
  const frag = document.createDocumentFragment();
  frag.append(zh + " ");
  const i = document.createElement("i");
  i.lang = "en";
  i.textContent = en;
  frag.append(i);
  return frag;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!res.ok) {
    const err = new Error((data && (data.error || data.detail || data.title)) || res.status + " " + res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

// errorText says what went wrong in Chinese first, with the server's words.
function errorText(err) {
  const msg = String((err && err.message) || err);
  if (err && err.status === 429) return ["下单太频繁，请几秒后再试。", msg];
  if (err instanceof TypeError) return ["网络错误，请检查连接后重试。", "Network error: " + msg];
  return ["出错了：", msg];
}

function showError(err) {
  const el = $("error");
  if (!err) {
    el.replaceChildren();
    el.hidden = true;
    return;
  }
  const [zh, en] = errorText(err);
  el.replaceChildren(bi(zh, en));
  el.hidden = false;
}

function quantity() {
  const raw = $("quantity").value.trim();
  return /^\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
}

// render applies the state to every control: the basket is live only when
// no attempt is open and nothing is in flight.
function render() {
  const q = quantity();
  const qOK = q >= 1 && q <= MAX_QUANTITY;
  const locked = state.open || state.busy;
  $("quantity-error").hidden = qOK || $("quantity").value === "";
  $("total").textContent = yuan(state.product && qOK ? state.product.price * q : 0);
  $("quantity").disabled = locked;
  document.querySelectorAll("#products button, input[name=channel]").forEach((el) => { el.disabled = locked; });
  $("checkout").disabled = locked || !state.product || !qOK;
  $("checkout").replaceChildren(state.busy ? bi("正在下单…", "Placing order…") : bi("去支付", "Check out"));
  $("checkout").setAttribute("aria-busy", String(state.busy));
  $("locked").hidden = !state.open;
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
      render();
    });
    li.append(b);
    return li;
  }));
}

const statusText = {
  PENDING: ["等待支付", "waiting for payment"],
  PAID: ["已支付", "paid"],
  FAILED: ["支付失败", "failed"],
  CLOSED: ["已关闭", "closed"],
  REVERSED: ["已撤销，款项已退回", "cancelled, money returned"],
};

function showStatus(o) {
  const s = $("status");
  s.dataset.status = o.status;
  s.className = "status " + o.status.toLowerCase();
  const [zh, en] = statusText[o.status] || [o.status, o.status.toLowerCase()];
  s.replaceChildren(bi(zh, en));
  showBasketNote(o.status);
  if (o.transaction_id) $("transaction").textContent = o.transaction_id;
  $("qr-wrap").classList.toggle("done", o.status === "PAID");
  const pending = o.status === "PENDING";
  $("abandon").hidden = !pending;
  if (!pending) {
    clearInterval(state.poll);
    state.poll = null;
    $("simulate").hidden = true;
    $("again").hidden = false;
  }
}

// showBasketNote says why the basket is locked: a payment still open,
// or one that is over (paid, failed or closed), so the note never calls a
// paid order's payment open.
function showBasketNote(status) {
  const note = status === "PENDING" ? "open" : status === "PAID" ? "paid" : "ended";
  document.querySelectorAll("#locked [data-note]").forEach((el) => { el.hidden = el.dataset.note !== note; });
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
  state.busy = true;
  render();
  try {
    const channel = document.querySelector('input[name="channel"]:checked').value;
    const order = await api("POST", "/api/orders", { product_id: state.product.id, quantity: quantity() });
    // Only the holder of the order's token may start its payment.
    const pay = await api("POST", "/pay/preorder?token=" + encodeURIComponent(order.status_token),
      { order_id: order.order_id, channel, trade_type: "NATIVE" });
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
    state.open = true;
    state.attempt = { outTradeNo: pay.out_trade_no, token: order.status_token };
    startPolling(pay.out_trade_no, order.status_token);
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
    render();
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

// abandon closes the open attempt at the shop (and, within five minutes of
// its creation, at the gateway), so its QR code can no longer be paid, then
// starts over. An attempt already paid cannot be abandoned: its status is
// shown instead.
async function abandon() {
  const a = state.attempt;
  if (!a) return startOver();
  const q = "?token=" + encodeURIComponent(a.token);
  const path = "/pay/orders/" + encodeURIComponent(a.outTradeNo);
  $("abandon").disabled = true;
  try {
    await api("POST", path + "/close" + q);
    startOver();
  } catch (err) {
    showError(err);
    if (err.status === 409) {
      try { showStatus(await api("GET", path + q)); } catch (e) { showError(e); }
    }
  } finally {
    $("abandon").disabled = false;
  }
}

// startOver closes the payment panel and unlocks the basket.
function startOver() {
  clearInterval(state.poll);
  state.poll = null;
  state.open = false;
  state.attempt = null;
  $("payment").hidden = true;
  showError(null);
  render();
}

async function loadCatalogue() {
  $("loading").hidden = false;
  $("load-failed").hidden = true;
  try {
    const cfg = await api("GET", "/api/config");
    state.simulator = cfg.simulator;
    $("mode").replaceChildren(cfg.simulator ? bi("网关模拟器 · " + cfg.version, "gateway simulator") : bi("真实网关 · " + cfg.version, "live gateway"));
    $("mode").hidden = false;
    state.products = await api("GET", "/api/products");
    renderProducts();
  } catch (err) {
    $("load-error").textContent = String(err.message || err);
    $("load-failed").hidden = false;
  } finally {
    $("loading").hidden = true;
    render();
  }
}

function init() {
  $("quantity").addEventListener("input", render);
  $("checkout").addEventListener("click", checkout);
  $("again").addEventListener("click", startOver);
  $("abandon").addEventListener("click", abandon);
  $("retry").addEventListener("click", loadCatalogue);
  render();
  loadCatalogue();
}

init();
