// Technicians' console: edges by school and room, one edge's devices and commands, and alerts.
// Every figure comes from the token-protected health and command APIs, polled every 2 s; the
// live wall's public stream only wakes a refresh early when an edge or an alert count changes.
"use strict";

// "/" or a reverse proxy's prefix: every URL is built from it, never from the host.
const ROOT = location.pathname.replace(/console\/?$/, "");
const TOKEN_KEY = "ss-console-token"; // sessionStorage: gone when the tab closes
const LANG_KEY = "ss-console-lang";
const POLL_MS = 2000;
const NUDGE_GAP_MS = 400; // at most this often when the stream reports edges changing state
const CMD_POLL_MS = 500;
const LATE_WATCH_MS = 60000; // after a timeout, a late answer still shows up for this long
const TIME_ZONE = "Asia/Ho_Chi_Minh";
const LOCALES = { vi: "vi-VN", en: "en-GB" };

const I18N = {
  vi: {
    title: "Bảng điều khiển kỹ thuật",
    subtitle: "Thiết bị trường học thông minh TP. Hồ Chí Minh",
    online: "Trực tuyến", offline: "Mất kết nối", unknown: "Chưa rõ",
    alertsActive: "Cảnh báo chưa xong", signOut: "Đăng xuất", switchTo: "EN",
    signInTitle: "Đăng nhập bằng mã truy cập",
    signInHint: "Dán mã truy cập (bearer token) do quản trị viên cấp. Mã chỉ được giữ trong thẻ trình duyệt này và mất khi đóng thẻ.",
    tokenLabel: "Mã truy cập", signIn: "Đăng nhập", signingIn: "Đang kiểm tra mã…",
    edgesTitle: "Hộp edge theo trường và phòng", school: "Trường", room: "Phòng", rooms: "Phòng",
    state: "Trạng thái", all: "Tất cả", search: "Tìm", searchHint: "mã hộp, phòng, phiên bản…",
    noEdges: "Không có hộp edge nào khớp bộ lọc.", edge: "Hộp",
    detailTitle: "Chi tiết hộp edge",
    pickEdge: "Chọn một hộp edge trong danh sách để xem thiết bị và gửi lệnh.",
    devicesTitle: "Thiết bị và giá trị gần nhất", device: "Thiết bị", kind: "Loại",
    health: "Tình trạng", errors: "Lỗi", values: "Giá trị", readAt: "Lúc đọc",
    noDevices: "Hộp chưa báo thiết bị nào.",
    devicesStale: "Hộp đang không kết nối: đây là giá trị và tình trạng cuối cùng hộp gửi được.",
    commandTitle: "Gửi lệnh", command: "Lệnh",
    cmd_identify: "identify — nhận diện hộp", cmd_sync: "sync — gửi ngay hàng đợi",
    cmd_reload: "reload — nạp lại cấu hình", cmd_reboot: "reboot — khởi động lại",
    cmd_board_power: "board.power — bật/tắt bảng tương tác",
    power: "Nguồn bảng", powerOn: "Bật", powerOff: "Tắt", timeout: "Chờ tối đa (giây)",
    send: "Gửi lệnh", sending: "Đang gửi…",
    historyTitle: "Lệnh đã gửi tới hộp này", sentAt: "Gửi lúc", code: "Mã", sentBy: "Người gửi",
    noHistory: "Chưa có lệnh nào.",
    alertsTitle: "Cảnh báo", show: "Hiển thị", alertsActiveOpt: "Chưa xong (mở và đã nhận)",
    alert_open: "Đang mở", alert_acked: "Đã nhận xử lý", alert_resolved: "Đã hết",
    severity: "Mức", alert: "Cảnh báo", where: "Ở đâu", openedAt: "Mở lúc",
    noAlerts: "Không có cảnh báo.", ack: "Nhận xử lý", acking: "Đang gửi…",
    sev_critical: "Nghiêm trọng", sev_warning: "Cảnh báo",
    rule_edge_offline: "Hộp mất kết nối", rule_device_silent: "Thiết bị im lặng",
    rule_device_errors: "Thiết bị lỗi", rule_outbox_growing: "Hàng đợi gửi tăng",
    rule_messages_refused: "Broker từ chối tin", refused: "Tin bị từ chối",
    rule_disk_full: "Ổ đĩa đầy", rule_cpu_hot: "CPU nóng", rule_co2_high: "CO₂ cao",
    rule_pm25_high: "PM2.5 cao",
    ackedBy: (who, when) => `bởi ${who} lúc ${when}`,
    resolvedAt: (when) => `lúc ${when}`,
    cmd_state_sent: "Đang chờ hộp trả lời", cmd_state_ok: "Hộp đã thực hiện",
    cmd_state_failed: "Hộp báo thất bại", cmd_state_timeout: "Quá thời gian chờ",
    cmd_state_late_ok: "Hộp đã thực hiện (trả lời muộn)",
    cmd_state_late_failed: "Hộp báo thất bại (trả lời muộn)",
    sentByAt: (who, when) => `Gửi bởi ${who} lúc ${when}`,
    answeredIn: (ms) => `hộp trả lời sau ${ms} ms`,
    deadlineAt: (when) => `chờ đến ${when}`,
    confirmReboot: (edge) => `Khởi động lại hộp ${edge}? Các thiết bị của hộp sẽ tạm ngừng.`,
    since: "từ", lastSeen: "Nghe thấy lần cuối", fw: "Phần mềm", uptime: "Đã chạy",
    cpu: "CPU", mem: "Bộ nhớ", disk: "Ổ đĩa", temp: "Nhiệt độ CPU", outbox: "Hàng đợi gửi",
    devices: "Thiết bị", alertsOpen: "Cảnh báo", lastReading: "Giá trị mới nhất",
    ok: "Tốt", fault: "Lỗi", devicesOk: (ok, total) => `${ok}/${total} tốt`,
    role_admin: "quản trị", role_technician: "kỹ thuật viên", role_staff: "nhân viên trường",
    role_cashier: "thu ngân", role_parent: "phụ huynh", role_edge: "hộp edge",
    allSchools: "mọi trường", expires: "hết hạn",
    connLive: "Cập nhật lúc", connError: "Không kết nối được tới hub", connIdle: "Chưa đăng nhập",
    err401: "Mã truy cập bị từ chối (401)", signInAgain: "Hãy đăng nhập lại bằng mã mới.",
    err403: "Mã truy cập này không có quyền làm việc này (403)",
    err403view: "Mã truy cập này không được xem thiết bị (403): cần vai trò quản trị, kỹ thuật viên hoặc nhân viên trường.",
    errNetwork: "Không kết nối được tới hub; đang thử lại.", errHttp: "Hub trả lời lỗi",
    errInvalid: "Dữ liệu không hợp lệ", errEmpty: "Hãy dán mã truy cập.",
    temp_c: "Nhiệt độ", rh_pct: "Độ ẩm", noise_db: "Tiếng ồn", lux: "Ánh sáng", power_w: "Công suất",
    units: { s: "giây", m: "phút", h: "giờ", d: "ngày" },
    ago: (text) => `${text} trước`,
  },
  en: {
    title: "Technicians' console",
    subtitle: "Ho Chi Minh City smart-school devices",
    online: "Online", offline: "Offline", unknown: "Unknown",
    alertsActive: "Alerts not done", signOut: "Sign out", switchTo: "VI",
    signInTitle: "Sign in with an access token",
    signInHint: "Paste the access (bearer) token your administrator gave you. It is kept in this browser tab only and is gone when the tab closes.",
    tokenLabel: "Access token", signIn: "Sign in", signingIn: "Checking the token…",
    edgesTitle: "Edge boxes by school and room", school: "School", room: "Room", rooms: "Rooms",
    state: "State", all: "All", search: "Search", searchHint: "box id, room, firmware…",
    noEdges: "No edge box matches the filters.", edge: "Box",
    detailTitle: "Edge box detail",
    pickEdge: "Pick an edge box in the list to see its devices and send commands.",
    devicesTitle: "Devices and latest values", device: "Device", kind: "Kind",
    health: "Health", errors: "Errors", values: "Values", readAt: "Read at",
    noDevices: "The box has reported no device yet.",
    devicesStale: "The box is not connected: these are the last values and health it sent.",
    commandTitle: "Send a command", command: "Command",
    cmd_identify: "identify — show which box this is", cmd_sync: "sync — send the outbox now",
    cmd_reload: "reload — reload the configuration", cmd_reboot: "reboot — restart",
    cmd_board_power: "board.power — interactive board on/off",
    power: "Board power", powerOn: "On", powerOff: "Off", timeout: "Wait at most (s)",
    send: "Send command", sending: "Sending…",
    historyTitle: "Commands sent to this box", sentAt: "Sent at", code: "Code", sentBy: "Sent by",
    noHistory: "No command yet.",
    alertsTitle: "Alerts", show: "Show", alertsActiveOpt: "Not done (open and acknowledged)",
    alert_open: "Open", alert_acked: "Acknowledged", alert_resolved: "Resolved",
    severity: "Severity", alert: "Alert", where: "Where", openedAt: "Opened at",
    noAlerts: "No alerts.", ack: "Acknowledge", acking: "Sending…",
    sev_critical: "Critical", sev_warning: "Warning",
    rule_edge_offline: "Edge offline", rule_device_silent: "Device silent",
    rule_device_errors: "Device errors", rule_outbox_growing: "Outbox growing",
    rule_messages_refused: "Messages refused", refused: "Refused by the broker",
    rule_disk_full: "Disk full", rule_cpu_hot: "CPU hot", rule_co2_high: "CO₂ high",
    rule_pm25_high: "PM2.5 high",
    ackedBy: (who, when) => `by ${who} at ${when}`,
    resolvedAt: (when) => `at ${when}`,
    cmd_state_sent: "Waiting for the box", cmd_state_ok: "Done by the box",
    cmd_state_failed: "Failed on the box", cmd_state_timeout: "Timed out",
    cmd_state_late_ok: "Done by the box (late answer)",
    cmd_state_late_failed: "Failed on the box (late answer)",
    sentByAt: (who, when) => `Sent by ${who} at ${when}`,
    answeredIn: (ms) => `the box answered in ${ms} ms`,
    deadlineAt: (when) => `waiting until ${when}`,
    confirmReboot: (edge) => `Restart box ${edge}? Its devices pause meanwhile.`,
    since: "since", lastSeen: "Last heard", fw: "Firmware", uptime: "Up for",
    cpu: "CPU", mem: "Memory", disk: "Disk", temp: "CPU temperature", outbox: "Outbox",
    devices: "Devices", alertsOpen: "Alerts", lastReading: "Latest value",
    ok: "OK", fault: "Fault", devicesOk: (ok, total) => `${ok}/${total} OK`,
    role_admin: "administrator", role_technician: "technician", role_staff: "school staff",
    role_cashier: "cashier", role_parent: "parent", role_edge: "edge box",
    allSchools: "every school", expires: "expires",
    connLive: "Updated at", connError: "Cannot reach the hub", connIdle: "Not signed in",
    err401: "The access token was refused (401)", signInAgain: "Please sign in again with a new token.",
    err403: "This access token may not do that (403)",
    err403view: "This access token may not view devices (403): an administrator, technician or school staff role is needed.",
    errNetwork: "Cannot reach the hub; retrying.", errHttp: "The hub answered an error",
    errInvalid: "Invalid data", errEmpty: "Please paste an access token.",
    temp_c: "Temperature", rh_pct: "Humidity", noise_db: "Noise", lux: "Light", power_w: "Power",
    units: { s: "s", m: "min", h: "h", d: "d" },
    ago: (text) => `${text} ago`,
  },
};

