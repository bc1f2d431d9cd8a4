// <calendar-booking>: the booking widget. No build step, no dependencies; an ES module.
//
// Embed with one script tag:
//   <script type="module" src="https://HOST/booking-widget.js" data-api="https://FUNCTION-URL/booking"></script>
// or with the custom element (after loading the module once):
//   <calendar-booking api="https://FUNCTION-URL/booking"></calendar-booking>
// Attributes: api (base URL of the booking function, default "/booking"), calendar (one employee's slug: skip
// the "who" step), days (how many days to offer; default: up to the booking horizon the API reports).
// Events (bubbling, composed): "booking-confirmed", "booking-pending" (booking.confirm_email: awaiting the visitor's
// confirmation by email), "booking-rescheduled" and "booking-cancelled", detail {booking} (never the token).
// Bot check: when GET /calendars names one ("botCheck": {"provider": "turnstile", "siteKey"}), the page loads
// Cloudflare's Turnstile widget with that public site key into a light-DOM child (slot "bot-check") and sends
// the widget's token in X-Turnstile-Token with each booking; a token verifies once, so the widget is reset after
// every attempt.
//
// Everything the server says is put on the page with textContent or setAttribute, never as markup.

const STYLES_URL = new URL("./styles.css", import.meta.url).href;
const DEFAULT_DAYS = 14; // when the API does not report its horizon
const MAX_DAYS = 366;
// Phones get one step per screen (who, day, time, details); wider screens see every step at once.
const PAGED_MEDIA = "(max-width: 40rem)";
// Touch screens without a mouse have no arrow keys to speak of: the keyboard hints are left out there.
const TOUCH_MEDIA = "(hover: none) and (pointer: coarse)";
const REQUEST_TIMEOUT_MS = 20000;
const SIMPLE_EMAIL = /^[^\s@]+@[^\s@]+$/; // the browser's rule; the server's stricter one answers 400
const TURNSTILE_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit";
const BOT_TOKEN_HEADER = "X-Turnstile-Token";
let turnstileLoading = null; // one script load per page, shared by every widget

function loadTurnstile() {
  if (window.turnstile) return Promise.resolve(window.turnstile);
  if (!turnstileLoading) {
    turnstileLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = TURNSTILE_SCRIPT;
      script.async = true;
      script.addEventListener("load", () => (window.turnstile ? resolve(window.turnstile) : reject(new Error("no turnstile"))));
      script.addEventListener("error", () => {
        turnstileLoading = null;
        reject(new Error("The bot check could not be loaded."));
      });
      document.head.append(script);
    });
  }
  return turnstileLoading;
}

const MESSAGES = {
  taken: "That time was just taken \u2014 please pick another",
  takenText: "Someone booked it a moment before you. The list of free times has been refreshed.",
  unavailable: "The booking service is not available right now",
  unavailableBooking:
    "Your booking is not confirmed yet. Check your connection and try again \u2014 trying again will never book twice.",
  unavailableLoad: "Available times could not be loaded. Check your connection and try again.",
  invalid: "Please check the highlighted fields",
  botCheck: "Please complete the check below (it shows you are not a robot), then book again.",
  botCheckFailed: "The check that you are not a robot could not be loaded. Reload the page and try again.",
  pending: "Check your email to confirm",
  confirmTitle: "Confirm your booking",
  confirmText: "Press the button to confirm the time you booked.",
  confirmExpired: "This booking was not confirmed in time",
};

const FIELD_HINTS = {
  name: "Enter your name (at most 100 characters).",
  email: "Enter a valid email address, such as name@example.com.",
  notes: "Notes can be at most 1000 characters long.",
};

const TEMPLATE = `
<div class="cb" data-ref="root" hidden>
  <h2 class="cb-title" data-ref="title" tabindex="-1">Book a meeting</h2>
  <div class="cb-zone">
    <label for="cb-zone">Times are shown in</label>
    <select id="cb-zone" name="timezone" data-ref="zone"></select>
  </div>
  <p class="cb-sr" role="status" aria-live="polite" aria-atomic="true" data-ref="status"></p>

  <div class="cb-notice" data-ref="notice" hidden>
    <h3 class="cb-notice-title" data-ref="noticeTitle" tabindex="-1"></h3>
    <p class="cb-notice-text" data-ref="noticeText"></p>
    <ul class="cb-notice-list" data-ref="noticeList" hidden></ul>
    <button type="button" class="cb-button cb-secondary" data-ref="retry" hidden>Try again</button>
  </div>

  <form class="cb-form" data-ref="form" novalidate>
    <div class="cb-step" tabindex="-1" data-step="who" data-ref="stepWho">
    <fieldset class="cb-group" data-ref="whoGroup">
      <legend>Who would you like to meet?</legend>
      <div class="cb-choices" data-ref="calendars"><p class="cb-muted">Loading\u2026</p></div>
    </fieldset>

    <fieldset class="cb-group" data-ref="typeGroup" hidden>
      <legend>What kind of meeting?</legend>
      <div class="cb-choices" data-ref="types"></div>
    </fieldset>

    <fieldset class="cb-group">
      <legend>How long?</legend>
      <div class="cb-choices" data-ref="durations"></div>
    </fieldset>
    <div class="cb-step-nav"><button type="button" class="cb-button cb-primary" data-go="day">Choose a day</button></div>
    </div>

    <div class="cb-step" tabindex="-1" data-step="day" data-ref="stepDay">
    <fieldset class="cb-group">
      <legend>Day</legend>
      <div class="cb-month">
        <button type="button" class="cb-month-nav" data-ref="prevMonth"><span aria-hidden="true">\u2039</span><span class="cb-sr">Previous month</span></button>
        <p class="cb-month-name" data-ref="monthName"></p>
        <button type="button" class="cb-month-nav" data-ref="nextMonth"><span aria-hidden="true">\u203a</span><span class="cb-sr">Next month</span></button>
      </div>
      <p class="cb-hint cb-keys" id="cb-days-hint">Use the arrow keys to move between days, Enter to choose one.</p>
      <div class="cb-weekdays" data-ref="weekdays" aria-hidden="true"></div>
      <ul class="cb-days" data-ref="days" aria-describedby="cb-days-hint"></ul>
    </fieldset>
    <div class="cb-step-nav"><button type="button" class="cb-button cb-secondary" data-back>Back</button></div>
    </div>

    <div class="cb-step" tabindex="-1" data-step="time" data-ref="stepTime">
    <fieldset class="cb-group" aria-describedby="cb-slot-error">
      <legend data-ref="slotLegend">Time</legend>
      <p class="cb-hint cb-keys" id="cb-slots-hint">Use the arrow keys to move between times, Enter to choose one.</p>
      <ul class="cb-slots" data-ref="slots" aria-describedby="cb-slots-hint"></ul>
      <p class="cb-error" id="cb-slot-error" data-ref="slotError" hidden></p>
    </fieldset>
    <div class="cb-step-nav"><button type="button" class="cb-button cb-secondary" data-back>Back</button></div>
    </div>

    <div class="cb-step" tabindex="-1" data-step="details" data-ref="stepDetails">
    <fieldset class="cb-group" data-ref="detailsGroup">
      <legend>Your details</legend>
      <div class="cb-field">
        <label for="cb-name">Name</label>
        <input id="cb-name" name="name" type="text" autocomplete="name" maxlength="100" required
               aria-describedby="cb-name-error">
        <p class="cb-error" id="cb-name-error" hidden></p>
      </div>
      <div class="cb-field">
        <label for="cb-email">Email</label>
        <input id="cb-email" name="email" type="email" autocomplete="email" maxlength="254" required
               spellcheck="false" aria-describedby="cb-email-error">
        <p class="cb-error" id="cb-email-error" hidden></p>
      </div>
      <div class="cb-field">
        <label for="cb-notes">Notes <span class="cb-muted">(optional)</span></label>
        <textarea id="cb-notes" name="notes" rows="3" maxlength="1000" aria-describedby="cb-notes-error"></textarea>
        <p class="cb-error" id="cb-notes-error" hidden></p>
      </div>
    </fieldset>

    <div class="cb-field" data-ref="botCheck" hidden>
      <slot name="bot-check"></slot>
      <p class="cb-error" id="cb-bot-error" data-ref="botError" hidden></p>
    </div>

    <p class="cb-summary" data-ref="summary">Pick a day and a time.</p>
    <div class="cb-actions cb-submit-row">
      <button type="button" class="cb-button cb-secondary" data-back>Back</button>
      <button type="submit" class="cb-button cb-primary" data-ref="submit">Book this time</button>
      <button type="button" class="cb-button cb-secondary" data-ref="keep" hidden>Keep the current time</button>
    </div>
    </div>
  </form>

  <section class="cb-result" data-ref="result" hidden aria-labelledby="cb-result-title">
    <h3 class="cb-result-title" id="cb-result-title" data-ref="resultTitle" tabindex="-1"></h3>
    <p class="cb-result-when" data-ref="resultWhen"></p>
    <p class="cb-muted" data-ref="resultOther" hidden></p>
    <p class="cb-result-where" data-ref="resultWhere" hidden></p>
    <p class="cb-result-invite" data-ref="resultInvite" hidden></p>
    <p data-ref="resultMeet" hidden>Video call: <a data-ref="resultMeetLink" rel="noopener noreferrer" target="_blank"></a></p>
    <p class="cb-muted" data-ref="resultManage" hidden>
      Keep this link to cancel or reschedule later: <a data-ref="resultManageLink">manage this booking</a><span
        data-ref="resultIcs" hidden> \u00b7 <a data-ref="resultIcsLink" download="booking.ics">Add to your calendar (.ics file)</a></span>
    </p>
    <p class="cb-muted cb-result-ref" data-ref="resultRef"></p>
    <div class="cb-actions" data-ref="resultActions">
      <button type="button" class="cb-button cb-primary" data-ref="reschedule">Reschedule</button>
      <button type="button" class="cb-button cb-danger" data-ref="cancel">Cancel this booking</button>
      <button type="button" class="cb-button cb-secondary" data-ref="again">Book another time</button>
    </div>
    <div class="cb-confirm" data-ref="confirmCancel" role="group" aria-labelledby="cb-confirm-title" hidden>
      <h4 class="cb-confirm-title" id="cb-confirm-title" data-ref="confirmTitle" tabindex="-1">Cancel this booking?</h4>
      <p data-ref="confirmText">The time is freed and you receive Google\u2019s cancellation.</p>
      <div class="cb-actions">
        <button type="button" class="cb-button cb-danger" data-ref="confirmYes">Yes, cancel it</button>
        <button type="button" class="cb-button cb-secondary" data-ref="confirmNo">No, keep it</button>
      </div>
    </div>
  </section>
</div>`;

