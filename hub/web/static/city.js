// City wall: schools by area on a tile map coloured by health, and the city's figures now.
// The map comes from the hub (the area map it is set to), the figures from its SSE stream
// ("city" events carry the whole city each time, so a reconnect needs no resume).
"use strict";

const I18N = {
  vi: {
    title: "Trung tâm điều hành — Toàn thành phố",
    byRoom: "Theo phòng",
    studentsPresent: "Học sinh có mặt hôm nay", devicesOnline: "Thiết bị trực tuyến",
    tapsPerMin: "Lượt quẹt thẻ mỗi phút", paymentsPerMin: "Thanh toán mỗi phút",
    dongToday: "Tiền thanh toán hôm nay", loansToday: "Lượt mượn sách hôm nay",
    alertsOpen: "Cảnh báo đang mở", roomsOverCo2: "Phòng vượt ngưỡng CO₂ (> 1.500 ppm)",
    attention: "Trường cần chú ý", allWell: "Mọi trường đều ổn.",
    live: "Trực tiếp", connecting: "Đang kết nối", reconnecting: "Đang kết nối lại",
    signedOut: "Màn hình chưa đăng nhập: mở /wall/login?token=… với mã của màn hình",
    switchTo: "EN",
    schools: (n) => `${n} trường`, areas: (n) => `${n} khu vực`,
    online: "trực tuyến", alerts: "cảnh báo", co2Rooms: "phòng CO₂ cao",
    legend: "Sức khoẻ thiết bị", good: "Tốt", warn: "Cần theo dõi", bad: "Sự cố",
    none: "Chưa có dữ liệu",
    legendRule: "Tốt: ≥ 95 % thiết bị trực tuyến, không cảnh báo · Sự cố: < 80 % hoặc nhiều cảnh báo",
  },
  en: {
    title: "Operations centre — City",
    byRoom: "By room",
    studentsPresent: "Students present today", devicesOnline: "Devices online",
    tapsPerMin: "Card taps per minute", paymentsPerMin: "Payments per minute",
    dongToday: "Paid today", loansToday: "Library loans today",
    alertsOpen: "Open alerts", roomsOverCo2: "Rooms over the CO₂ limit (> 1,500 ppm)",
    attention: "Schools needing attention", allWell: "Every school is fine.",
    live: "Live", connecting: "Connecting", reconnecting: "Reconnecting",
    signedOut: "This display is not signed in: open /wall/login?token=… with its token",
    switchTo: "VI",
    schools: (n) => `${n} ${n === 1 ? "school" : "schools"}`,
    areas: (n) => `${n} ${n === 1 ? "area" : "areas"}`,
    online: "online", alerts: "alerts", co2Rooms: "rooms high CO₂",
    legend: "Device health", good: "Good", warn: "Watch", bad: "Trouble", none: "No data yet",
    legendRule: "Good: ≥ 95 % of devices online, no alerts · Trouble: < 80 % or many alerts",
  },
};
const LOCALES = { vi: "vi-VN", en: "en-GB" };
const GROUPING = { vi: ".", en: "," };
const TIME_ZONE = "Asia/Ho_Chi_Minh";
const LANG_KEY = "smartschool.cityWall.lang";
const ATTENTION_ROWS = 9;
// Tile geometry in SVG units: one grid cell, and the gap between tiles.
const CELL_W = 180, CELL_H = 122, GAP = 8;

const model = { map: null, city: null, offsetMs: 0 };
const tiles = new Map(); // area id -> SVG elements
let lang = initialLanguage();
let connState = "connecting";

function initialLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "vi") return asked;
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "vi";
  } catch {
    return "vi"; // storage disabled: Vietnamese, the wall's default
  }
}

const t = (key) => I18N[lang][key] ?? key;
const serverNow = () => Date.now() + model.offsetMs;
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

// Digits grouped by hand: the wall PC's ICU data must not decide how money looks.
function number(n) {
  const whole = Math.round(Number(n) || 0);
  const digits = String(Math.abs(whole)).replace(/\B(?=(\d{3})+(?!\d))/g, GROUPING[lang]);
  return whole < 0 ? `−${digits}` : digits;
}
const dong = (n) => `${number(n)} ₫`;

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function drawMap() {
  const map = model.map;
  const root = byTestId("city-map");
  root.setAttribute("viewBox", `0 0 ${map.columns * CELL_W} ${map.rows * CELL_H}`);
  root.replaceChildren();
  tiles.clear();
  for (const area of [...map.areas, map.other]) {
    const x = area.col * CELL_W + GAP / 2, y = area.row * CELL_H + GAP / 2;
    const w = CELL_W - GAP, h = CELL_H - GAP;
    const group = svg("g", { class: "area", "data-testid": `area-${area.id}`, "data-health": "none",
      "data-area": area.id });
    const tile = {
      group,
      name: svg("text", { x: x + 12, y: y + 30, class: "area-name" }),
      schools: svg("text", { x: x + 12, y: y + 58, class: "area-line",
        "data-testid": `area-schools-${area.id}` }),
      online: svg("text", { x: x + 12, y: y + 84, class: "area-line",
        "data-testid": `area-online-${area.id}` }),
      alerts: svg("text", { x: x + w - 12, y: y + 30, class: "area-alerts", "text-anchor": "end",
        "data-testid": `area-alerts-${area.id}` }),
      title: svg("title"),
      area,
    };
    group.append(svg("rect", { x, y, width: w, height: h, rx: 12, class: "area-tile" }),
      tile.title, tile.name, tile.schools, tile.online, tile.alerts);
    if (area.id === map.other.id) group.classList.add("other");
    root.append(group);
    tiles.set(area.id, tile);
  }
  renderMap();
}

