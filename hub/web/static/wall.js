// Live wall: every school's rooms (edges), their state and their devices' latest values.
// Data comes from the hub's SSE stream (an EventSource opened by live.js): a "snapshot" event,
// then "change" events.
"use strict";

const I18N = {
  vi: {
    title: "Trung tâm điều hành — Live wall",
    subtitle: "Giáo dục thông minh TP. Hồ Chí Minh",
    schools: "Trường", rooms: "Phòng", edgesOffline: "Phòng mất kết nối",
    devicesOnline: "Thiết bị trực tuyến", lastUpdate: "Cập nhật lúc",
    tapsToday: "Lượt điểm danh hôm nay", paymentsToday: "Thanh toán hôm nay",
    perMin: "/ phút", payments: "giao dịch",
    empty: "Chưa có dữ liệu từ các phòng.", noDevices: "Chưa có thiết bị",
    live: "Trực tiếp", connecting: "Đang kết nối", reconnecting: "Đang kết nối lại",
    signedOut: "Màn hình chưa đăng nhập: mở /wall/login?token=… với mã của màn hình",
    online: "Trực tuyến", offline: "Mất kết nối", unknown: "Chưa rõ",
    outbox: "Hàng đợi", switchTo: "EN", since: "từ", cityView: "Toàn thành phố",
    legend: "Ngưỡng", good: "Tốt", warn: "Cảnh báo", bad: "Xấu",
    ago: (n, unit) => `${n} ${{ s: "s", m: "phút", h: "giờ" }[unit]} trước`,
    co2_ppm: "CO₂", pm25_ugm3: "PM2.5", pm1_ugm3: "PM1", pm10_ugm3: "PM10",
    temp_c: "Nhiệt độ", rh_pct: "Độ ẩm",
    noise_db: "Tiếng ồn", lux: "Ánh sáng", power_w: "Công suất",
  },
  en: {
    title: "Operations centre — Live wall",
    subtitle: "Ho Chi Minh City smart schools",
    schools: "Schools", rooms: "Rooms", edgesOffline: "Rooms offline",
    devicesOnline: "Devices online", lastUpdate: "Last update",
    tapsToday: "Check-ins today", paymentsToday: "Payments today",
    perMin: "/ min", payments: "payments",
    empty: "No data from any room yet.", noDevices: "No devices yet",
    live: "Live", connecting: "Connecting", reconnecting: "Reconnecting",
    signedOut: "This display is not signed in: open /wall/login?token=… with its token",
    online: "Online", offline: "Offline", unknown: "Unknown",
    outbox: "Backlog", switchTo: "VI", since: "since", cityView: "City",
    legend: "Limits", good: "Good", warn: "Warning", bad: "Poor",
    ago: (n, unit) => `${n} ${{ s: "s", m: "min", h: "h" }[unit]} ago`,
    co2_ppm: "CO₂", pm25_ugm3: "PM2.5", pm1_ugm3: "PM1", pm10_ugm3: "PM10",
    temp_c: "Temperature", rh_pct: "Humidity",
    noise_db: "Noise", lux: "Light", power_w: "Power",
  },
};
const LOCALES = { vi: "vi-VN", en: "en-GB" };
const TIME_ZONE = "Asia/Ho_Chi_Minh";

// Units, decimals and the limits where a value turns warn / bad (below the first is good).
const MEASURES = {
  co2_ppm: { unit: "ppm", digits: 0, limits: [1000, 1500] },
  pm25_ugm3: { unit: "µg/m³", digits: 0, limits: [25, 50] },
  pm10_ugm3: { unit: "µg/m³", digits: 0, limits: [50, 100] },
  pm1_ugm3: { unit: "µg/m³", digits: 0 },
  temp_c: { unit: "°C", digits: 1 },
  rh_pct: { unit: "%", digits: 0 },
  noise_db: { unit: "dB", digits: 0 },
  lux: { unit: "lx", digits: 0 },
  power_w: { unit: "W", digits: 0 },
};
const MEASURE_ORDER = Object.keys(MEASURES);
const EDGE_STATES = ["online", "offline", "unknown"];
const STALE_MS = 120000; // a device silent this long no longer counts as online

const model = { devices: new Map(), edges: new Map(), byEdge: new Map(), schools: new Map(),
  offsetMs: 0 };
const tiles = new Map(); // "school/edge" -> tile elements
let lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "vi";
let connState = "connecting";

const t = (key) => I18N[lang][key] ?? key;
const serverNow = () => Date.now() + model.offsetMs;

function levelOf(name, value) {
  const limits = MEASURES[name]?.limits;
  if (!limits) return "none";
  return value < limits[0] ? "good" : value < limits[1] ? "warn" : "bad";
}

