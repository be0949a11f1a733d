// The door/till screen: the last answer, big and coloured, updated live over SSE.
"use strict";
(function () {
  const body = document.body;
  const device = body.dataset.device;
  const role = body.dataset.role;
  const params = new URLSearchParams(location.search);
  let lang = params.get("lang") || localStorage.getItem("screen-lang") || body.dataset.lang;
  if (lang !== "vi" && lang !== "en") lang = "vi";
  let last = null;
  let sale = null;
  let items = [];

  const TEXT = {
    vi: {
      "role-door": "Cửa lớp", "role-gate": "Cổng trường", "role-till": "Quầy căng tin",
      waiting: "Mời quẹt thẻ", offline: "Ngoại tuyến", amount: "Số tiền:", balance: "Số dư mới:",
      "amount-entry": "Số tiền (đồng)", "add-item": "Thêm món", "set-sale": "Thu tiền",
      "clear-sale": "Hủy", pending: "Chờ quẹt thẻ:", up: "Đã kết nối", down: "Mất kết nối",
      sku: "Món", qty: "SL", price: "Giá",
    },
    en: {
      "role-door": "Classroom door", "role-gate": "School gate", "role-till": "Canteen till",
      waiting: "Please tap your card", offline: "Offline", amount: "Amount:", balance: "New balance:",
      "amount-entry": "Amount (đồng)", "add-item": "Add item", "set-sale": "Charge",
      "clear-sale": "Cancel", pending: "Waiting for a card:", up: "Connected", down: "Disconnected",
      sku: "Item", qty: "Qty", price: "Price",
    },
  };

  function dong(n) {
    const sign = n < 0 ? "-" : "";
    return sign + String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " đ";
  }

  function tone(answer) {
    if (answer.code === "attendance.late" || answer.code === "error.no_answer" || answer.code === "till.no_sale") return "warn";
    if (answer.code === "attendance.duplicate") return "info";
    return answer.ok ? "ok" : "bad";
  }

  function $(id) { return document.querySelector(`[data-testid="${id}"]`); }

  function applyLang() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) {
      el.textContent = TEXT[lang][el.dataset.i18n] || "";
    }
    for (const b of document.querySelectorAll("[data-lang-switch]")) {
      b.classList.toggle("active", b.dataset.langSwitch === lang);
    }
    $("item-sku").placeholder = TEXT[lang].sku;
    $("item-qty").placeholder = TEXT[lang].qty;
    $("item-price").placeholder = TEXT[lang].price;
    render();
    renderSale();
  }

  function render() {
    const box = $("answer");
    if (!last) return;
    const d = last.data || {};
    box.className = "answer " + tone(last);
    box.dataset.code = last.code;
    box.dataset.ok = String(last.ok);
    const status = $("answer-status");
    status.removeAttribute("data-i18n");
    status.textContent = last.msg[lang];
    $("answer-name").textContent = d.name || "";
    $("answer-class").textContent = d["class"] || "";
    $("offline-badge").hidden = !last.offline;
    const money = role === "till" && typeof d.amount === "number";
    $("answer-money").hidden = !money;
    if (money) {
      $("answer-amount").textContent = dong(d.amount);
      const hasBalance = typeof d.balance === "number";
      $("answer-balance-row").hidden = !hasBalance;
      $("answer-balance").textContent = hasBalance ? dong(d.balance) : "";
    }
  }

  function renderSale() {
    if (role !== "till") return;
    $("pending-sale").textContent = sale ? `${TEXT[lang].pending} ${dong(sale.amount)}` : "";
    $("pending-sale").dataset.amount = sale ? String(sale.amount) : "";
    const list = $("sale-items");
    list.replaceChildren(...items.map((i) => {
      const row = document.createElement("div");
      row.textContent = `${i.sku} × ${i.qty} — ${dong(i.price * i.qty)}`;
      return row;
    }));
  }

  async function loadSale() {
    if (role !== "till") return;
    const r = await fetch(`/api/sale?device=${encodeURIComponent(device)}`);
    if (r.ok) { sale = (await r.json()).sale; renderSale(); }
  }

  async function loadStatus() {
    try {
      const r = await fetch("/api/status");
      const s = await r.json();
      const el = $("link-state");
      el.className = "link " + (s.online ? "up" : "down");
      el.textContent = TEXT[lang][s.online ? "up" : "down"];
      el.dataset.online = String(s.online);
    } catch (e) { /* the box is restarting; the next poll will tell */ }
  }

  async function postSale(amount) {
    $("sale-error").textContent = "";
    const r = await fetch("/api/sale", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ device, amount, items: amount === null ? null : items }),
    });
    const out = await r.json();
    if (!r.ok) { $("sale-error").textContent = out.error[lang]; return; }
    sale = out.sale;
    if (!sale) items = [];
    renderSale();
  }

  function setupTill() {
    $("till-panel").hidden = false;
    $("item-add").addEventListener("click", () => {
      const sku = $("item-sku").value.trim();
      const qty = parseInt($("item-qty").value, 10) || 1;
      const price = parseInt($("item-price").value, 10);
      if (!sku || !(price >= 0)) return;
      items.push({ sku, qty, price });
      document.getElementById("amount").value = String(items.reduce((t, i) => t + i.price * i.qty, 0));
      $("item-sku").value = ""; $("item-price").value = ""; $("item-qty").value = "1";
      renderSale();
    });
    $("sale-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      postSale(parseInt(document.getElementById("amount").value, 10));
    });
    $("sale-clear").addEventListener("click", () => { items = []; document.getElementById("amount").value = ""; postSale(null); });
  }

  for (const b of document.querySelectorAll("[data-lang-switch]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.langSwitch;
      localStorage.setItem("screen-lang", lang);
      applyLang();
      loadStatus();
    });
  }

  if (role === "till") setupTill();
  applyLang();
  fetch(`/api/last?device=${encodeURIComponent(device)}`).then((r) => r.json()).then((a) => {
    if (a && !last) { last = a; render(); }
  });
  loadSale();
  loadStatus();
  setInterval(loadStatus, 5000);
  const events = new EventSource(`/api/events?device=${encodeURIComponent(device)}`);
  events.onmessage = (ev) => {
    last = JSON.parse(ev.data);
    render();
    loadSale();
    if (role === "till" && last.ok) { items = []; document.getElementById("amount").value = ""; renderSale(); }
  };
  events.onopen = () => { body.dataset.live = "true"; };
})();