// Units and decimals of the values devices send (names carry their unit, as on the wire).
const MEASURES = {
  co2_ppm: ["CO₂", "ppm", 0], pm25_ugm3: ["PM2.5", "µg/m³", 0], pm10_ugm3: ["PM10", "µg/m³", 0],
  pm1_ugm3: ["PM1", "µg/m³", 0], temp_c: ["", "°C", 1], rh_pct: ["", "%", 0],
  noise_db: ["", "dB", 0], lux: ["", "lx", 0], power_w: ["", "W", 0],
};
const COMMAND_DONE = new Set(["ok", "failed", "late_ok", "late_failed"]);

const state = {
  token: null, claims: null, offsetMs: 0,
  edges: [], schools: new Set(), alerts: [],
  selected: null, detail: null, history: [], command: null, watch: 0,
  errors: new Map(), conn: "idle", updatedAt: null,
  timer: null, refreshing: false, again: false, lastRefresh: 0,
  stream: null, streamStates: new Map(),
};
const rows = { schools: new Map(), edges: new Map(), devices: new Map(), alerts: new Map() };
let lang = chooseLang();

// -- small helpers --------------------------------------------------------------------------

const t = (key) => I18N[lang][key] ?? I18N.vi[key] ?? key;
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const serverNow = () => Date.now() + state.offsetMs;
const edgeKey = (school, edge) => `${school}/${edge}`;

function chooseLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "vi") return asked;
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "vi";
  } catch {
    return "vi";
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// Put ``nodes`` in ``parent`` in this order after its first ``keep`` children, moving only
// what is out of place (a moved node loses hover and focus), and drop the rest.
function place(parent, nodes, keep = 0) {
  nodes.forEach((node, i) => {
    const at = parent.children[keep + i];
    if (at !== node) parent.insertBefore(node, at || null);
  });
  while (parent.children.length > keep + nodes.length) parent.lastElementChild.remove();
}

function number(value, digits = 0) {
  return new Intl.NumberFormat(LOCALES[lang], {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(value);
}

function dayOf(ms) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE }).format(new Date(ms));
}

const CLOCK = new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, day: "2-digit",
  month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

// A moment in the city's time: "HH:MM:SS" today, "dd/MM HH:MM:SS" on another day (both
// languages write dates day first).
function when(iso) {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const p = Object.fromEntries(CLOCK.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const time = `${p.hour}:${p.minute}:${p.second}`;
  return dayOf(ms) === dayOf(serverNow()) ? time : `${p.day}/${p.month} ${time}`;
}

function span(seconds) {
  const units = t("units");
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} ${units.s}`;
  if (s < 3600) return `${Math.floor(s / 60)} ${units.m}`;
  if (s < 86400) return `${Math.floor(s / 3600)} ${units.h}`;
  return `${Math.floor(s / 86400)} ${units.d}`;
}

function ago(iso) {
  if (!iso) return "";
  return t("ago")(span((serverNow() - Date.parse(iso)) / 1000));
}

function measure(name, value) {
  const [label, unit, digits] = MEASURES[name] || [name, "", 2];
  const shown = typeof value === "number" ? number(value, digits) : String(value);
  return { label: label || t(name) || name, text: unit ? `${shown} ${unit}` : shown };
}

function level(value, warn, bad) {
  if (value === null || value === undefined) return "none";
  return value >= bad ? "bad" : value >= warn ? "warn" : "good";
}

function pct(value) {
  return value === null || value === undefined ? "—" : `${number(value)} %`;
}

function celsius(value) {
  return value === null || value === undefined ? "—" : `${number(value, 1)} °C`;
}

// The token's claims, read for display only: the hub checks the signature on every call.
function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")),
      (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

// -- the API ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${ROOT}api/v1/${path}`, init);
  } catch {
    throw new ApiError(0, null);
  }
  const date = Date.parse(response.headers.get("date") || "");
  if (!Number.isNaN(date)) state.offsetMs = date - Date.now(); // "ago" by the hub's clock
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) throw new ApiError(response.status, payload ? payload.detail : null);
  return payload;
}

// What an error says, in the page's language: ours first, then the hub's own words.
function errorText(error) {
  if (error.key) return t(error.key);
  const detail = error.detail;
  const said = detail && typeof detail === "object" && !Array.isArray(detail) && detail.vi
    ? detail[lang] || detail.vi : typeof detail === "string" ? detail : null;
  if (error.status === 0) return t("errNetwork");
  if (error.status === 401) return `${t("err401")}${said ? `: ${said}` : ""}. ${t("signInAgain")}`;
  if (error.status === 403) return `${t(error.view ? "err403view" : "err403")}${said && !error.view ? `: ${said}` : ""}`;
  if (said) return said;
  if (Array.isArray(detail)) return `${t("errInvalid")}: ${detail.map((d) => d.msg).join("; ")}`;
  return `${t("errHttp")} (${error.status})`;
}