class ApiError extends Error {
  constructor(code, status, message, details = {}, retryAfter = null) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details && typeof details === "object" ? details : {};
    this.retryAfter = retryAfter;
  }

  get unavailable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  get fields() {
    const fields = this.details.fields;
    return fields && typeof fields === "object" ? fields : {};
  }
}

function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // Not a secure context (plain http on a non-local host): a version 4 UUID from getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function visitorZone() {
  try {
    return canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  } catch {
    return "UTC";
  }
}

// --- time zones ----------------------------------------------------------------------------------------------
// Browsers name zones by ICU's ids, some of which are IANA's old names (Chromium says "Asia/Calcutta"); the page
// shows and sends the current IANA name. Both are valid IANA ids (the old ones are links), so the server accepts
// either; this table only renames the legacy ids ICU still uses.
const LEGACY_ZONES = {
  "Africa/Asmera": "Africa/Asmara",
  "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
  "America/Catamarca": "America/Argentina/Catamarca",
  "America/Coral_Harbour": "America/Atikokan",
  "America/Cordoba": "America/Argentina/Cordoba",
  "America/Godthab": "America/Nuuk",
  "America/Indianapolis": "America/Indiana/Indianapolis",
  "America/Jujuy": "America/Argentina/Jujuy",
  "America/Louisville": "America/Kentucky/Louisville",
  "America/Mendoza": "America/Argentina/Mendoza",
  "Asia/Calcutta": "Asia/Kolkata",
  "Asia/Katmandu": "Asia/Kathmandu",
  "Asia/Rangoon": "Asia/Yangon",
  "Asia/Saigon": "Asia/Ho_Chi_Minh",
  "Atlantic/Faeroe": "Atlantic/Faroe",
  "Europe/Kiev": "Europe/Kyiv",
  "Etc/UTC": "UTC",
  "Etc/GMT": "UTC",
  "Pacific/Enderbury": "Pacific/Kanton",
  "Pacific/Ponape": "Pacific/Pohnpei",
  "Pacific/Truk": "Pacific/Chuuk",
};

function canonicalZone(zone) {
  return LEGACY_ZONES[zone] || zone;
}

function zoneName(zone, style, at) {
  try {
    const parts = new Intl.DateTimeFormat(undefined, { timeZone: zone, timeZoneName: style }).formatToParts(at);
    return parts.find((p) => p.type === "timeZoneName")?.value || "";
  } catch {
    return "";
  }
}

/** "GMT+5:30" -> 330 (minutes east of UTC). */
function offsetMinutes(shortOffset) {
  const match = /^GMT(?:([+-])(\d{1,2})(?::(\d{2}))?)?$/.exec(shortOffset || "");
  if (!match || !match[1]) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3] || 0);
  return match[1] === "-" ? -minutes : minutes;
}

const zoneCache = new Map();

/** How a zone is shown: "New York \u2014 Eastern Time (GMT-5)", with its offset now. */
function describeZone(zone) {
  if (zoneCache.has(zone)) return zoneCache.get(zone);
  const now = new Date();
  const offset = zoneName(zone, "shortOffset", now) || "GMT";
  const generic = zoneName(zone, "longGeneric", now);
  const city = zone === "UTC" ? "UTC" : zone.split("/").pop().replaceAll("_", " ");
  const named = generic && !/^GMT/.test(generic) && generic !== city ? ` \u2014 ${generic}` : "";
  const info = { zone, label: `${city}${named} (${offset})`, short: `${city}${named}`, minutes: offsetMinutes(offset) };
  zoneCache.set(zone, info);
  return info;
}

/** The line under a calendar's name in the picker: a person's time zone, or what a team books. */
function choiceSub(calendar) {
  if (calendar.kind === "team") {
    const count = Array.isArray(calendar.members) ? calendar.members.length : 0;
    return calendar.mode === "collective" ? (count === 2 ? "Both together" : `All ${count} together`) : "Whoever is free";
  }
  return calendar.timezone ? describeZone(canonicalZone(String(calendar.timezone))).short : "";
}

/** Every zone the browser knows (canonical names), plus `extra`, ordered by offset then name. */
function zoneChoices(extra = []) {
  let known = [];
  try {
    known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  } catch {
    known = [];
  }
  const names = new Set([...known, ...extra].filter(Boolean).map(canonicalZone));
  return [...names].map(describeZone).sort((a, b) => a.minutes - b.minutes || a.label.localeCompare(b.label));
}

function firstDayOfWeek() {
  try {
    const locale = new Intl.Locale(navigator.language || "en");
    const info = typeof locale.getWeekInfo === "function" ? locale.getWeekInfo() : locale.weekInfo;
    return info && Number.isInteger(info.firstDay) ? info.firstDay : 1; // 1 = Monday ... 7 = Sunday
  } catch {
    return 1;
  }
}

/** Today's date (YYYY-MM-DD) in an IANA zone. */
function todayIn(zone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The ISO weekday (1 = Monday ... 7 = Sunday) of a calendar date. */
function isoWeekday(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7;
}

/** "2026-12" + n months -> "2027-01". */
function addMonths(month, months) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + months, 1)).toISOString().slice(0, 7);
}

function lastOfMonth(month) {
  return addDays(`${addMonths(month, 1)}-01`, -1);
}

/** A calendar date (YYYY-MM-DD) formatted on its own, independent of any zone. */
function formatDate(isoDate, options) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, d)));
}

function formatTime(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { timeStyle: "short", timeZone: zone })
    .format(new Date(instant));
}