function renderMap() {
  if (!model.map) return;
  byTestId("map-title").textContent = model.map.title[lang];
  byTestId("map-note").textContent = model.map.note ? model.map.note[lang] : "";
  const figures = new Map((model.city?.areas ?? []).map((a) => [a.id, a]));
  for (const [id, tile] of tiles) {
    const area = figures.get(id);
    const health = area?.health ?? "none";
    tile.group.dataset.health = health;
    tile.group.classList.toggle("empty", !area || area.schools === 0);
    tile.name.textContent = tile.area[lang];
    tile.schools.textContent = area ? t("schools")(area.schools) : "";
    tile.online.textContent = area && area.edges_total
      ? `${number(area.edges_online)} / ${number(area.edges_total)} ${t("online")}` : "";
    tile.alerts.textContent = area && area.alerts_open ? `⚠ ${number(area.alerts_open)}` : "";
    tile.title.textContent = `${tile.area[lang]} — ${t(health)}`;
  }
}

function renderFigures() {
  const city = model.city;
  if (!city) return;
  const totals = city.totals;
  const set = (id, text) => { byTestId(id).textContent = text; };
  set("fig-students-present", number(totals.students_present));
  set("fig-devices-online", `${number(totals.edges_online)} / ${number(totals.edges_total)}`);
  set("fig-taps-per-min", number(totals.taps_per_min));
  set("fig-payments-per-min", number(totals.payments_per_min));
  set("fig-dong-today", dong(totals.dong_today));
  set("fig-loans-today", number(totals.loans_today));
  set("fig-alerts-open", number(totals.alerts_open));
  set("fig-rooms-over-co2", number(totals.rooms_over_co2));
  byTestId("fig-alerts-open").dataset.alert = totals.alerts_open > 0;
  byTestId("fig-rooms-over-co2").dataset.alert = totals.rooms_over_co2 > 0;
  const offline = totals.edges_total - totals.edges_online;
  byTestId("fig-devices-online").dataset.alert = offline > 0;
  const areas = city.areas.filter((a) => a.schools > 0).length;
  set("subtitle", `${t("schools")(totals.schools)} · ${t("areas")(areas)}`);
  renderAttention();
}

function renderAttention() {
  // The hub sends the schools needing attention, worst first.
  const schools = model.city?.attention ?? [];
  const list = byTestId("attention-list");
  if (schools.length === 0) {
    list.replaceChildren(el("li", { class: "all-well" }, t("allWell")));
    return;
  }
  const areaName = (s) => {
    const tile = tiles.get(s.tile)?.area;
    return s.tile === model.map?.other.id && s.area ? s.area : tile ? tile[lang] : s.area;
  };
  list.replaceChildren(...schools.slice(0, ATTENTION_ROWS).map((s) => {
    const facts = [`${number(s.edges_online)} / ${number(s.edges_total)} ${t("online")}`];
    if (s.alerts_open) facts.push(`${number(s.alerts_open)} ${t("alerts")}`);
    if (s.rooms_over_co2) facts.push(`${number(s.rooms_over_co2)} ${t("co2Rooms")}`);
    return el("li", { "data-health": s.health, "data-testid": `attention-${s.school}` },
      el("span", { class: "dot" }),
      el("span", { class: "school-name" }, s.name),
      el("span", { class: "school-area" }, areaName(s)),
      el("span", { class: "school-facts" }, facts.join(" · ")));
  }));
}

function renderLegend() {
  const items = ["good", "warn", "bad", "none"].map((level) =>
    el("span", { class: "legend-item", "data-health": level }, el("span", { class: "swatch" }),
      t(level)));
  byTestId("legend").replaceChildren(el("span", { class: "legend-title" }, `${t("legend")}:`),
    ...items, el("span", { class: "legend-rule" }, t("legendRule")));
}

function tick() {
  byTestId("clock").textContent = new Date(serverNow())
    .toLocaleTimeString(LOCALES[lang], { timeZone: TIME_ZONE, hour12: false });
  byTestId("clock-date").textContent = new Date(serverNow())
    .toLocaleDateString(LOCALES[lang], { timeZone: TIME_ZONE, weekday: "long", day: "2-digit",
      month: "2-digit", year: "numeric" });
}

function setConn(state) {
  connState = state;
  showConnection(state, t(state));
}

function onCity(event) {
  const city = JSON.parse(event.data);
  if (city.now) model.offsetMs = Date.parse(city.now) - Date.now();
  model.city = city;
  renderMap();
  renderFigures();
  document.body.dataset.version = city.version; // lets a test see that an event was drawn
}

async function loadMap() {
  // The map is what the hub is set to (former districts by default): without it, retry.
  for (;;) {
    try {
      const answer = await fetch("../api/v1/live/city/map", { cache: "no-cache" });
      if (answer.ok) {
        model.map = await answer.json();
        drawMap();
        return;
      }
    } catch {
      // the hub is restarting: try again below
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  byTestId("lang-toggle").textContent = t("switchTo");
  setConn(connState);
  renderLegend();
  renderMap();
  renderFigures();
  tick();
}

byTestId("lang-toggle").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // storage disabled: the switch still holds for this page
  }
  const url = new URL(location.href);
  if (url.searchParams.has("lang")) {
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
  }
  applyLanguage();
});

applyLanguage();
loadMap().then(() => liveStream("../api/v1/live/city/stream", { city: onCity },
  "../api/v1/live/city/map", setConn));
setInterval(tick, 1000);