function showError(id, error) {
  state.errors.set(id, error);
  const box = $(id);
  setText(box, errorText(error));
  box.hidden = false;
}

function clearError(id) {
  if (!state.errors.delete(id)) return;
  $(id).hidden = true;
}

// A failed call: a refused token ends the session; anything else shows where it happened.
function failed(error, where) {
  if (error.status === 401) {
    signOut(error);
    return;
  }
  showError(where, error);
  if (error.status === 0) setConn("error");
}

function setConn(conn) {
  state.conn = conn;
  if (conn === "live") state.updatedAt = new Date(serverNow()).toISOString();
  renderConn();
}

// -- sign-in ------------------------------------------------------------------------------

async function signIn(raw, quiet = false) {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  if (!token) {
    showError("signin-error", { key: "errEmpty" });
    return;
  }
  const button = $("signin-submit");
  button.disabled = true;
  setText(button, t("signingIn"));
  state.token = token;
  try {
    await call("GET", "health/edges");
  } catch (error) {
    state.token = null;
    if (error.status === 403) error.view = true;
    if (!quiet || error.status !== 0) showError("signin-error", error);
    return;
  } finally {
    button.disabled = false;
    setText(button, t("signIn"));
  }
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Private modes may refuse storage: the session then lasts until a reload.
  }
  state.claims = claimsOf(token);
  clearError("signin-error");
  $("signin-token").value = "";
  document.body.dataset.signedIn = "true";
  $("signin").hidden = true;
  $("console").hidden = false;
  $("signout").hidden = false;
  renderWho();
  // The live stream (an EventSource, which sends no headers) reads the token from a cookie.
  call("POST", "session").then(openStream, () => {});
  const wanted = decodeURIComponent(location.hash.slice(1)).split("/");
  if (wanted.length === 2 && wanted[0] && wanted[1]) select(wanted[0], wanted[1]);
  refresh();
}

function signOut(reason = null) {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing kept, nothing to remove
  }
  clearTimeout(state.timer);
  if (state.stream) state.stream.close();
  if (state.token) call("DELETE", "session").catch(() => {});
  Object.assign(state, { token: null, claims: null, stream: null, edges: [], alerts: [],
    selected: null, detail: null, history: [], command: null, watch: state.watch + 1 });
  state.schools.clear();
  state.streamStates.clear();
  for (const map of Object.values(rows)) map.clear();
  $("edges").replaceChildren();
  $("alerts").replaceChildren();
  $("devices").replaceChildren();
  for (const id of [...state.errors.keys()]) clearError(id);
  document.body.dataset.signedIn = "false";
  $("console").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  history.replaceState(null, "", location.pathname + location.search);
  if (reason) showError("signin-error", reason);
  setConn("idle");
  renderWho();
  $("signin-token").focus();
}

// -- refreshing -----------------------------------------------------------------------------

async function refresh() {
  if (!state.token) return;
  if (state.refreshing) {
    state.again = true;
    return;
  }
  clearTimeout(state.timer);
  state.refreshing = true;
  state.lastRefresh = Date.now();
  try {
    const results = await Promise.all([loadEdges(), loadAlerts(), loadDetail()]);
    if (state.token && results.every(Boolean)) setConn("live");
  } finally {
    state.refreshing = false;
    if (state.token) {
      const delay = state.again ? NUDGE_GAP_MS : POLL_MS;
      state.again = false;
      state.timer = setTimeout(refresh, delay);
    }
  }
}

function refreshSoon() {
  if (!state.token) return;
  if (state.refreshing) {
    state.again = true;
    return;
  }
  clearTimeout(state.timer);
  const wait = Math.max(0, NUDGE_GAP_MS - (Date.now() - state.lastRefresh));
  state.timer = setTimeout(refresh, wait);
}

async function loadEdges() {
  const school = $("filter-school").value;
  try {
    const body = await call("GET", `health/edges${school ? `?school=${encodeURIComponent(school)}` : ""}`);
    if (!state.token) return false;
    state.edges = body.edges;
    for (const edge of body.edges) state.schools.add(edge.school);
    clearError("edges-error");
    renderEdges();
    return true;
  } catch (error) {
    failed(error, "edges-error");
    return false;
  }
}

async function loadAlerts() {
  const which = $("alerts-filter").value;
  try {
    const body = await call("GET", `health/alerts?limit=200${which ? `&state=${which}` : ""}`);
    if (!state.token) return false;
    state.alerts = body.alerts;
    clearError("alerts-error");
    renderAlerts();
    return true;
  } catch (error) {
    failed(error, "alerts-error");
    return false;
  }
}

async function loadDetail() {
  const chosen = state.selected;
  if (!chosen) return true;
  const path = `${encodeURIComponent(chosen.school)}/${encodeURIComponent(chosen.edge)}`;
  try {
    const [detail, history] = await Promise.all([
      call("GET", `health/edges/${path}`),
      call("GET", `edges/${path}/commands?limit=10`).catch((error) => {
        // Staff may read health but not commands: the history stays empty for them.
        if (error.status === 403) return { commands: [] };
        throw error;
      }),
    ]);
    if (state.selected !== chosen) return true; // another edge was picked meanwhile
    state.detail = detail;
    state.history = history.commands;
    clearError("detail-error");
    renderDetail();
    return true;
  } catch (error) {
    if (state.selected === chosen) failed(error, "detail-error");
    return false;
  }
}