/** The local date of an RFC 3339 time as the server wrote it (in the zone it was asked for). */
function localDate(rfc3339) {
  return rfc3339.slice(0, 10);
}

/** Element builder: attributes via setAttribute, children as text nodes. Never parses markup. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Arrow keys, Home and End move focus within a list of buttons; only one of them is in the tab order. */
function rovingKeys(list) {
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button:not([disabled])")];
    const index = buttons.indexOf(event.target);
    if (index < 0) return;
    let next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = buttons[Math.min(index + 1, buttons.length - 1)];
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = buttons[Math.max(index - 1, 0)];
    else if (event.key === "Home") next = buttons[0];
    else if (event.key === "End") next = buttons[buttons.length - 1];
    if (!next) return;
    event.preventDefault();
    for (const button of buttons) button.tabIndex = button === next ? 0 : -1;
    next.focus();
  });
}

function setRovingStop(list, preferred) {
  const buttons = [...list.querySelectorAll("button:not([disabled])")];
  const stop = preferred && buttons.includes(preferred) ? preferred : buttons[0];
  for (const button of buttons) button.tabIndex = button === stop ? 0 : -1;
}

export class CalendarBooking extends HTMLElement {
  static get observedAttributes() {
    return ["api", "calendar", "days"];
  }

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this.state = {
      calendars: [],
      calendar: null, // selected calendar object
      type: null, // selected meeting type of the calendar (GET /calendars `meetingTypes`), or null when it has none
      duration: null,
      zone: visitorZone(),
      days: [], // [{date, slots: [{start, end}]}] of the month shown
      month: null, // "YYYY-MM" shown
      range: null, // {first, last}: the days that can be booked (today up to the horizon), in the visitor's zone
      day: null,
      slot: null,
      loadingSlots: false,
      booking: null, // {booking, token}
      rescheduling: null, // {booking, token} being moved to another time, or null
      step: "who", // the step shown on a phone (all steps show on wider screens)
      busy: false,
    };
    this.attempt = null; // {fingerprint, key}: one Idempotency-Key per booking attempt, reused on retry
    this.bot = { required: false, widget: null, token: null }; // the Turnstile widget, when the API asks for one
    this.slotsGeneration = 0;
    this.started = false;
  }

  connectedCallback() {
    if (this.started) return;
    this.started = true;
    this.render();
    this.loadCalendars().then(() => this.openManageLink());
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this.started || oldValue === newValue) return;
    if (name === "api" || name === "calendar") this.loadCalendars();
    else if (name === "days") this.loadSlots();
  }

  // --- configuration ------------------------------------------------------------------------------------------
  get apiBase() {
    const api = (this.getAttribute("api") || "/booking").replace(/\/+$/, "");
    return new URL(`${api}/`, document.baseURI);
  }

  /** How many days, from today, can be browsed: the `days` attribute, else up to the horizon the API reports. */
  get dayCount() {
    const value = Number.parseInt(this.getAttribute("days") || "", 10);
    if (Number.isFinite(value) && value > 0) return Math.min(value, MAX_DAYS);
    const horizon = Number(this.state.calendar?.horizonDays);
    // A slot starts less than horizonDays x 24 h from now, so the last day with slots is today + horizonDays.
    return Number.isInteger(horizon) && horizon > 0 ? Math.min(horizon + 1, MAX_DAYS) : DEFAULT_DAYS;
  }

  // --- rendering ----------------------------------------------------------------------------------------------
  render() {
    const link = h("link", { rel: "stylesheet", href: STYLES_URL });
    const holder = document.createElement("template");
    holder.innerHTML = TEMPLATE; // a constant: no data ever goes through innerHTML
    this.shadowRoot.replaceChildren(link, holder.content.cloneNode(true));
    this.ref = {};
    for (const element of this.shadowRoot.querySelectorAll("[data-ref]")) this.ref[element.dataset.ref] = element;
    this.field = {
      name: this.shadowRoot.getElementById("cb-name"),
      email: this.shadowRoot.getElementById("cb-email"),
      notes: this.shadowRoot.getElementById("cb-notes"),
    };
    const reveal = () => { this.ref.root.hidden = false; };
    link.addEventListener("load", reveal);
    link.addEventListener("error", reveal);
    setTimeout(reveal, 3000);

    this.renderZones();
    this.ref.zone.addEventListener("change", () => {
      this.state.zone = this.ref.zone.value;
      this.loadSlots();
    });
    rovingKeys(this.ref.days);
    rovingKeys(this.ref.slots);
    this.ref.prevMonth.addEventListener("click", () => this.showMonth(-1));
    this.ref.nextMonth.addEventListener("click", () => this.showMonth(1));
    for (const button of this.shadowRoot.querySelectorAll("[data-go]")) {
      button.addEventListener("click", () => this.goStep(button.dataset.go));
    }
    for (const button of this.shadowRoot.querySelectorAll("[data-back]")) {
      button.addEventListener("click", () => this.stepBack());
    }
    this.pagedQuery = window.matchMedia(PAGED_MEDIA);
    this.touchQuery = window.matchMedia(TOUCH_MEDIA);
    this.pagedQuery.addEventListener("change", () => this.applySteps());
    this.touchQuery.addEventListener("change", () => this.applyTouch());
    this.applySteps();
    this.applyTouch();
    this.ref.reschedule.addEventListener("click", () => this.startReschedule());
    this.ref.keep.addEventListener("click", () => this.keepTime());
    this.ref.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.ref.cancel.addEventListener("click", () => this.askCancel());
    this.ref.confirmYes.addEventListener("click", () => this.cancel());
    this.ref.confirmNo.addEventListener("click", () => this.closeCancel());
    this.ref.again.addEventListener("click", () => this.bookAnother());
    for (const input of Object.values(this.field)) {
      input.addEventListener("input", () => this.setFieldError(input.name, null));
    }
  }

  status(text) {
    // Re-setting the same text is not announced again; clear first so repeated messages are read.
    clearTimeout(this.statusTimer);
    this.ref.status.textContent = "";
    this.statusTimer = setTimeout(() => { this.ref.status.textContent = text; }, 50);
  }

  showNotice({ title, text = "", items = [], retry = null, kind = "error", retryLabel = "Try again" }) {
    const { notice, noticeTitle, noticeText, noticeList, retry: retryButton } = this.ref;
    notice.hidden = false;
    notice.dataset.kind = kind;
    noticeTitle.textContent = title;
    noticeText.textContent = text;
    noticeText.hidden = !text;
    noticeList.replaceChildren(...items.map(({ label, target }) => {
      const link = h("a", { href: `#${target.id}` }, label);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        target.focus();
      });
      return h("li", {}, link);
    }));
    noticeList.hidden = items.length === 0;
    retryButton.hidden = !retry;
    retryButton.textContent = retryLabel;
    retryButton.onclick = retry
      ? () => {
        this.clearNotice();
        retry();
      }
      : null;
    noticeTitle.focus();
  }

  clearNotice() {
    this.ref.notice.hidden = true;
    this.ref.retry.onclick = null;
  }

  setFieldError(name, message) {
    const input = this.field[name];
    const error = this.shadowRoot.getElementById(`cb-${name}-error`);
    if (!input || !error) return;
    error.textContent = message || "";
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  setSlotError(message) {
    this.ref.slotError.textContent = message || "";
    this.ref.slotError.hidden = !message;
  }

  // --- time zone, steps, touch ----------------------------------------------------------------------------------
  renderZones() {
    const extra = [this.state.zone, ...this.state.calendars.map((c) => c.timezone)];
    this.ref.zone.replaceChildren(...zoneChoices(extra).map(({ zone, label }) => h("option", { value: zone }, label)));
    this.ref.zone.value = this.state.zone;
  }

  setZone(zone) {
    const name = canonicalZone(zone);
    this.state.zone = name;
    if (![...this.ref.zone.options].some((option) => option.value === name)) {
      this.ref.zone.append(h("option", { value: name }, describeZone(name).label));
    }
    this.ref.zone.value = name;
  }

  get paged() {
    return Boolean(this.pagedQuery && this.pagedQuery.matches);
  }

  get steps() {
    return this.state.rescheduling ? ["day", "time", "details"] : ["who", "day", "time", "details"];
  }

  /** On a phone only the current step shows, with Back (and Next on the first); elsewhere every step shows. */
  applySteps() {
    const { paged, steps } = this;
    if (!steps.includes(this.state.step)) this.state.step = steps[0];
    for (const step of this.shadowRoot.querySelectorAll(".cb-step")) {
      step.hidden = !steps.includes(step.dataset.step) || (paged && step.dataset.step !== this.state.step);
      // Back from the first step only while rescheduling, where it returns to the booking unchanged.
      const first = step.dataset.step === steps[0] && !this.state.rescheduling;
      for (const back of step.querySelectorAll("[data-back]")) back.hidden = !paged || first;
    }
    for (const next of this.shadowRoot.querySelectorAll("[data-go]")) next.hidden = !paged;
  }

  goStep(name, { focus = true } = {}) {
    this.state.step = name;
    this.applySteps();
    if (focus && this.paged) this.shadowRoot.querySelector(`.cb-step[data-step="${name}"]`).focus();
  }

  stepBack() {
    const index = this.steps.indexOf(this.state.step);
    if (index > 0) this.goStep(this.steps[index - 1]);
    else if (this.state.rescheduling) this.keepTime();
  }

  /** No arrow-key hints on touch screens: they have no arrow keys to press. */
  applyTouch() {
    const touch = Boolean(this.touchQuery && this.touchQuery.matches);
    for (const hint of this.shadowRoot.querySelectorAll(".cb-keys")) hint.hidden = touch;
    for (const [list, hint] of [[this.ref.days, "cb-days-hint"], [this.ref.slots, "cb-slots-hint"]]) {
      if (touch) list.removeAttribute("aria-describedby");
      else list.setAttribute("aria-describedby", hint);
    }
  }

  // --- API ----------------------------------------------------------------------------------------------------
  async api(method, path, { query = {}, body = undefined, headers = {} } = {}) {
    const url = new URL(path, this.apiBase);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, value);
    }
    const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) init.signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError("network", 0, "The booking service could not be reached.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
      throw new ApiError(
        typeof error.code === "string" ? error.code : `http_${response.status}`,
        response.status,
        typeof error.message === "string" ? error.message : `The booking service answered ${response.status}.`,
        error.details,
        Number.isFinite(retryAfter) ? retryAfter : null,
      );
    }
    if (!data || typeof data !== "object") throw new ApiError("bad_response", 502, "The booking service answered oddly.");
    return { status: response.status, data };
  }

  unavailableText(error, text) {
    if (error.retryAfter && error.retryAfter <= 120) return `${text} You can try again in about ${error.retryAfter} seconds.`;
    return text;
  }

  // --- calendars and durations --------------------------------------------------------------------------------
  async loadCalendars() {
    this.ref.calendars.replaceChildren(h("p", { class: "cb-muted" }, "Loading\u2026"));
    let calendars;
    let botCheck;
    try {
      ({ data: { calendars, botCheck } } = await this.api("GET", "calendars"));
      if (!Array.isArray(calendars)) throw new ApiError("bad_response", 502, "No calendars in the answer.");
    } catch (error) {
      this.ref.calendars.replaceChildren(h("p", { class: "cb-muted" }, "Not available."));
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "The booking page could not start",
        text: error.unavailable ? this.unavailableText(error, "Please try again in a moment.") : error.message,
        retry: () => this.loadCalendars(),
      });
      return;
    }
    this.setUpBotCheck(botCheck);
    const only = this.getAttribute("calendar");
    this.state.calendars = only ? calendars.filter((c) => c.id === only) : calendars;
    const single = Boolean(only) && this.state.calendars.length === 1;
    this.ref.whoGroup.hidden = single;
    this.defaultTitle = single
      ? `Book a meeting with ${String(this.state.calendars[0].name ?? only)}`
      : "Book a meeting";
    if (!this.state.rescheduling) this.ref.title.textContent = this.defaultTitle;
    if (this.state.calendars.length === 0) {
      this.ref.calendars.replaceChildren(h("p", { class: "cb-muted" }, "Nobody can be booked right now."));
      return;
    }
    const keep = this.state.calendar && this.state.calendars.find((c) => c.id === this.state.calendar.id);
    this.renderCalendars(keep || this.state.calendars[0]);
  }

  renderCalendars(selected) {
    const choices = this.state.calendars.map((calendar) => {
      const input = h("input", {
        type: "radio", name: "calendar", value: calendar.id, id: `cb-calendar-${calendar.id}`,
      });
      input.checked = calendar === selected;
      input.addEventListener("change", () => this.selectCalendar(calendar));
      return h("label", { class: "cb-choice", for: input.id }, input,
        h("span", { class: "cb-choice-text" }, String(calendar.name ?? calendar.id),
          h("span", { class: "cb-choice-sub" }, choiceSub(calendar))));
    });
    this.ref.calendars.replaceChildren(...choices);
    this.selectCalendar(selected);
  }

  selectCalendar(calendar) {
    this.state.calendar = calendar;
    const types = Array.isArray(calendar.meetingTypes) ? calendar.meetingTypes.filter((t) => t && t.id) : [];
    this.ref.typeGroup.hidden = types.length === 0;
    if (types.length === 0) {
      this.state.type = null;
      this.ref.types.replaceChildren();
      this.selectDurations(calendar.durations);
      return;
    }
    const kept = this.state.type && types.find((t) => t.id === this.state.type.id);
    const selected = kept || types[0];
    const choices = types.map((type) => {
      const input = h("input", { type: "radio", name: "type", value: type.id, id: `cb-type-${type.id}` });
      input.checked = type === selected;
      input.addEventListener("change", () => this.selectType(type));
      const where = type.location ? String(type.location) : (type.meet ? "Video call (Google Meet)" : "");
      // The description is left out on phones (one screen per step); where it happens stays.
      return h("label", { class: "cb-choice", for: input.id }, input,
        h("span", { class: "cb-choice-text" }, String(type.name ?? type.id),
          h("span", { class: "cb-choice-sub cb-choice-about" }, type.description ? String(type.description) : ""),
          h("span", { class: "cb-choice-sub" }, where)));
    });
    this.ref.types.replaceChildren(...choices);
    this.selectType(selected);
  }

  selectType(type) {
    this.state.type = type;
    this.selectDurations(Array.isArray(type.durations) ? type.durations : this.state.calendar.durations);
  }

  selectDurations(offered) {
    const durations = Array.isArray(offered) ? offered.filter(Number.isInteger) : [];
    const duration = durations.includes(this.state.duration) ? this.state.duration : durations[0] ?? null;
    const choices = durations.map((minutes) => {
      const input = h("input", { type: "radio", name: "duration", value: minutes, id: `cb-duration-${minutes}` });
      input.checked = minutes === duration;
      input.addEventListener("change", () => {
        this.state.duration = minutes;
        this.loadSlots();
      });
      return h("label", { class: "cb-choice", for: input.id }, input,
        h("span", { class: "cb-choice-text" }, `${minutes} min`));
    });
    this.ref.durations.replaceChildren(...choices);
    this.state.duration = duration;
    this.loadSlots();
  }

  // --- days and slots -----------------------------------------------------------------------------------------
  /** Show the month `delta` months away (within today .. the horizon). */
  showMonth(delta) {
    if (!this.state.month) return;
    this.state.month = addMonths(this.state.month, delta);
    this.loadSlots({ advance: false, focusDays: true });
  }

  async loadSlots({ keepNotice = false, live = false, advance = true, focusDays = false } = {}) {
    const { calendar, duration } = this.state;
    if (!calendar || !duration) return;
    const generation = ++this.slotsGeneration;
    if (!keepNotice) this.clearNotice();
    this.setSlotError(null);
    this.state.loadingSlots = true;
    this.ref.days.setAttribute("aria-busy", "true");
    this.ref.slots.setAttribute("aria-busy", "true");
    this.ref.slots.replaceChildren(h("li", { class: "cb-muted" }, "Loading available times\u2026"));
    this.status("Loading available times\u2026");
    const today = todayIn(this.state.zone);
    const range = { first: today, last: addDays(today, this.dayCount - 1) };
    this.state.range = range;
    const month = this.state.month && this.state.month >= today.slice(0, 7) && this.state.month <= range.last.slice(0, 7)
      ? this.state.month : today.slice(0, 7);
    this.state.month = month;
    const first = month === today.slice(0, 7) ? today : `${month}-01`;
    const last = lastOfMonth(month) < range.last ? lastOfMonth(month) : range.last;
    this.renderMonthHeader();
    let data;
    try {
      ({ data } = await this.api("GET", "slots", {
        query: { calendar: calendar.id, from: first, to: last, duration, timezone: this.state.zone, live: live || undefined },
      }));
    } catch (error) {
      if (generation !== this.slotsGeneration) return;
      this.state.loadingSlots = false;
      if (error.status === 400 && "timezone" in error.fields && this.state.zone !== calendar.timezone) {
        this.setZone(calendar.timezone); // the server does not know the visitor's zone: use the calendar's
        this.loadSlots({ keepNotice });
        return;
      }
      this.ref.slots.replaceChildren(h("li", { class: "cb-muted" }, "No times to show."));
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "Available times could not be loaded",
        text: error.unavailable ? this.unavailableText(error, MESSAGES.unavailableLoad) : error.message,
        retry: () => this.loadSlots(),
      });
      return;
    } finally {
      if (generation === this.slotsGeneration) {
        this.ref.days.removeAttribute("aria-busy");
        this.ref.slots.removeAttribute("aria-busy");
      }
    }
    if (generation !== this.slotsGeneration) return; // the visitor changed person or duration meanwhile
    this.state.loadingSlots = false;
    if (typeof data.timezone === "string" && data.timezone) this.setZone(data.timezone);
    const byDay = new Map();
    for (let day = first; day <= last; day = addDays(day, 1)) byDay.set(day, []);
    for (const slot of Array.isArray(data.slots) ? data.slots : []) {
      if (typeof slot?.start !== "string" || typeof slot?.end !== "string") continue;
      const day = localDate(slot.start);
      if (!byDay.has(day)) continue; // outside the month shown
      byDay.get(day).push({ start: slot.start, end: slot.end });
    }
    this.state.days = [...byDay].map(([date, slots]) => ({ date, slots }));
    const total = this.state.days.reduce((sum, day) => sum + day.slots.length, 0);
    if (!total && advance && month < range.last.slice(0, 7)) {
      this.state.month = addMonths(month, 1); // nothing free this month: show the next one that has times
      this.loadSlots({ keepNotice: true, live, advance });
      return;
    }
    // The chosen time survives a change of time zone (same instant, written with another offset).
    const chosen = this.state.slot && Date.parse(this.state.slot.start);
    const sameSlot = chosen && this.state.days.flatMap((d) => d.slots).find((s) => Date.parse(s.start) === chosen);
    const keepDay = sameSlot
      ? this.state.days.find((d) => d.date === localDate(sameSlot.start))
      : this.state.days.find((d) => d.date === this.state.day && d.slots.length);
    const firstDay = this.state.days.find((d) => d.slots.length);
    this.state.day = (keepDay || firstDay || {}).date ?? null;
    this.state.slot = sameSlot || null;
    this.renderDays();
    this.renderSlots();
    this.renderSummary();
    if (focusDays) {
      const stop = this.ref.days.querySelector("button[tabindex='0']");
      const active = this.shadowRoot.activeElement;
      if (active && active.disabled) (stop || this.ref.days).focus?.();
    }
    const where = formatDate(`${month}-01`, { month: "long", year: "numeric" });
    this.status(total
      ? `${total} free ${total === 1 ? "time" : "times"} in ${where}.`
      : `No free times in ${where}. Try another month, duration or person.`);
  }

  renderMonthHeader() {
    const { month, range } = this.state;
    this.ref.monthName.textContent = formatDate(`${month}-01`, { month: "long", year: "numeric" });
    this.ref.prevMonth.disabled = month <= range.first.slice(0, 7);
    this.ref.nextMonth.disabled = month >= range.last.slice(0, 7);
  }

  /** The month as a grid of day buttons (weeks start on the locale's first day); days without times are disabled. */
  renderDays() {
    const { month } = this.state;
    const slotsOf = new Map(this.state.days.map((d) => [d.date, d.slots]));
    const firstDay = firstDayOfWeek();
    const monday = "2024-01-01"; // any Monday: the weekday names of one week, in the locale's order
    this.ref.weekdays.replaceChildren(...Array.from({ length: 7 }, (_, i) =>
      h("span", {}, formatDate(addDays(monday, (firstDay - 1 + i) % 7), { weekday: "short" }))));
    const lead = (isoWeekday(`${month}-01`) - firstDay + 7) % 7;
    const items = Array.from({ length: lead }, () => h("li", { class: "cb-day-pad", "aria-hidden": "true" }));
    for (let date = `${month}-01`; date.startsWith(month); date = addDays(date, 1)) {
      const selected = date === this.state.day;
      const count = (slotsOf.get(date) || []).length;
      const button = h("button", {
        type: "button", class: "cb-day", "data-date": date, "aria-pressed": selected ? "true" : "false",
        disabled: count === 0,
      },
      h("span", { class: "cb-day-num" }, formatDate(date, { day: "numeric" })),
      h("span", { class: "cb-sr" }, ` ${formatDate(date, { month: "long" })} (${formatDate(date, { weekday: "long" })}), `),
      h("span", { class: "cb-day-count" }, count === 0 ? "no times" : `${count} ${count === 1 ? "time" : "times"}`));
      button.addEventListener("click", () => this.selectDay(date));
      items.push(h("li", {}, button));
    }
    this.ref.days.replaceChildren(...items);
    setRovingStop(this.ref.days, this.ref.days.querySelector('[aria-pressed="true"]'));
  }

  selectDay(date) {
    if (this.state.day === date) {
      if (this.paged) this.goStep("time");
      return;
    }
    this.state.day = date;
    this.state.slot = null;
    for (const button of this.ref.days.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", button.dataset.date === date ? "true" : "false");
    }
    setRovingStop(this.ref.days, this.ref.days.querySelector('[aria-pressed="true"]'));
    this.renderSlots();
    this.renderSummary();
    const day = this.state.days.find((d) => d.date === date);
    this.status(`${formatDate(date, { weekday: "long", day: "numeric", month: "long" })}: ${day.slots.length} free times.`);
    if (this.paged) this.goStep("time");
  }

  renderSlots() {
    const day = this.state.days.find((d) => d.date === this.state.day);
    const zone = this.state.zone;
    this.ref.slotLegend.textContent = day
      ? `Time on ${formatDate(day.date, { weekday: "long", day: "numeric", month: "long" })}`
      : "Time";
    if (!day || day.slots.length === 0) {
      this.ref.slots.replaceChildren(h("li", { class: "cb-muted" },
        "No free times in this period. Try another duration or person."));
      return;
    }
    const items = day.slots.map((slot) => {
      const selected = this.state.slot && this.state.slot.start === slot.start;
      const button = h("button", {
        type: "button", class: "cb-slot", "data-start": slot.start, "aria-pressed": selected ? "true" : "false",
      }, formatTime(slot.start, zone), h("span", { class: "cb-sr" }, ` to ${formatTime(slot.end, zone)}`));
      button.addEventListener("click", () => this.selectSlot(slot, button));
      return h("li", {}, button);
    });
    this.ref.slots.replaceChildren(...items);
    setRovingStop(this.ref.slots, this.ref.slots.querySelector('[aria-pressed="true"]'));
  }

  selectSlot(slot, button) {
    this.state.slot = slot;
    this.setSlotError(null);
    for (const other of this.ref.slots.querySelectorAll("button")) {
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    }
    setRovingStop(this.ref.slots, button);
    this.renderSummary();
    this.status(`Selected ${this.describeSlot(slot)}.`);
    if (this.paged) this.goStep("details");
  }

  describeSlot(slot, zone = this.state.zone) {
    const day = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", timeZone: zone })
      .format(new Date(slot.start));
    return `${day}, ${formatTime(slot.start, zone)}\u2013${formatTime(slot.end, zone)}`;
  }

  renderSummary() {
    const { slot, calendar, duration, rescheduling } = this.state;
    const what = this.state.type && !rescheduling ? `${this.state.type.name} ` : "";
    const chosen = slot
      ? `${what}${this.describeSlot(slot)} (${duration} min) with ${calendar.name ?? calendar.id}.` : null;
    if (rescheduling) {
      const now = `Now: ${this.describeSlot(rescheduling.booking)}.`;
      this.ref.summary.textContent = chosen ? `New time: ${chosen} ${now}` : `Pick a new day and time. ${now}`;
      return;
    }
    this.ref.summary.textContent = chosen || "Pick a day and a time.";
  }

  // --- booking ------------------------------------------------------------------------------------------------
  submit() {
    if (this.state.busy) return;
    this.clearNotice();
    for (const name of Object.keys(this.field)) this.setFieldError(name, null);
    this.setSlotError(null);
    const name = this.field.name.value.trim();
    const email = this.field.email.value.trim();
    const notes = this.field.notes.value.trim();
    const problems = [];
    if (!this.state.slot) {
      this.setSlotError("Choose a time first.");
      const target = this.ref.slots.querySelector("button[tabindex='0']") || this.ref.title;
      problems.push({ label: "Time: choose a time first.", target });
    }
    if (this.state.rescheduling) {
      if (problems.length) this.showNotice({ title: MESSAGES.invalid, items: problems });
      else this.move(this.state.rescheduling, this.state.slot);
      return;
    }
    if (!name) {
      this.setFieldError("name", "Enter your name.");
      problems.push({ label: "Name: enter your name.", target: this.field.name });
    }
    if (!SIMPLE_EMAIL.test(email)) {
      this.setFieldError("email", FIELD_HINTS.email);
      problems.push({ label: `Email: ${FIELD_HINTS.email}`, target: this.field.email });
    }
    if (problems.length) {
      this.showNotice({ title: MESSAGES.invalid, items: problems });
      return;
    }
    const payload = {
      calendar: this.state.calendar.id,
      start: this.state.slot.start,
      duration: this.state.duration,
      name,
      email,
      timezone: this.state.zone,
    };
    if (notes) payload.notes = notes;
    if (this.state.type) payload.type = this.state.type.id;
    const fingerprint = JSON.stringify(payload);
    if (!this.attempt || this.attempt.fingerprint !== fingerprint) this.attempt = { fingerprint, key: uuid() };
    this.book(payload, this.attempt);
  }

  setBusy(busy, label) {
    this.state.busy = busy;
    const button = this.ref.submit;
    button.setAttribute("aria-disabled", busy ? "true" : "false");
    button.textContent = busy ? label : (this.state.rescheduling ? "Move to this time" : "Book this time");
    this.ref.form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async book(payload, attempt) {
    const headers = { "Idempotency-Key": attempt.key };
    if (this.bot.required) {
      if (!this.bot.token) {
        this.setBotError(MESSAGES.botCheck);
        this.showNotice({ title: MESSAGES.invalid, text: MESSAGES.botCheck });
        return;
      }
      headers[BOT_TOKEN_HEADER] = this.bot.token;
    }
    this.setBusy(true, "Booking\u2026");
    this.status("Booking your meeting\u2026");
    try {
      const { data } = await this.api("POST", "bookings", { body: payload, headers });
      this.attempt = null;
      this.showBooking(data.booking, data.token, "confirmed");
    } catch (error) {
      this.bookingFailed(error, payload, attempt);
    } finally {
      this.resetBotCheck(); // the token was spent (or refused): the next attempt needs a fresh one
      this.setBusy(false);
    }
  }

  // --- bot check (Cloudflare Turnstile) ---------------------------------------------------------------------
  setUpBotCheck(botCheck) {
    const wanted = Boolean(botCheck && botCheck.provider === "turnstile" && typeof botCheck.siteKey === "string");
    this.bot.required = wanted;
    this.ref.botCheck.hidden = !wanted;
    if (!wanted || this.bot.widget !== null) return;
    let holder = this.querySelector(":scope > [slot='bot-check']");
    if (!holder) {
      holder = h("div", { slot: "bot-check", class: "cb-bot-check" });
      this.append(holder); // light DOM: Cloudflare's iframe does not need to reach into the shadow root
    }
    this.bot.widget = "loading";
    loadTurnstile()
      .then((turnstile) => {
        this.bot.widget = turnstile.render(holder, {
          sitekey: botCheck.siteKey,
          action: "booking",
          callback: (token) => {
            this.bot.token = token;
            this.setBotError(null);
          },
          "expired-callback": () => { this.bot.token = null; },
          "error-callback": () => { this.bot.token = null; },
        });
      })
      .catch(() => {
        this.bot.widget = null;
        this.setBotError(MESSAGES.botCheckFailed);
      });
  }

  resetBotCheck() {
    if (!this.bot.required) return;
    this.bot.token = null;
    if (window.turnstile && this.bot.widget !== null && this.bot.widget !== "loading") {
      window.turnstile.reset(this.bot.widget);
    }
  }

  setBotError(message) {
    this.ref.botError.textContent = message || "";
    this.ref.botError.hidden = !message;
  }

  bookingFailed(error, payload, attempt) {
    if (error.unavailable) {
      // The booking may or may not have been made: retry with the same key, which can never book twice.
      this.showNotice({
        title: MESSAGES.unavailable,
        text: this.unavailableText(error, MESSAGES.unavailableBooking),
        retry: () => this.book(payload, attempt),
      });
      return;
    }
    this.attempt = null;
    const earlier = error.details && typeof error.details === "object" ? error.details.booking : null;
    if (error.status === 409 && error.code === "request_already_booked" && earlier && typeof earlier === "object") {
      // This very request was booked from another connection: show it; its token stays with the first one.
      this.showBooking(earlier, null, "confirmed");
      return;
    }
    if (error.status === 409 && error.code === "slot_unavailable") {
      this.state.slot = null;
      this.goStep("time", { focus: false });
      this.showNotice({ title: MESSAGES.taken, text: MESSAGES.takenText, kind: "warning" });
      this.loadSlots({ keepNotice: true, live: true }); // the cached availability was behind: ask Google now
      return;
    }
    if (error.status === 400) {
      const items = [];
      let refresh = false;
      for (const [field, expected] of Object.entries(error.fields)) {
        if (field in this.field) {
          const message = FIELD_HINTS[field] || String(expected);
          this.setFieldError(field, message);
          items.push({ label: `${this.labelFor(field)}: ${message}`, target: this.field[field] });
        } else if (field === "start" || field === "duration") {
          const message = typeof expected === "string" && !/pattern|should|RFC 3339/.test(expected)
            ? `${expected} Please pick another time.` : "This time cannot be booked. Please pick another time.";
          this.setSlotError(message);
          items.push({ label: `Time: ${message}`, target: this.ref.slots.querySelector("button") || this.ref.title });
          refresh = true;
        }
      }
      if (refresh) this.goStep("time", { focus: false });
      this.showNotice({ title: MESSAGES.invalid, text: items.length ? "" : error.message, items });
      if (refresh) {
        this.state.slot = null;
        this.loadSlots({ keepNotice: true });
      }
      return;
    }
    if (error.status === 404) {
      this.showNotice({
        title: "This person can no longer be booked",
        text: "The list has been refreshed; please choose again.",
      });
      this.goStep("who", { focus: false });
      this.loadCalendars();
      return;
    }
    this.showNotice({
      title: "The booking did not go through",
      text: error.message,
      retry: () => this.submit(),
    });
  }

  labelFor(field) {
    return { name: "Name", email: "Email", notes: "Notes" }[field] || field;
  }

  // --- confirmation, cancelling, managing ---------------------------------------------------------------------
  calendarName(id) {
    const calendar = this.state.calendars.find((c) => c.id === id);
    return calendar ? String(calendar.name ?? id) : String(id);
  }

  /** Who a booking is with: the member a team booked ("Alice (Sales)"), or a collective team with its members. */
  withWhom(booking) {
    const team = booking.team && this.state.calendars.find((c) => c.id === booking.team && c.kind === "team");
    if (!team) return this.calendarName(booking.calendar);
    const members = Array.isArray(team.members) ? team.members.map((m) => String(m.name ?? m.id)) : [];
    if (team.mode === "collective") return `${String(team.name ?? team.id)} (${members.join(", ")})`;
    const member = team.members?.find((m) => m.id === booking.calendar);
    return `${member ? String(member.name ?? member.id) : this.calendarName(booking.calendar)} (${String(team.name ?? team.id)})`;
  }

  isCollective(booking) {
    return Boolean(booking.team) && this.state.calendars.some((c) => c.id === booking.team && c.mode === "collective");
  }

  showBooking(booking, token, how) {
    this.state.booking = { booking, token };
    const zone = this.state.zone;
    const { ref } = this;
    ref.form.hidden = true;
    ref.result.hidden = false;
    ref.result.dataset.status = booking.status;
    const cancelled = booking.status === "cancelled";
    const pending = booking.status === "pending"; // booking.confirm_email: confirmed through the invitation's link
    const titles = { confirmed: "You\u2019re booked", rescheduled: "Your booking is moved" };
    ref.resultTitle.textContent = cancelled
      ? (how === "cancelled" ? "Your booking is cancelled" : "This booking is cancelled")
      : (pending ? MESSAGES.pending : (titles[how] || "Your booking"));
    const when = `${this.describeSlot(booking, zone)} (${describeZone(zone).short})`;
    ref.resultWhen.textContent = cancelled
      ? `${when} with ${this.withWhom(booking)} \u2014 this time is free again.`
      : `${when} with ${this.withWhom(booking)}.`;
    const calendar = this.state.calendars.find((c) => c.id === booking.calendar);
    ref.resultOther.hidden = true;
    const theirs = calendar && calendar.timezone ? canonicalZone(String(calendar.timezone)) : null;
    if (theirs && theirs !== zone && !cancelled) {
      ref.resultOther.hidden = false;
      ref.resultOther.textContent =
        `That is ${formatTime(booking.start, theirs)} for ${this.calendarName(booking.calendar)} (${describeZone(theirs).short}).`;
    }
    const meet = typeof booking.meetLink === "string" && /^https:\/\//.test(booking.meetLink) ? booking.meetLink : null;
    ref.resultMeet.hidden = !meet || cancelled;
    if (meet) {
      ref.resultMeetLink.href = meet;
      ref.resultMeetLink.textContent = meet;
    }
    ref.resultManage.hidden = cancelled || !token;
    if (token && !cancelled) {
      const url = new URL(window.location.href);
      url.hash = new URLSearchParams({ booking: booking.id, token }).toString();
      ref.resultManageLink.href = url.href;
    }
    ref.resultRef.textContent = `Booking reference: ${booking.id}`;
    ref.cancel.hidden = cancelled || !token;
    ref.reschedule.hidden = cancelled || pending || !token; // a pending booking is confirmed before it moves
    ref.resultActions.hidden = false;
    ref.confirmCancel.hidden = true;
    const kind = this.bookingType(booking);
    const where = kind ? (kind.location ? String(kind.location) : (kind.meet ? "Video call (Google Meet)" : "")) : "";
    ref.resultWhere.hidden = !kind;
    ref.resultWhere.textContent = kind ? [String(kind.name ?? kind.id), where].filter(Boolean).join(" \u00b7 ") : "";
    this.showInvitation(booking, cancelled, how);
    this.showIcs(booking, cancelled, kind);
    this.clearNotice();
    ref.resultTitle.focus();
    this.status(ref.resultTitle.textContent);
    if (how === "kept") return; // back from "reschedule" without moving: nothing happened
    const detail = { booking: { ...booking } };
    const type = cancelled ? "booking-cancelled"
      : (pending ? "booking-pending" : (how === "rescheduled" ? "booking-rescheduled" : "booking-confirmed"));
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** Where Google's invitation went (the answer's `invitation`), or why none was sent. */
  showInvitation(booking, cancelled, how) {
    const { resultInvite } = this.ref;
    const invitation = booking.invitation && typeof booking.invitation === "object" ? booking.invitation : null;
    resultInvite.hidden = !invitation;
    if (!invitation) return;
    const to = typeof invitation.to === "string" ? invitation.to : "your address";
    if (cancelled) {
      resultInvite.textContent = invitation.sent ? `Google Calendar sends the cancellation to ${to}.` : "";
      resultInvite.hidden = !invitation.sent;
      return;
    }
    if (invitation.sent && booking.status === "pending") {
      const by = booking.confirmBy ? ` by ${formatTime(booking.confirmBy, this.state.zone)}` : "";
      resultInvite.textContent = `Google Calendar sent an invitation to ${to}. Confirm the booking with its `
        + `\u201cConfirm\u201d link${by}; until then the time is held for you, after that it is released.`;
      return;
    }
    if (invitation.sent) {
      resultInvite.textContent = how === "rescheduled"
        ? `The new time\u2019s invitation was sent to ${to}; the old one is cancelled.`
        : `An invitation was sent to ${to} from Google Calendar.`;
      return;
    }
    const reasons = {
      company_domain: `No invitation was sent: ${to} is an address of the company itself, which is never invited.`,
      disabled: "No invitation is sent for this calendar.",
      calendar_cannot_invite: "No invitation is sent for this calendar.",
    };
    resultInvite.textContent = `${reasons[invitation.reason] || "No invitation was sent."} Add the meeting to your calendar with the .ics file.`;
  }

  /** An .ics file of the booking (made in the page), for calendars the invitation does not reach. */
  bookingType(booking) {
    const calendar = this.state.calendars.find((c) => c.id === booking.calendar);
    const types = calendar && Array.isArray(calendar.meetingTypes) ? calendar.meetingTypes : [];
    return types.find((t) => t.id === booking.type) || null;
  }

  showIcs(booking, cancelled, type) {
    const { resultIcs, resultIcsLink } = this.ref;
    if (this.icsUrl) URL.revokeObjectURL(this.icsUrl);
    this.icsUrl = null;
    resultIcs.hidden = cancelled;
    if (cancelled) return;
    const title = `${type ? type.name : "Meeting"} with ${this.calendarName(booking.calendar)}`;
    const location = type && type.location ? String(type.location) : (booking.meetLink || "");
    const text = icsCalendar({ uid: `${booking.id}@calendar-booking`, start: booking.start, end: booking.end,
      title, location, description: this.ref.resultManageLink.href ? `Manage: ${this.ref.resultManageLink.href}` : "" });
    this.icsUrl = URL.createObjectURL(new Blob([text], { type: "text/calendar" }));
    resultIcsLink.href = this.icsUrl;
    resultIcsLink.setAttribute("download", `booking-${booking.id.slice(0, 8)}.ics`);
  }

  /** Cancelling asks first (a link opened by a mail scanner, or a slip of the finger, changes nothing). */
  askCancel() {
    const current = this.state.booking;
    if (!current || !current.token || this.state.busy) return;
    const { ref } = this;
    ref.resultActions.hidden = true;
    ref.confirmCancel.hidden = false;
    ref.confirmText.textContent =
      `${this.describeSlot(current.booking)} with ${this.calendarName(current.booking.calendar)} is freed, and the invitation is cancelled.`;
    ref.confirmTitle.focus();
    this.status(ref.confirmTitle.textContent);
  }

  closeCancel() {
    this.ref.confirmCancel.hidden = true;
    this.ref.resultActions.hidden = false;
    this.ref.cancel.focus();
  }

  // --- rescheduling: the same day and time picker, then PATCH /bookings/{id} ------------------------------------
  startReschedule() {
    const current = this.state.booking;
    if (!current || !current.token || this.state.busy) return;
    // A collective booking moves to a time every member is free (the team's slots); any other stays with its
    // calendar (a round-robin booking with the member it booked).
    const own = this.isCollective(current.booking) ? current.booking.team : current.booking.calendar;
    const calendar = this.state.calendars.find((c) => c.id === own);
    if (!calendar) {
      this.showNotice({ title: "This booking cannot be moved here", text: "Its calendar is not offered on this page." });
      return;
    }
    const minutes = Math.round((Date.parse(current.booking.end) - Date.parse(current.booking.start)) / 60000);
    this.state.rescheduling = current;
    this.state.calendar = calendar;
    this.state.duration = Number.isInteger(minutes) && minutes > 0 ? minutes : this.state.duration;
    this.state.slot = null;
    this.state.day = null;
    this.attempt = null;
    const { ref } = this;
    ref.result.hidden = true;
    ref.form.hidden = false;
    ref.detailsGroup.hidden = true;
    ref.keep.hidden = false;
    ref.submit.textContent = "Move to this time";
    ref.title.textContent = `Reschedule your meeting with ${this.calendarName(calendar.id)}`;
    this.state.step = "day";
    this.applySteps();
    this.clearNotice();
    this.renderSummary();
    ref.title.focus();
    this.loadSlots();
  }

  endReschedule() {
    this.state.rescheduling = null;
    this.state.slot = null;
    this.ref.detailsGroup.hidden = false;
    this.ref.keep.hidden = true;
    this.ref.submit.textContent = "Book this time";
    this.ref.title.textContent = this.defaultTitle || "Book a meeting";
    this.state.step = this.steps[0];
    this.applySteps();
  }

  keepTime() {
    const current = this.state.rescheduling;
    this.endReschedule();
    if (current) this.showBooking(current.booking, current.token, "kept");
  }

  async move(current, slot) {
    this.setBusy(true, "Moving\u2026");
    this.status("Moving your booking\u2026");
    try {
      const { data } = await this.api("PATCH", `bookings/${encodeURIComponent(current.booking.id)}`, {
        body: { start: slot.start, duration: this.state.duration },
        headers: { Authorization: `Bearer ${current.token}` },
      });
      this.endReschedule();
      this.showBooking(data.booking, typeof data.token === "string" ? data.token : current.token, "rescheduled");
    } catch (error) {
      this.moveFailed(error, current, slot);
    } finally {
      this.setBusy(false);
    }
  }

  moveFailed(error, current, slot) {
    if (error.unavailable) {
      this.showNotice({
        title: MESSAGES.unavailable,
        text: this.unavailableText(error, "Your booking may not have moved yet. Check your connection and try again."),
        retry: () => this.move(current, slot),
      });
      return;
    }
    if ((error.status === 409 && error.code === "slot_unavailable") || error.status === 400) {
      this.state.slot = null;
      this.goStep("time", { focus: false });
      this.showNotice({
        title: error.status === 409 ? MESSAGES.taken : "This time cannot be booked",
        text: error.status === 409 ? MESSAGES.takenText : `${error.message} Please pick another time.`,
        kind: "warning",
      });
      this.loadSlots({ keepNotice: true, live: error.status === 409, advance: false });
      return;
    }
    this.showNotice({
      title: "Your booking could not be moved",
      text: `${error.message} It is still at ${this.describeSlot(current.booking)}.`,
    });
  }

  async cancel() {
    const current = this.state.booking;
    if (!current || this.state.busy) return;
    this.state.busy = true;
    this.ref.confirmYes.setAttribute("aria-disabled", "true");
    this.status("Cancelling\u2026");
    try {
      const { data } = await this.api("DELETE", `bookings/${encodeURIComponent(current.booking.id)}`, {
        headers: { Authorization: `Bearer ${current.token}` },
      });
      this.showBooking(data.booking, null, "cancelled");
    } catch (error) {
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "The booking could not be cancelled",
        text: error.unavailable
          ? this.unavailableText(error, "Your booking is still in place. Please try again.")
          : error.message,
        retry: () => this.cancel(),
      });
    } finally {
      this.state.busy = false;
      this.ref.confirmYes.removeAttribute("aria-disabled");
    }
  }

  bookAnother() {
    if (this.state.rescheduling) this.endReschedule();
    this.state.booking = null;
    this.state.slot = null;
    this.goStep(this.steps[0], { focus: false });
    this.ref.result.hidden = true;
    this.ref.form.hidden = false;
    this.clearNotice();
    this.ref.title.focus();
    // Back to the person booked before (a reschedule may have switched to another one's calendar).
    if (this.state.calendar && this.state.calendars.includes(this.state.calendar)) this.renderCalendars(this.state.calendar);
    else this.loadSlots();
  }

  async confirmBooking(id, token) {
    this.status("Confirming your booking\u2026");
    try {
      const { data } = await this.api("POST", `bookings/${encodeURIComponent(id)}/confirm`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      this.showBooking(data.booking, null, "confirmed"); // the invitation's links manage it from here
    } catch (error) {
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable
          : (error.code === "confirmation_expired" ? MESSAGES.confirmExpired : "This booking could not be confirmed"),
        text: error.unavailable ? "Please try again in a moment." : error.message,
        retry: error.unavailable ? () => this.confirmBooking(id, token) : null,
      });
    }
  }

  /** `#booking=ID&token=TOKEN` (the link on the confirmation, and the invitation's with `&action=reschedule` or
   * `&action=cancel`) opens that booking; the action opens the picker or the cancel question, never more: only a
   * press of the page's button changes the booking. */
  async openManageLink() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    const id = params.get("booking");
    const token = params.get("token");
    if (!id || !token) return;
    if (params.get("action") === "confirm") {
      // The invitation's confirm link (its own token, which reads nothing): confirm only on a press of the button,
      // so a mail scanner opening the link confirms nothing.
      this.showNotice({
        title: MESSAGES.confirmTitle, text: MESSAGES.confirmText, kind: "warning", retryLabel: "Confirm booking",
        retry: () => this.confirmBooking(id, token),
      });
      return;
    }
    this.status("Loading your booking\u2026");
    try {
      const { data } = await this.api("GET", `bookings/${encodeURIComponent(id)}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      this.showBooking(data.booking, token, "manage");
      const action = params.get("action");
      if (data.booking.status !== "cancelled" && action === "reschedule") this.startReschedule();
      else if (data.booking.status !== "cancelled" && action === "cancel") this.askCancel();
    } catch (error) {
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "This booking link does not work",
        text: error.unavailable ? "Please try again in a moment." : error.message,
        retry: error.unavailable ? () => this.openManageLink() : null,
      });
    }
  }
}

// --- .ics -----------------------------------------------------------------------------------------------------
/** An iCalendar (RFC 5545) file with one event; times in UTC, text escaped, lines folded at 75 octets. */
function icsCalendar({ uid, start, end, title, location, description }) {
  const stamp = (value) => new Date(value).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const text = (value) => String(value).replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,")
    .replace(/\r?\n/g, "\\n");
  const lines = [
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calendar-booking//booking page//EN", "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH", "BEGIN:VEVENT", `UID:${text(uid)}`, `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`, `SUMMARY:${text(title)}`,
  ];
  if (location) lines.push(`LOCATION:${text(location)}`);
  if (description) lines.push(`DESCRIPTION:${text(description)}`);
  lines.push("END:VEVENT", "END:VCALENDAR");
  const encoder = new TextEncoder();
  const fold = (line) => {
    const parts = [];
    let current = "";
    for (const char of line) {
      if (encoder.encode(current + char).length > (parts.length ? 74 : 75)) {
        parts.push(current);
        current = "";
      }
      current += char;
    }
    parts.push(current);
    return parts.join("\r\n ");
  };
  return `${lines.map(fold).join("\r\n")}\r\n`;
}

if (!customElements.get("calendar-booking")) customElements.define("calendar-booking", CalendarBooking);

// One script tag: <script type="module" src=".../booking-widget.js" data-api="..."> puts a widget right after itself.
for (const script of document.querySelectorAll("script[data-api]")) {
  if (script.src !== import.meta.url || script.dataset.mounted) continue;
  script.dataset.mounted = "true";
  const widget = document.createElement("calendar-booking");
  widget.setAttribute("api", script.dataset.api);
  if (script.dataset.calendar) widget.setAttribute("calendar", script.dataset.calendar);
  if (script.dataset.days) widget.setAttribute("days", script.dataset.days);
  script.after(widget);
}