function formatValue(name, value) {
  const digits = MEASURES[name]?.digits ?? 1;
  return new Intl.NumberFormat(LOCALES[lang], {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(value);
}

function formatAge(ts) {
  if (!ts) return "—";
  const s = Math.max(0, Math.round((serverNow() - Date.parse(ts)) / 1000));
  if (s < 120) return I18N[lang].ago(s, "s");
  if (s < 7200) return I18N[lang].ago(Math.floor(s / 60), "m");
  return I18N[lang].ago(Math.floor(s / 3600), "h");
}

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString(LOCALES[lang], { timeZone: TIME_ZONE, hour12: false });
}

function isStale(dev) {
  return !dev.ts || serverNow() - Date.parse(dev.ts) > STALE_MS;
}

function apply(data, snapshot) {
  if (snapshot) {
    model.devices.clear(); model.edges.clear(); model.byEdge.clear(); model.schools.clear();
    tiles.clear();
    document.getElementById("schools").replaceChildren();
  }
  if (data.now) model.offsetMs = Date.parse(data.now) - Date.now();
  const touched = new Set();
  for (const edge of data.edges) {
    const key = `${edge.school}/${edge.edge}`;
    model.edges.set(key, edge);
    touched.add(key);
  }
  for (const dev of data.devices) {
    const key = `${dev.school}/${dev.edge}`;
    model.devices.set(`${key}/${dev.device}`, dev);
    if (!model.byEdge.has(key)) model.byEdge.set(key, new Set());
    model.byEdge.get(key).add(dev.device);
    touched.add(key);
  }
  for (const activity of data.schools ?? []) model.schools.set(activity.school, activity);
  for (const key of touched) renderTile(key);
  renderHeader();
}

function schoolSection(school) {
  const main = document.getElementById("schools");
  let section = main.querySelector(`section[data-school="${CSS.escape(school)}"]`);
  if (section) return section;
  section = el("section", { class: "school", "data-school": school, "data-testid": `school-${school}` },
    el("h2", {}, school), el("div", { class: "tiles" }));
  const after = [...main.children].find((s) => s.dataset.school > school);
  main.insertBefore(section, after ?? null);
  return section;
}

function tileFor(key) {
  let tile = tiles.get(key);
  if (tile) return tile;
  const [school, edge] = key.split("/");
  const id = `${school}-${edge}`;
  tile = {
    root: el("article", { class: "tile", "data-edge": edge, "data-testid": `tile-${id}` }),
    room: el("div", { class: "room", "data-testid": `room-${id}` }),
    badge: el("span", { class: "badge", "data-testid": `edge-state-${id}` }),
    outbox: el("div", { class: "outbox", "data-testid": `outbox-${id}` }),
    list: el("ul", { class: "devices" }),
  };
  tile.root.append(
    el("header", {}, el("div", { class: "names" }, tile.room, el("div", { class: "edge-id" }, edge)),
      tile.badge),
    tile.list, tile.outbox);
  const grid = schoolSection(school).querySelector(".tiles");
  const after = [...grid.children].find((n) => n.dataset.edge > edge);
  grid.insertBefore(tile.root, after ?? null);
  tiles.set(key, tile);
  return tile;
}

function renderTile(key) {
  const tile = tileFor(key);
  const [school, edge] = key.split("/");
  const state = model.edges.get(key)?.state ?? "unknown";
  const names = [...(model.byEdge.get(key) ?? [])].sort();
  const devices = names.map((name) => model.devices.get(`${key}/${name}`));
  tile.root.dataset.state = state;
  tile.badge.dataset.state = state;
  tile.badge.textContent = t(EDGE_STATES.includes(state) ? state : "unknown");
  tile.room.textContent = devices.find((d) => d.room)?.room ?? edge;
  const info = model.edges.get(key);
  const notes = [];
  if (state === "offline" && info?.since) notes.push(`${t("offline")} ${t("since")} ${formatTime(Date.parse(info.since))}`);
  if (info?.outbox > 0) notes.push(`${t("outbox")}: ${info.outbox}`);
  tile.outbox.textContent = notes.join(" · ");
  if (devices.length === 0) {
    tile.list.replaceChildren(el("li", { class: "no-devices" }, t("noDevices")));
    return;
  }
  tile.list.replaceChildren(...devices.map((dev) => deviceItem(school, edge, dev)));
}

function deviceItem(school, edge, dev) {
  const id = `${school}-${edge}-${dev.device}`;
  const names = Object.keys(dev.values).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const values = names.map((name) => {
    const value = dev.values[name];
    return el("div", { class: "value", "data-level": levelOf(name, value),
      "data-testid": `value-${id}-${name}` },
      el("span", { class: "v-label" }, t(name)),
      el("span", { class: "v-num" }, formatValue(name, value)),
      el("span", { class: "v-unit" }, MEASURES[name]?.unit ?? ""));
  });
  return el("li", { class: isStale(dev) ? "device stale" : "device", "data-testid": `device-${id}` },
    el("div", { class: "device-head" },
      el("span", { class: "device-id" }, `${dev.device} · ${dev.kind}`),
      el("span", { class: "age", "data-ts": dev.ts ?? "", "data-testid": `age-${id}` },
        formatAge(dev.ts))),
    el("div", { class: "values" }, ...values));
}

function rank(name) {
  const i = MEASURE_ORDER.indexOf(name);
  return i < 0 ? MEASURE_ORDER.length : i;
}

function renderHeader() {
  const edges = new Set([...tiles.keys()]);
  const schools = new Set([...edges].map((k) => k.split("/")[0]));
  let offline = 0;
  for (const key of edges) if (model.edges.get(key)?.state === "offline") offline += 1;
  let online = 0;
  for (const dev of model.devices.values()) {
    const state = model.edges.get(`${dev.school}/${dev.edge}`)?.state;
    if (state === "online" && !isStale(dev)) online += 1;
  }
  let latest = 0;
  for (const dev of model.devices.values()) if (dev.ts) latest = Math.max(latest, Date.parse(dev.ts));
  for (const e of model.edges.values()) if (e.last_seen) latest = Math.max(latest, Date.parse(e.last_seen));
  const set = (id, text) => { document.querySelector(`[data-testid="${id}"]`).textContent = text; };
  set("count-schools", schools.size);
  set("count-rooms", edges.size);
  set("count-edges-offline", offline);
  document.querySelector('[data-testid="count-edges-offline"]').dataset.alert = offline > 0;
  set("count-devices-online", `${online} / ${model.devices.size}`);
  set("last-update", latest ? formatTime(latest) : "—");
  const sum = (field) => [...model.schools.values()].reduce((total, a) => total + a[field], 0);
  const number = (n) => n.toLocaleString(LOCALES[lang]);
  set("count-taps-today", number(sum("taps_today")));
  set("rate-taps", `${number(sum("taps_per_min"))} ${t("perMin")}`);
  set("count-dong-today", `${number(sum("dong_today"))} đ`);
  set("rate-payments",
    `${number(sum("payments_today"))} ${t("payments")} · ${number(sum("payments_per_min"))} ${t("perMin")}`);
  document.querySelector('[data-testid="empty"]')?.toggleAttribute("hidden", edges.size > 0);
}

function tick() {
  document.querySelector('[data-testid="clock"]').textContent = formatTime(serverNow());
  document.querySelector('[data-testid="clock-date"]').textContent = new Date(serverNow())
    .toLocaleDateString(LOCALES[lang], { timeZone: TIME_ZONE, weekday: "long", day: "2-digit",
      month: "2-digit", year: "numeric" });
  for (const age of document.querySelectorAll(".age")) {
    age.textContent = formatAge(age.dataset.ts);
    age.closest(".device").classList.toggle("stale", isStale({ ts: age.dataset.ts }));
  }
  renderHeader();
}

function setConn(state) {
  connState = state;
  showConnection(state, t(state));
}

function renderLegend() {
  const parts = [el("span", { class: "legend-title" }, `${t("legend")}:`)];
  for (const [name, spec] of Object.entries(MEASURES)) {
    if (!spec.limits) continue;
    const [warn, bad] = spec.limits.map((n) => formatValue(name, n));
    parts.push(el("span", { class: "legend-item" }, `${t(name)} (${spec.unit})`,
      el("b", { "data-level": "good" }, ` ${t("good")} < ${warn}`),
      el("b", { "data-level": "warn" }, ` ${t("warn")} < ${bad}`),
      el("b", { "data-level": "bad" }, ` ${t("bad")} ≥ ${bad}`)));
  }
  document.querySelector('[data-testid="legend"]').replaceChildren(...parts);
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.querySelector('[data-testid="lang-toggle"]').textContent = t("switchTo");
  setConn(connState);
  renderLegend();
  for (const key of tiles.keys()) renderTile(key);
  tick();
}

document.querySelector('[data-testid="lang-toggle"]').addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  const url = new URL(location.href);
  if (lang === "en") url.searchParams.set("lang", "en"); else url.searchParams.delete("lang");
  history.replaceState(null, "", url);
  applyLanguage();
});

applyLanguage();
liveStream("api/v1/live/stream", {
  snapshot: (e) => apply(JSON.parse(e.data), true),
  change: (e) => apply(JSON.parse(e.data), false),
}, "api/v1/live", setConn);
setInterval(tick, 1000);