// The walls' live stream says when an edge changes state or a school's open alerts change;
// the console then asks its own (token-protected) API at once instead of at the next poll.
// Nothing from the stream is shown.
function openStream() {
  if (!window.EventSource || state.stream) return;
  const stream = new EventSource(`${ROOT}api/v1/live/stream`);
  const take = (event) => {
    let payload;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return;
    }
    let moved = false;
    for (const edge of payload.edges || []) {
      const key = edgeKey(edge.school, edge.edge);
      if (state.streamStates.get(key) !== edge.state) moved = true;
      state.streamStates.set(key, edge.state);
    }
    for (const school of payload.schools || []) {
      // The health monitor publishes each school's count of open alerts: one opened or ended.
      const key = `alerts:${school.school}`;
      if (state.streamStates.get(key) !== school.alerts_open) moved = true;
      state.streamStates.set(key, school.alerts_open);
    }
    if (moved && event.type === "change") refreshSoon();
  };
  stream.addEventListener("snapshot", take);
  stream.addEventListener("change", take);
  state.stream = stream;
}

// -- the edges --------------------------------------------------------------------------------

function visibleEdges() {
  const room = $("filter-room").value.toLowerCase();
  const wanted = $("filter-state").value;
  const text = $("filter-text").value.trim().toLowerCase();
  return state.edges.filter((e) => (!wanted || e.state === wanted)
    && (!room || e.rooms.some((r) => r.toLowerCase() === room))
    && (!text || [e.school, e.edge, e.fw, ...e.rooms].some((v) => v && v.toLowerCase().includes(text))));
}

function syncOptions(select, values) {
  const current = select.value;
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.length === values.length && have.every((v, i) => v === values[i])) return;
  place(select, values.map((v) => {
    const found = [...select.options].find((o) => o.value === v);
    return found || el("option", { value: v }, v);
  }), 1);
  select.value = values.includes(current) ? current : "";
}

function renderEdges() {
  syncOptions($("filter-school"), [...state.schools].sort());
  syncOptions($("filter-room"), [...new Set(state.edges.flatMap((e) => e.rooms))]
    .sort((a, b) => a.localeCompare(b, "vi")));
  const counts = { online: 0, offline: 0, unknown: 0 };
  let alerts = 0;
  for (const e of state.edges) {
    counts[e.state] = (counts[e.state] || 0) + 1;
    alerts += e.alerts_open;
  }
  for (const [name, count] of Object.entries(counts)) setText($(`count-${name}`), number(count));
  setText($("count-alerts"), number(alerts));
  $("count-offline").parentElement.dataset.alert = counts.offline > 0;
  $("count-alerts").parentElement.dataset.alert = alerts > 0;

  const shown = visibleEdges();
  const bySchool = new Map();
  for (const edge of shown) {
    if (!bySchool.has(edge.school)) bySchool.set(edge.school, []);
    bySchool.get(edge.school).push(edge);
  }
  const sections = [...bySchool.keys()].sort().map((school) => {
    const group = schoolGroup(school);
    const edges = bySchool.get(school);
    const online = edges.filter((e) => e.state === "online").length;
    setText(group.count, `${t("online")}: ${number(online)} / ${number(edges.length)}`);
    place(group.body, edges.map(edgeRow));
    return group.section;
  });
  place($("edges"), sections);
  for (const school of [...rows.schools.keys()]) if (!bySchool.has(school)) rows.schools.delete(school);
  const keep = new Set(shown.map((e) => edgeKey(e.school, e.edge)));
  for (const key of [...rows.edges.keys()]) if (!keep.has(key)) rows.edges.delete(key);
  $("edges-empty").hidden = shown.length > 0;
}

function schoolGroup(school) {
  let group = rows.schools.get(school);
  if (group) return group;
  const count = el("span", { class: "group-count", "data-testid": `school-count-${school}` });
  const head = el("tr", {}, ...["state", "edge", "rooms", "devices", "alertsOpen", "outbox", "disk",
    "temp", "lastSeen"].map((key) => el("th", { "data-i18n": key,
    class: ["alertsOpen", "outbox", "disk", "temp"].includes(key) ? "num" : null }, t(key))));
  const body = el("tbody");
  const section = el("section", { class: "school", "data-testid": `school-${school}` },
    el("h3", {}, el("span", { class: "school-id" }, school), count),
    el("table", { class: "grid edges" }, el("thead", {}, head), body));
  group = { section, body, count };
  rows.schools.set(school, group);
  return group;
}

function edgeRow(edge) {
  const key = edgeKey(edge.school, edge.edge);
  const id = `${edge.school}-${edge.edge}`;
  let row = rows.edges.get(key);
  if (!row) {
    const cell = (name, extra = {}) => el("td", { "data-testid": `edge-${name}-${id}`, ...extra });
    row = {
      tr: el("tr", { "data-testid": `edge-${id}`, tabindex: "0", class: "pick" }),
      state: el("span", { class: "badge", "data-testid": `edge-state-${id}` }),
      since: el("div", { class: "sub", "data-testid": `edge-since-${id}` }),
      name: el("strong"), fw: el("div", { class: "sub" }),
      rooms: cell("rooms"), devices: cell("devices"), alerts: cell("alerts", { class: "num" }),
      outbox: cell("outbox", { class: "num" }), disk: cell("disk", { class: "num" }),
      temp: cell("temp", { class: "num" }), seen: cell("seen"),
    };
    row.tr.append(el("td", {}, row.state, row.since), el("td", {}, row.name, row.fw), row.rooms,
      row.devices, row.alerts, row.outbox, row.disk, row.temp, row.seen);
    const pick = () => select(edge.school, edge.edge);
    row.tr.addEventListener("click", pick);
    row.tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        pick();
      }
    });
    rows.edges.set(key, row);
  }
  row.tr.dataset.state = edge.state;
  row.tr.setAttribute("aria-selected", String(state.selected !== null
    && edgeKey(state.selected.school, state.selected.edge) === key));
  row.state.dataset.state = edge.state;
  setText(row.state, t(edge.state));
  setText(row.since, edge.since ? `${t("since")} ${when(edge.since)} · ${span((serverNow() - Date.parse(edge.since)) / 1000)}` : "");
  setText(row.name, edge.edge);
  setText(row.fw, edge.fw || "");
  setText(row.rooms, edge.rooms.join(", ") || "—");
  const okCount = edge.devices_total - edge.devices_failing;
  const errorNote = edge.errors ? ` · ${number(edge.errors)} ${t("errors").toLowerCase()}` : "";
  setText(row.devices, edge.devices_total
    ? t("devicesOk")(number(okCount), number(edge.devices_total)) + errorNote : "—");
  row.devices.dataset.level = edge.devices_failing > 0 ? "bad" : "none";
  setText(row.alerts, number(edge.alerts_open));
  row.alerts.dataset.level = edge.alerts_open > 0 ? "warn" : "none";
  setText(row.outbox, number(edge.outbox));
  row.outbox.dataset.level = level(edge.outbox, 100, 1000);
  setText(row.disk, pct(edge.disk_pct));
  row.disk.dataset.level = level(edge.disk_pct, 80, 90);
  setText(row.temp, celsius(edge.temp_c));
  row.temp.dataset.level = level(edge.temp_c, 70, 80);
  setText(row.seen, edge.last_seen ? ago(edge.last_seen) : "—");
  return row.tr;
}

// -- one edge ------------------------------------------------------------------------------

function select(school, edge) {
  const same = state.selected && state.selected.school === school && state.selected.edge === edge;
  if (same) return;
  state.selected = { school, edge };
  state.detail = null;
  state.history = [];
  state.command = null;
  state.watch += 1;
  rows.devices.clear();
  $("devices").replaceChildren();
  clearError("detail-error");
  clearError("cmd-error");
  history.replaceState(null, "", `${location.pathname}${location.search}#${encodeURIComponent(school)}/${encodeURIComponent(edge)}`);
  for (const [key, row] of rows.edges) row.tr.setAttribute("aria-selected", String(key === edgeKey(school, edge)));
  renderDetail();
  refreshSoon();
}

function renderDetail() {
  const chosen = state.selected;
  const detail = state.detail;
  $("detail-empty").hidden = chosen !== null;
  $("detail-body").hidden = detail === null;
  const badge = $("detail-state");
  if (!chosen) {
    setText($("detail-title"), t("detailTitle"));
    badge.dataset.state = "none";
    setText(badge, "");
    return;
  }
  setText($("detail-title"), `${chosen.school} / ${chosen.edge}`);
  if (!detail) return;
  badge.dataset.state = detail.state;
  setText(badge, `${t(detail.state)}${detail.since ? ` ${t("since")} ${when(detail.since)}` : ""}`);
  const figure = (key, text, lvl = "none", wide = false) => el("div", {
    class: wide ? "figure wide" : "figure", "data-level": lvl, title: text },
  el("dt", {}, t(key)), el("dd", { "data-testid": `detail-${key}` }, text));
  $("detail-figures").replaceChildren(
    figure("lastSeen", detail.last_seen ? `${when(detail.last_seen)} · ${ago(detail.last_seen)}` : "—",
      "none", true),
    figure("fw", detail.fw || "—"),
    figure("uptime", detail.uptime_s === null ? "—" : span(detail.uptime_s)),
    figure("cpu", pct(detail.cpu_pct)),
    figure("mem", pct(detail.mem_pct)),
    figure("disk", pct(detail.disk_pct), level(detail.disk_pct, 80, 90)),
    figure("temp", celsius(detail.temp_c), level(detail.temp_c, 70, 80)),
    figure("outbox", number(detail.outbox), level(detail.outbox, 100, 1000)),
    figure("refused", number(detail.outbox_refused), detail.outbox_refused ? "bad" : "none"),
    figure("devices", t("devicesOk")(number(detail.devices_total - detail.devices_failing), number(detail.devices_total)),
      detail.devices_failing ? "bad" : "none"),
    figure("alertsOpen", number(detail.alerts_open), detail.alerts_open ? "warn" : "none"),
  );
  // An offline box's values are the last it sent, not the room now: say so, and grey them.
  $("devices-stale").hidden = detail.state === "online";
  $("devices").dataset.stale = detail.state !== "online";
  const devices = detail.devices.map(deviceRow);
  place($("devices"), devices.length ? devices
    : [el("tr", {}, el("td", { colspan: "7", class: "empty" }, t("noDevices")))]);
  renderHistory();
  renderCommand();
}

function deviceRow(device) {
  let row = rows.devices.get(device.device);
  if (!row) {
    row = {
      tr: el("tr", { "data-testid": `device-${device.device}` }),
      name: el("td", {}, el("strong", {}, device.device)), kind: el("td"), room: el("td"),
      health: el("td", {}, el("span", { class: "badge", "data-testid": `device-health-${device.device}` })),
      errors: el("td", { class: "num", "data-testid": `device-errors-${device.device}` }),
      values: el("td", { class: "values" }), at: el("td"),
    };
    row.tr.append(row.name, row.kind, row.room, row.health, row.errors, row.values, row.at);
    rows.devices.set(device.device, row);
  }
  setText(row.kind, [device.kind, device.model].filter(Boolean).join(" · ") || "—");
  setText(row.room, device.room || "—");
  const badge = row.health.firstElementChild;
  const health = device.ok === true ? "good" : device.ok === false ? "bad" : "none";
  badge.dataset.level = health;
  setText(badge, device.ok === true ? t("ok") : device.ok === false ? t("fault") : t("unknown"));
  setText(row.errors, number(device.errors));
  row.errors.dataset.level = device.errors > 0 ? "warn" : "none";
  row.values.replaceChildren(...Object.entries(device.values).sort().map(([name, value]) => {
    const shown = measure(name, value);
    return el("span", { class: "value" }, el("span", { class: "label" }, shown.label),
      el("span", { "data-testid": `value-${device.device}-${name}` }, shown.text));
  }));
  setText(row.at, device.values_ts ? when(device.values_ts) : device.last_ts ? when(device.last_ts) : "—");
  return row.tr;
}

function renderHistory() {
  const body = $("cmd-history");
  if (!state.history.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "empty" }, t("noHistory"))));
    return;
  }
  body.replaceChildren(...state.history.map((c) => el("tr", { "data-testid": `cmd-history-${c.id}` },
    el("td", {}, when(c.sent_at)), el("td", {}, el("code", {}, commandLine(c))),
    el("td", {}, el("span", { class: "badge", "data-state": c.state }, t(`cmd_state_${c.state}`))),
    el("td", {}, el("code", {}, c.code || "—")),
    el("td", {}, c.sent_by ? `${c.sent_by.subject} (${t(`role_${c.sent_by.role}`)})` : "—"))));
}

function commandLine(c) {
  const args = c.args && Object.keys(c.args).length ? ` ${JSON.stringify(c.args)}` : "";
  return `${c.cmd}${args}`;
}

// -- commands ---------------------------------------------------------------------------------

async function sendCommand(event) {
  event.preventDefault();
  const chosen = state.selected;
  if (!chosen) return;
  const cmd = $("cmd-select").value;
  const timeout = $("cmd-timeout").valueAsNumber;
  const body = { cmd, timeout_s: Number.isNaN(timeout) ? null : timeout };
  if (cmd === "board.power") body.args = { on: $("cmd-power").value === "on" };
  if (cmd === "reboot" && !window.confirm(t("confirmReboot")(chosen.edge))) return;
  const button = $("cmd-send");
  button.disabled = true;
  setText(button, t("sending"));
  clearError("cmd-error");
  try {
    const record = await call("POST",
      `edges/${encodeURIComponent(chosen.school)}/${encodeURIComponent(chosen.edge)}/commands`, body);
    if (state.selected === chosen) watchCommand(record);
  } catch (error) {
    failed(error, "cmd-error");
  } finally {
    button.disabled = false;
    setText(button, t("send"));
  }
}

// Follow a command until the edge answers; after a timeout keep listening a while, since a
// late answer still says what the box did.
async function watchCommand(record) {
  const watch = ++state.watch;
  state.command = record;
  renderCommand();
  let current = record;
  while (state.token && state.watch === watch) {
    const deadline = Date.parse(current.deadline);
    if (COMMAND_DONE.has(current.state)) break;
    if (current.state === "timeout" && serverNow() > deadline + LATE_WATCH_MS) break;
    await new Promise((resolve) => setTimeout(resolve, current.state === "sent" ? CMD_POLL_MS : POLL_MS));
    if (state.watch !== watch) return;
    try {
      current = await call("GET", `commands/${encodeURIComponent(record.id)}`);
      clearError("cmd-error");
    } catch (error) {
      failed(error, "cmd-error");
      if (error.status === 401 || error.status === 403 || error.status === 404) return;
      continue;
    }
    if (state.watch !== watch) return;
    const changed = current.state !== state.command.state;
    state.command = current;
    renderCommand();
    if (changed) refreshSoon(); // the history shows the new state too
  }
}

function renderCommand() {
  const c = state.command;
  const box = $("cmd-result");
  box.hidden = c === null;
  if (!c) return;
  box.dataset.state = c.state;
  const badge = $("cmd-result-state");
  badge.dataset.state = c.state;
  setText(badge, t(`cmd_state_${c.state}`));
  setText($("cmd-result-name"), `${commandLine(c)} → ${c.edge}`);
  setText($("cmd-result-code"), c.code || "");
  setText($("cmd-result-msg"), c.msg ? c.msg[lang] || c.msg.vi : "");
  const meta = [t("sentByAt")(c.sent_by.subject, when(c.sent_at))];
  if (c.acked_at) meta.push(t("answeredIn")(Math.max(0, Date.parse(c.acked_at) - Date.parse(c.sent_at))));
  else if (c.state === "sent") meta.push(t("deadlineAt")(when(c.deadline)));
  setText($("cmd-result-meta"), meta.join(" · "));
  const data = $("cmd-result-data");
  data.hidden = !c.data || !Object.keys(c.data).length;
  setText(data, c.data ? JSON.stringify(c.data, null, 2) : "");
}

// -- alerts -----------------------------------------------------------------------------------

function renderAlerts() {
  const body = $("alerts");
  const shown = state.alerts.map(alertRow);
  place(body, shown);
  const keep = new Set(state.alerts.map((a) => a.id));
  for (const id of [...rows.alerts.keys()]) if (!keep.has(id)) rows.alerts.delete(id);
  $("alerts-empty").hidden = shown.length > 0;
}

function alertRow(alert) {
  let row = rows.alerts.get(alert.id);
  if (!row) {
    const id = alert.id;
    row = {
      tr: el("tr", { "data-testid": `alert-${id}` }),
      severity: el("span", { class: "badge" }), message: el("div", { "data-testid": `alert-message-${id}` }),
      rule: el("div", { class: "sub" }), where: el("button", { type: "button", class: "link" }),
      place: el("div", { class: "sub" }), opened: el("td"),
      state: el("span", { class: "badge", "data-testid": `alert-state-${id}` }),
      stateSub: el("div", { class: "sub" }),
      ack: el("button", { type: "button", class: "primary small", "data-testid": `alert-ack-${id}` }),
    };
    row.tr.append(el("td", {}, row.severity), el("td", {}, row.message, row.rule),
      el("td", {}, row.where, row.place), row.opened, el("td", {}, row.state, row.stateSub),
      el("td", { class: "actions" }, row.ack));
    row.where.addEventListener("click", () => select(alert.school, alert.edge));
    row.ack.addEventListener("click", () => acknowledge(alert.id, row.ack));
    rows.alerts.set(alert.id, row);
  }
  row.tr.dataset.state = alert.state;
  row.tr.dataset.rule = alert.rule;
  row.severity.dataset.level = alert.severity === "critical" ? "bad" : "warn";
  setText(row.severity, t(`sev_${alert.severity}`));
  setText(row.message, alert.message[lang] || alert.message.vi);
  setText(row.rule, `${t(`rule_${alert.rule}`)} · #${alert.id}`);
  setText(row.where, alert.edge);
  setText(row.place, [alert.school, alert.device, alert.room].filter(Boolean).join(" · "));
  setText(row.opened, `${when(alert.opened_at)} · ${ago(alert.opened_at)}`);
  row.state.dataset.state = alert.state;
  setText(row.state, t(`alert_${alert.state}`));
  setText(row.stateSub, alert.state === "acked" ? t("ackedBy")(alert.acked_by, when(alert.acked_at))
    : alert.state === "resolved" ? t("resolvedAt")(when(alert.resolved_at)) : "");
  row.ack.hidden = alert.state !== "open";
  if (!row.ack.disabled) setText(row.ack, t("ack"));
  return row.tr;
}

async function acknowledge(id, button) {
  button.disabled = true;
  setText(button, t("acking"));
  try {
    const acked = await call("POST", `health/alerts/${id}/ack`);
    clearError("alerts-error");
    const at = state.alerts.findIndex((a) => a.id === id);
    if (at >= 0) state.alerts[at] = acked;
    renderAlerts();
    refreshSoon();
  } catch (error) {
    failed(error, "alerts-error");
  } finally {
    button.disabled = false;
    setText(button, t("ack"));
  }
}

// -- header, language -----------------------------------------------------------------------

function renderConn() {
  const box = $("conn-state");
  box.dataset.state = state.conn;
  const label = state.conn === "live" ? `${t("connLive")} ${when(state.updatedAt)}`
    : state.conn === "error" ? t("connError") : t("connIdle");
  setText($("conn-label"), label);
}

function renderWho() {
  const c = state.claims;
  if (!state.token || !c) {
    setText($("whoami"), "");
    return;
  }
  const parts = [c.sub, t(`role_${c.role}`), c.school || t("allSchools")];
  if (c.exp) parts.push(`${t("expires")} ${when(new Date(c.exp * 1000).toISOString())}`);
  setText($("whoami"), parts.join(" · "));
}

function applyLang() {
  document.documentElement.lang = lang;
  document.title = `${t("title")} — ${t("subtitle")}`;
  for (const node of document.querySelectorAll("[data-i18n]")) setText(node, t(node.dataset.i18n));
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  setText($("lang-toggle"), t("switchTo"));
  for (const [id, error] of state.errors) setText($(id), errorText(error));
  renderConn();
  renderWho();
  if (state.token) {
    renderEdges();
    renderAlerts();
    renderDetail();
  }
}

function start() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("signin-token").value);
  });
  $("signout").addEventListener("click", () => signOut());
  $("lang-toggle").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      // the choice then lasts until a reload
    }
    applyLang();
  });
  $("filter-school").addEventListener("change", () => refreshSoon());
  for (const id of ["filter-room", "filter-state"]) $(id).addEventListener("change", renderEdges);
  $("filter-text").addEventListener("input", renderEdges);
  $("alerts-filter").addEventListener("change", () => {
    rows.alerts.clear();
    $("alerts").replaceChildren();
    refreshSoon();
  });
  $("cmd-select").addEventListener("change", () => {
    $("cmd-power-field").hidden = $("cmd-select").value !== "board.power";
  });
  $("cmd-form").addEventListener("submit", sendCommand);
  applyLang();
  let saved = null;
  try {
    saved = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    saved = null;
  }
  if (saved) signIn(saved, true);
}

start();
